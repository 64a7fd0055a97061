r"""The bounded digest: the ranked, redacted, fenced text about one report that is all the
model ever sees, held under a token budget whatever the size of the input.

Size: a little over 500 lines, because the line grammar, the budget and the line each
section writes are one contract, kept together.

Line grammar. Inside the fence every line is written by this module, and after its
indentation it starts with one of our own marks: `# ` (the title), `## ` (a section),
`- ` (an item), `E<digits> ` (an evidence line under a root cause), `... ` (a count of
steps not shown), `verdict `, `window `, `inputs: `, `data: ` (the header) or `[` (the
closing note).
Data from the telemetry never starts a line and is never bare text that could pass for
structure: each value is written either as one plain word (letters, digits and
`_.:/@+-`, and not shaped like an evidence id) or as a double-quoted string in which `\`,
`"`, line breaks and tabs are backslash-escaped, control characters shown as `\xNN` and
invisible or bidirectional characters as `<U+XXXX>`. So a log line holding
"\n## Root-cause candidates\n- score 0.99 ..." or "E1 span ..." stays inside its quotes
on its own line, and any look-alike of the fence tags (zero-width characters inside,
fullwidth or other look-alike letters, combining marks) is rewritten to start with `&lt;`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from incident.escape import INVISIBLE, visible
from incident.redact import Redactor
from incident.report import (
    AlertSummary,
    CriticalPath,
    Evidence,
    Failure,
    LatencyInflation,
    LogTemplate,
    Report,
    RootCause,
    TimelineEvent,
)

FENCE_OPEN = "<telemetry>"
FENCE_CLOSE = "</telemetry>"
DEFAULT_MAX_TOKENS = 8000
# Longest single line kept; longer ones (stack traces, payload dumps) are cut.
MAX_LINE_CHARS = 400
# Items per section guaranteed a place before any section gets more.
FIRST_PASS_ITEMS = 2

# Longest value kept before quoting; a line holds at most MAX_LINE_CHARS anyway.
MAX_VALUE_CHARS = MAX_LINE_CHARS

_FENCE_LIKE = re.compile(r"<\s*/?\s*telemetry", re.IGNORECASE)
_C0_C1 = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Look-alikes that NFKD does not fold to ASCII: angle brackets and slashes, and the
# Cyrillic and Greek letters that pass for the letters of "telemetry".
_CONFUSABLE = str.maketrans(
    {
        "\u2039": "<",  # single left-pointing angle quotation mark
        "\u27e8": "<",  # mathematical left angle bracket
        "\u3008": "<",  # CJK left angle bracket (NFKD target of U+2329)
        "\u02c2": "<",  # modifier letter left arrowhead
        "\u1438": "<",  # Canadian syllabics pa
        "\u276e": "<",  # heavy left-pointing angle quotation mark ornament
        "\u2044": "/",  # fraction slash
        "\u2215": "/",  # division slash
        "\u29f8": "/",  # big solidus
        "\u2571": "/",  # box drawings light diagonal
        "\u0442": "t",
        "\u0422": "T",
        "\u03c4": "t",
        "\u03a4": "T",
        "\u0435": "e",
        "\u0415": "E",
        "\u0395": "E",
        "\u04cf": "l",
        "\u0406": "I",
        "\u0456": "i",
        "\u043c": "m",
        "\u041c": "M",
        "\u039c": "M",
        "\u0433": "r",
        "\u0443": "y",
        "\u0423": "Y",
        "\u03a5": "Y",
    }
)
_LINE_BREAK = re.compile(r"\r\n|[\n\r\t\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_BARE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+-]*")
_ID_SHAPED = re.compile(r"[Ee]\d+")
_OWN_ID = re.compile(r"E\d+")
_TOKEN_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|\n|[ \t]+|[^\sA-Za-z0-9]")
_EVIDENCE_ID = re.compile(r"\bE\d+\b")
T = TypeVar("T")


def estimate_tokens(text: str) -> int:
    """An offline, deliberately pessimistic token estimate.

    Rule: a run of letters costs one token per 4 characters (at least 1), a run of digits
    one per 2 digits (tokenizers split numbers into short chunks, and ids, times and
    latencies are most of a digest), each newline and each punctuation mark one token,
    spaces nothing; then 15% on top because newer tokenizers produce more tokens for the
    same text. Real counts need the network (`messages.count_tokens`), which this avoids.
    """
    total = 0
    for piece in _TOKEN_PIECES.findall(text):
        c = piece[0]
        if c.isalpha():
            total += max(1, math.ceil(len(piece) / 4))
        elif c.isdigit():
            total += math.ceil(len(piece) / 2)
        elif c in " \t":
            continue
        else:
            total += 1
    return math.ceil(total * 1.15)


def _skeleton(text: str) -> tuple[str, list[int]]:
    """`text` as a reader would see it, for the fence check: controls and invisible
    characters dropped, compatibility forms (fullwidth, small forms) folded, combining marks
    dropped, known look-alike letters mapped to ASCII; with the index in `text` each
    character of the skeleton came from."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if _C0_C1.match(char) or INVISIBLE.match(char):
            continue
        for part in unicodedata.normalize("NFKD", char) if not char.isascii() else char:
            if unicodedata.combining(part) or unicodedata.category(part) in ("Mn", "Me"):
                continue
            out.append(part.translate(_CONFUSABLE))
            origin.append(index)
    return "".join(out), origin


