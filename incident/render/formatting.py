"""Small formatting helpers shared by the Markdown, console and triage renderers: times in
UTC, durations, percentages, Markdown escaping and tables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from incident.escape import http_url, visible
from incident.report import CriticalPath, LatencyInflation, Report, Verdict


def format_ms(value: float) -> str:
    """Milliseconds for people: one decimal below 10 ms, whole numbers above, seconds past 10 s."""
    if abs(value) >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value and abs(value) < 0.1:
        return "<0.1 ms"
    if abs(value) < 10:
        return f"{value:.1f} ms"
    return f"{value:,.0f} ms"


def before_ms(row: LatencyInflation) -> str:
    """A hop's baseline time per request; "new" for a hop on no baseline critical path."""
    return "new" if row.new_hop else format_ms(row.baseline_ms)


def format_duration(seconds: float) -> str:
    """A duration as 1h 2m, 3m 4s or 5.6s."""
    seconds = abs(seconds)
    if 0 < seconds < 0.1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.001 else "<1 ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def format_pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def felt_by(user_facing: bool, category: str) -> str:
    """Who felt a failure: users, nobody because a fallback absorbed it, or only the system."""
    if user_facing:
        return "user-facing"
    return "absorbed" if category == "partial" else "internal"


def format_change(new: bool, surge: float | None) -> str:
    """How a log template's rate moved against the baseline: new, up xN, or down xN."""
    if new:
        return "new"
    if not surge:
        return ""
    return f"x{surge:.1f}" if surge >= 1 else f"fewer (x{surge:.1f})"


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time from the report, or None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def utc(text: str | None) -> str:
    """A report time shown in UTC with a trailing Z, whatever offset it was written with."""
    if not text:
        return "—"
    parsed = parse_time(text)
    if parsed is None or parsed.tzinfo is None:
        return text
    offset = parsed.utcoffset()
    if offset is not None and offset.total_seconds() == 0 and text.endswith("Z"):
        return text
    as_utc = parsed.astimezone(UTC)
    return as_utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{as_utc.microsecond // 1000:03d}Z"


def time_key(text: str | None) -> float:
    """A sort key for report times: seconds since the epoch, unknown times last."""
    parsed = parse_time(text)
    if parsed is None or parsed.tzinfo is None:
        return float("inf")
    return parsed.timestamp()


def representative_path(report: Report) -> CriticalPath | None:
    """The critical path worth drawing: a slow request first, then a failed one, then a
    typical one (when no request was slow)."""
    for label in ("slow", "failed", "typical", "baseline"):
        for path in report.critical_paths:
            if path.label == label and path.steps:
                return path
    return None


def evidence_refs(ids: Iterable[str]) -> str:
    return " ".join(f"[{md_escape(i)}]" for i in ids)


# --- Markdown escaping --------------------------------------------------------------------

# Backslash first is implied by the single pass: every special character gets one backslash.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<~])")
# Underscores emphasise only at word edges in GFM; escaping them inside names is noise.
_MD_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# "1. " or "1) " at the start of a line opens an ordered list.
_MD_ORDERED = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_BACKTICKS = re.compile(r"`+")


def md_escape(text: str | None) -> str:
    """Data text safe inside a Markdown paragraph or table cell on GitHub: one line, control
    and invisible characters visible, no HTML (`<` and `&` escaped), no link or image (`[`
    and `]` escaped, so `(` cannot follow a link text), no code span, emphasis, strike or
    table cell break, and nothing that opens a heading, quote or list at the start.

    `<` matters most: redaction placeholders like <email:1> would otherwise be read as
    autolinks or HTML and vanish.
    """
    if text is None:
        return ""
    flat = " ".join(visible(str(text)).split())
    escaped = _MD_SPECIAL.sub(r"\\\1", flat)
    escaped = _MD_EDGE_UNDERSCORE.sub(r"\\_", escaped)
    escaped = escaped.replace("&", "&amp;")
    if escaped[:1] in ("#", ">", "-", "+", "="):
        escaped = "\\" + escaped
    escaped = _MD_ORDERED.sub(r"\1\\\2", escaped)
    return escaped.replace("|", "\\|")


def md_code(text: str | None, *, in_table: bool = False) -> str:
    """Data text as an inline code span that it cannot close: the fence is one backtick
    longer than the longest run of backticks inside, padded when the text starts or ends
    with one. In a table cell `|` is escaped, which GFM requires even inside code."""
    body = visible("" if text is None else str(text))
    if in_table:
        body = body.replace("|", "\\|")
    if not body.strip():
        return "` `"
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body[0] in "` " or body[-1] in "` " else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def md_link(url: str | None, *, in_table: bool = False) -> str:
    """A URL from the data: a live autolink only for an http(s) URL (percent-encoded so it
    cannot end the link early); anything else, javascript: and data: included, is shown
    as inert code."""
    target = http_url(url)
    if target is None:
        return md_code(url, in_table=in_table)
    return f"<{target}>"


def prose(text: str) -> str:
    """Multi-line model or user text: paragraphs kept, control and invisible characters
    visible, HTML and entities neutralised, no link or image (brackets escaped), and
    nothing that could open a heading or a code fence and swallow the sections that follow.
    Emphasis and inline code are kept: they cannot reach outside the text."""
    out = []
    for raw in visible(text, multiline=True).strip().splitlines():
        line = (
            raw.rstrip()
            .replace("\\", "\\\\")
            .replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace("[", "\\[")
            .replace("]", "\\]")
            .replace("```", "\\`\\`\\`")
            .replace("~~~", "\\~\\~\\~")
        )
        if line.lstrip().startswith(("#", "===", "---")):
            line = "\\" + line.lstrip()
        out.append(line)
    return "\n".join(out)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A GitHub table; `align` is one letter per column (l, r, c), left by default."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    spec = [marks[align[i]] if i < len(align) else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(spec) + " |"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(out)


def md_none(text: str) -> str:
    return f"_{text}_"


def where(service: str, operation: str | None) -> str:
    return f"{service} {operation}" if operation else service


def shown_alternatives(v: Verdict) -> tuple[str, list[str]]:
    """The label for a verdict's alternatives and each as shown: one whose fact the
    reason already states is named alone ("x (as above)"), not said twice."""
    label = "Not ruled out" if v.status == "incident" else "Candidates still in play"
    shown: list[str] = []
    for alternative in v.alternatives:
        name, sep, fact = alternative.partition(": ")
        repeated = bool(sep and fact) and fact.rstrip(".") in v.reason
        shown.append(f"{name} (as above)" if repeated else alternative)
    return label, shown