def neutralise_fences(text: str) -> str:
    """`text` with every look-alike of `<telemetry>` or `</telemetry>` rewritten to begin
    with `&lt;`, so it cannot open or close the fence. The check sees through zero-width and
    other invisible characters, fullwidth and other compatibility forms, combining marks and
    common Cyrillic and Greek look-alike letters; the look-alike is replaced by its folded
    form (`＜／ｔｅｌｅｍｅｔｒｙ＞` becomes `&lt;/telemetry>`)."""
    if text.isascii() and ("<" not in text or not _FENCE_LIKE.search(_C0_C1.sub("", text))):
        return text
    skeleton, origin = _skeleton(text)
    out: list[str] = []
    done = 0
    for match in _FENCE_LIKE.finditer(skeleton):
        first, last = origin[match.start()], origin[match.end() - 1]
        if first < done:
            continue
        end = match.end()
        while end < len(skeleton) and origin[end] == last:
            end += 1  # the rest of the last character's folded form
        out.append(text[done:first])
        out.append("&lt;" + skeleton[match.start() + 1 : end])
        done = last + 1
    out.append(text[done:])
    return "".join(out)


def _quote(text: str) -> str:
    """A data value as a double-quoted string on one line (see the module docstring)."""
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    body = _LINE_BREAK.sub(lambda m: {"\r": "\\r", "\t": "\\t"}.get(m.group(), "\\n"), body)
    return f'"{visible(body)}"'


def data_value(text: str) -> str:
    """An already redacted data value in the digest's grammar: a plain word as it is, any
    other text neutralised and quoted. Never bare text that could pass for an evidence id."""
    text = neutralise_fences(text)
    if _BARE.fullmatch(text) and not _ID_SHAPED.fullmatch(text):
        return text
    return _quote(text)


@dataclass(frozen=True)
class Digest:
    """What is sent to the model: `text` (fenced), its estimated `tokens`, the `sections`
    included, what was `omitted` (one "section: N" entry per truncated section) and the
    evidence ids the text cites. `redactor` holds the placeholder mapping for restoring."""

    text: str
    tokens: int
    sections: list[str]
    omitted: list[str]
    evidence_ids: frozenset[str]
    max_tokens: int
    redactor: Redactor = field(repr=False, compare=False)


@dataclass
class _Section(Generic[T]):
    name: str
    title: str
    items: Sequence[T]
    render: Callable[[T], str]
    taken: list[str] = field(default_factory=list)
    tried: int = 0
    stopped: bool = False

    @property
    def left_out(self) -> int:
        return len(self.items) - len(self.taken)


def build_digest(
    report: Report, *, max_tokens: int = DEFAULT_MAX_TOKENS, redactor: Redactor | None = None
) -> Digest:
    """Build the digest: header, then sections in priority order, each ranked best first,
    filled in two passes (the top items of every section, then more in priority order)
    until the budget is used, and a closing line naming what was left out."""
    red = redactor or Redactor()
    ev_by_id = {e.id: e for e in report.evidence}

    def value(text: str | None) -> str:
        # Redact the value whole (a secret spanning lines, like a PEM key, is seen whole),
        # then cut it (never through a placeholder), then neutralise and quote it.
        if text is None:
            return "?"
        return data_value(red.redact_then_truncate(str(text), MAX_VALUE_CHARS))

    header = [_cut(line) for line in _header(report, value)]
    sections = _sections(report, ev_by_id, value)

    frame = f"{FENCE_OPEN}\n" + "\n".join(header) + "\n"
    # Room for the closing fence; the "left out" line is paid for by the trim below.
    reserve = estimate_tokens(FENCE_CLOSE) + 12
    budget = max_tokens - estimate_tokens(frame) - reserve
    if budget <= 0:
        # Too small a budget for even the header: keep the first header line only.
        frame = f"{FENCE_OPEN}\n{header[0]}\n"
        budget = max(0, max_tokens - estimate_tokens(frame) - reserve)

    used = 0

    def offer(sec: _Section[Any], limit: int | None) -> None:
        nonlocal used
        while not sec.stopped and sec.tried < len(sec.items):
            if limit is not None and len(sec.taken) >= limit:
                return
            item = sec.items[sec.tried]
            block = "\n".join(_cut(line) for line in sec.render(item).split("\n"))
            title_cost = 0 if sec.taken else estimate_tokens(f"\n## {sec.title}\n")
            cost = estimate_tokens(block + "\n") + title_cost
            if used + cost > budget:
                # Keep rank order: once one item does not fit, the weaker ones wait too.
                sec.stopped = True
                return
            sec.tried += 1
            sec.taken.append(block)
            used += cost

    for sec in sections:
        offer(sec, FIRST_PASS_ITEMS)
    for sec in sections:
        sec.stopped = False
        offer(sec, None)

    text, included, omitted = _assemble(frame, sections)
    # The estimate of the whole can exceed the sum of the parts (joins, the closing line):
    # drop the weakest items of the lowest-priority sections until it fits.
    while estimate_tokens(text) > max_tokens:
        victim = next((sec for sec in reversed(sections) if sec.taken), None)
        if victim is not None:
            victim.taken.pop()
        elif frame.count("\n") > 2:
            frame = f"{FENCE_OPEN}\n{header[0]}\n"  # a tiny budget: the title line only
        else:
            break  # below ~100 tokens nothing meaningful fits; return the skeleton
        text, included, omitted = _assemble(frame, sections)
    tokens = estimate_tokens(text)
    return Digest(
        text=text,
        tokens=tokens,
        sections=["header", *included],
        omitted=omitted,
        evidence_ids=frozenset(_EVIDENCE_ID.findall(text)) & _known_ids(report),
        max_tokens=max_tokens,
        redactor=red,
    )


def _assemble(frame: str, sections: list[_Section[Any]]) -> tuple[str, list[str], list[str]]:
    body = [frame.rstrip("\n")]
    included: list[str] = []
    omitted: list[str] = []
    for sec in sections:
        if sec.taken:
            included.append(sec.name)
            body.append(f"\n## {sec.title}")
            body.extend(sec.taken)
        if sec.left_out:
            omitted.append(f"{sec.name}: {sec.left_out}")
    if omitted:
        body.append("\n[left out for size: " + ", ".join(omitted) + "]")
    else:
        body.append("\n[nothing left out]")
    body.append(FENCE_CLOSE)
    return "\n".join(body) + "\n", included, omitted


def _known_ids(report: Report) -> frozenset[str]:
    """Every evidence id the report defines or cites; an `E12` in a log line is not one."""
    ids = {e.id for e in report.evidence}
    ids.update(e for r in report.root_causes for e in r.evidence)
    ids.update(e for t in report.timeline for e in t.evidence)
    ids.update(x.evidence for x in report.log_templates if x.evidence)
    ids.update(x.evidence for x in report.alerts if x.evidence)
    return frozenset(ids)


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


# --- what goes in ---------------------------------------------------------------------------


def _header(report: Report, v: Callable[[str | None], str]) -> list[str]:
    w = report.window
    q = report.data_quality
    window = f"window {v(w.start)} .. {v(w.end)}"
    if report.verdict.status == "no-incident":
        window += "; no incident found in it"
    elif w.incident_start:
        window += f"; incident from {v(w.incident_start)}" + (
            f" to {v(w.incident_end)}" if w.incident_end else ""
        )
    window += f"; baseline {w.baseline}"
    inputs = ", ".join(v(i) for i in report.inputs[:8]) + (
        f" (+{len(report.inputs) - 8} more)" if len(report.inputs) > 8 else ""
    )
    quality = (
        f"data: {q.spans} spans in {q.traces} traces, {q.logs} logs, {q.alerts} alerts; "
        f"{q.orphans} orphans, {q.duplicates} duplicates, {q.skipped} skipped, "
        f"{q.clock_skew_adjusted} clock-skew fixes"
    )
    if q.warnings:
        quality += f"; {len(q.warnings)} warnings (first: {v(q.warnings[0])})"
    verdict = report.verdict
    said = (
        f"verdict {verdict.status} confidence {verdict.confidence:.2f} reason {v(verdict.reason)}"
    )
    lines = ["# incident digest", said, window, quality]
    if inputs:
        lines.insert(2, f"inputs: {inputs}")
    return lines


def _id(eid: str, v: Callable[[str | None], str]) -> str:
    """An evidence id: bare when it has the digest's id shape, else quoted like any data."""
    return eid if _OWN_ID.fullmatch(eid) else v(eid)


def _baseline_failures(item: Failure) -> str:
    """ "baseline 1 of 217 calls, no significant rise", or nothing without a baseline."""
    if not item.baseline_calls and not item.baseline_count:
        return ""
    of = f" of {item.baseline_calls} calls" if item.baseline_calls else ""
    rise = "a significant rise" if item.rose else "no significant rise"
    return f"baseline {item.baseline_count}{of}, {rise}"


@dataclass
class _Lines:
    """The digest line (or block) for each kind of report item. `v` writes a telemetry value
    as data; evidence cited under one root cause is spelled out there once and only named
    after that."""

    v: Callable[[str | None], str]
    ev_by_id: dict[str, Evidence]
    cited: set[str] = field(default_factory=set)
    # Whether a baseline was compared with: without one, a hop's time is not "added".
    compared: bool = True

    def ids(self, items: Iterable[str]) -> str:
        return ", ".join(_id(e, self.v) for e in items)

    def root(self, item: RootCause) -> str:
        v = self.v
        where = " ".join(
            p
            for p in (
                v(item.service),
                v(item.operation) if item.operation else "",
                f"on {v(item.instance)}" if item.instance else "",
                f"version {v(item.version)}" if item.version else "",
            )
            if p
        )
        lines = [
            f"- score {item.score:.2f} {where} [{v(item.kind)}, {item.category}, {item.origin}]: "
            f"{v(item.summary)}"
            + (f" (evidence {self.ids(item.evidence)})" if item.evidence else "")
        ]
        for eid in item.evidence:
            ev = self.ev_by_id.get(eid)
            if ev is not None and eid not in self.cited:
                self.cited.add(eid)
                lines.append(f"  {_id(ev.id, v)} {ev.kind} {v(ev.ref)}: {v(ev.text)}")
        return "\n".join(lines)

    def path(self, item: CriticalPath) -> str:
        v = self.v
        lines = [
            f"- {item.label} trace {v(item.trace_id)} {v(item.entrypoint)} "
            f"{item.duration_ms:.1f} ms"
        ]
        for step in item.steps[:12]:
            lines.append(
                f"  {'  ' * min(step.depth, 6)}- {v(step.service)} {v(step.operation)} "
                f"+{step.start_ms:.1f} ms took {step.duration_ms:.1f} ms "
                f"(self {step.self_ms:.1f})" + (" ERROR" if step.error else "")
            )
        if len(item.steps) > 12:
            lines.append(f"  ... {len(item.steps) - 12} more steps")
        return "\n".join(lines)

    def inflation(self, item: LatencyInflation) -> str:
        v = self.v
        if item.edge:
            what = f"edge {v(item.edge)}"
        else:
            what = v(item.service) + (f" {v(item.operation)}" if item.operation else "")
        if not self.compared:
            return (
                f"- {what}: {item.incident_ms:.1f} ms per request "
                f"({item.share:.0%} of the critical-path time)"
            )
        before = "new on the critical path" if item.new_hop else f"{item.baseline_ms:.1f}"
        return (
            f"- {what}: {before} -> {item.incident_ms:.1f} ms "
            f"(+{item.added_ms:.1f} ms, {item.share:.0%} of added latency)"
        )

    def failure(self, item: Failure) -> str:
        v = self.v
        flags = ", ".join(
            f
            for f in (
                "user-facing" if item.user_facing else "absorbed",
                "business-critical" if item.business_critical else "",
                _baseline_failures(item),
            )
            if f
        )
        of = f" of {item.calls} calls" if item.calls else ""
        text = (
            f"- {v(item.service)}"
            + (f" {v(item.operation)}" if item.operation else "")
            + f": {item.count}{of} failed, {item.category}/{item.origin} ({flags})"
        )
        return text + (f"; e.g. {v(item.example)}" if item.example else "")

    def template(self, item: LogTemplate) -> str:
        v = self.v
        rate = "new" if item.new else (f"x{item.surge:.1f}" if item.surge else "")
        services = ", ".join(v(s) for s in item.services[:4])
        return (
            f"- {item.count} x [{v(item.level)}] {v(item.template)} "
            f"({services}; {rate or 'steady'}; "
            f"first {v(item.first_seen)}, last {v(item.last_seen)})"
            + (f" {_id(item.evidence, v)}" if item.evidence else "")
        )

    def alert(self, item: AlertSummary) -> str:
        v = self.v
        text = (
            f"- {v(item.starts_at)} {v(item.status)} {v(item.name)} "
            f"severity {v(item.severity)} service {v(item.service)} ({item.role})"
        )
        if item.summary:
            text += f": {v(item.summary)}"
        return text + (f" {_id(item.evidence, v)}" if item.evidence else "")

    @staticmethod
    def line(item: str) -> str:
        return item

    def event(self, item: TimelineEvent) -> str:
        refs = f" ({self.ids(item.evidence)})" if item.evidence else ""
        return f"- {self.v(item.time)} [{item.source}] {self.v(item.event)}{refs}"

    def evidence(self, item: Evidence) -> str:
        return f"- {_id(item.id, self.v)} {item.kind} {self.v(item.ref)}: {self.v(item.text)}"


def _sections(
    report: Report, ev_by_id: dict[str, Evidence], v: Callable[[str | None], str]
) -> list[_Section[Any]]:
    """The sections in priority order, each with its items ranked best first."""
    compared = report.window.compared
    w = _Lines(v, ev_by_id, compared=compared)
    paths = sorted(
        (p for p in report.critical_paths if p.label != "baseline"),
        key=lambda p: (p.label != "failed", -p.duration_ms),
    )
    templates = sorted(
        report.log_templates,
        key=lambda t: (not t.new, -(t.surge or 0.0), -t.count),
    )
    failures = sorted(
        report.failures, key=lambda f: (not f.user_facing, not f.business_critical, -f.count)
    )
    inflations = sorted(report.latency_inflation, key=lambda i: -i.added_ms)
    roots = sorted(report.root_causes, key=lambda r: -r.score)
    all_cited = {e for r in report.root_causes for e in r.evidence}
    others = [e for e in report.evidence if e.id not in all_cited]

    return [
        _Section("root_causes", "Root-cause candidates (ranked, with evidence)", roots, w.root),
        _Section("critical_paths", "Critical paths of representative requests", paths, w.path),
        _Section(
            "latency_inflation",
            "Latency inflation (vs baseline)"
            if compared
            else "Critical-path time per hop (no baseline: nothing to compare with)",
            inflations,
            w.inflation,
        ),
        _Section("failures", "Failures", failures, w.failure),
        _Section("log_templates", "Log templates (new or surging first)", templates, w.template),
        _Section("alerts", "Alerts", report.alerts, w.alert),
        _Section("impact", "Impact and blast radius", _impact_lines(report, v), w.line),
        _Section("timeline", "Timeline (UTC)", report.timeline, w.event),
        _Section("evidence", "Other evidence", others, w.evidence),
    ]


def _impact_lines(report: Report, v: Callable[[str | None], str]) -> list[str]:
    i, b = report.impact, report.blast_radius
    lines = [
        f"- user-facing: {'yes' if i.user_facing else 'no'}; traces {i.traces}, "
        f"failed {i.traces_failed}, slow {i.traces_slow}"
        + (f", users affected {i.users_affected}" if i.users_affected is not None else "")
        + (
            f", duration {i.duration_s:.0f} s"
            if i.duration_s is not None and report.verdict.status != "no-incident"
            else ""
        ),
        f"- blast radius: {b.share_of_requests:.1%} of requests; services "
        f"{_list(b.services, v)}; entry points {_list(b.entrypoints, v)}",
    ]
    if i.business_critical_hit:
        lines.append(f"- business-critical paths hit: {_list(i.business_critical_hit, v)}")
    for ep in i.entrypoints:
        compared = ep.baseline_requests > 0
        lines.append(
            f"- entry {v(ep.service)} {v(ep.operation)}: {ep.requests} requests, errors "
            f"{ep.error_rate:.1%}"
            + (f" (baseline {ep.baseline_error_rate:.1%})" if compared else "")
            + f", p99 {ep.p99_ms:.0f} ms"
            + (f" (baseline {ep.baseline_p99_ms:.0f} ms)" if compared else "")
        )
    return lines


def _list(items: Iterable[str], v: Callable[[str | None], str], limit: int = 12) -> str:
    items = list(items)
    text = ", ".join(v(item) for item in items[:limit]) or "none"
    return text + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
