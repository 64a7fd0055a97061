"""The bounded digest: the ranked, redacted, fenced text about one report that is all the
model ever sees, held under a token budget whatever the size of the input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

_FENCE_LIKE = re.compile(r"<(\s*/?\s*telemetry)", re.IGNORECASE)
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

    def clean(text: str) -> str:
        line = red.redact_text(text)
        line = _FENCE_LIKE.sub(r"&lt;\1", line)
        return line

    header = [_cut(clean(line)) for line in _header(report)]
    sections = _sections(report, ev_by_id)

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
            # Redact the item whole, so a secret spanning lines (a PEM key) is seen whole.
            block = "\n".join(_cut(line) for line in clean(sec.render(item)).splitlines())
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


def _header(report: Report) -> list[str]:
    w = report.window
    q = report.data_quality
    window = f"window {w.start or '?'} .. {w.end or '?'}"
    if w.incident_start:
        window += f"; incident from {w.incident_start}" + (
            f" to {w.incident_end}" if w.incident_end else ""
        )
    window += f"; baseline {w.baseline}"
    inputs = ", ".join(report.inputs[:8]) + (
        f" (+{len(report.inputs) - 8} more)" if len(report.inputs) > 8 else ""
    )
    quality = (
        f"data: {q.spans} spans in {q.traces} traces, {q.logs} logs, {q.alerts} alerts; "
        f"{q.orphans} orphans, {q.duplicates} duplicates, {q.skipped} skipped, "
        f"{q.clock_skew_adjusted} clock-skew fixes"
    )
    if q.warnings:
        quality += f"; {len(q.warnings)} warnings (first: {q.warnings[0]})"
    lines = ["# incident digest", window, quality]
    if inputs:
        lines.insert(2, f"inputs: {inputs}")
    return lines


def _sections(report: Report, ev_by_id: dict[str, Evidence]) -> list[_Section[Any]]:
    cited: set[str] = set()

    def root(item: RootCause) -> str:
        where = " ".join(
            p
            for p in (
                item.service,
                item.operation or "",
                f"on {item.instance}" if item.instance else "",
                f"version {item.version}" if item.version else "",
            )
            if p
        )
        lines = [
            f"- score {item.score:.2f} {where} [{item.kind}, {item.category}, {item.origin}]: "
            f"{item.summary}" + (f" (evidence {', '.join(item.evidence)})" if item.evidence else "")
        ]
        for eid in item.evidence:
            ev = ev_by_id.get(eid)
            if ev is not None and eid not in cited:
                cited.add(eid)
                lines.append(f"  {ev.id} {ev.kind} {ev.ref}: {ev.text}")
        return "\n".join(lines)

    def path(item: CriticalPath) -> str:
        lines = [
            f"- {item.label} trace {item.trace_id} {item.entrypoint} {item.duration_ms:.1f} ms"
        ]
        for step in item.steps[:12]:
            lines.append(
                f"  {'  ' * min(step.depth, 6)}{step.service} {step.operation} "
                f"+{step.start_ms:.1f} ms took {step.duration_ms:.1f} ms "
                f"(self {step.self_ms:.1f})" + (" ERROR" if step.error else "")
            )
        if len(item.steps) > 12:
            lines.append(f"  ... {len(item.steps) - 12} more steps")
        return "\n".join(lines)

    def inflation(item: LatencyInflation) -> str:
        what = f"edge {item.edge}" if item.edge else f"{item.service} {item.operation or ''}"
        return (
            f"- {what.strip()}: {item.baseline_ms:.1f} -> {item.incident_ms:.1f} ms "
            f"(+{item.added_ms:.1f} ms, {item.share:.0%} of added latency)"
        )

    def failure(item: Failure) -> str:
        flags = ", ".join(
            f
            for f in (
                "user-facing" if item.user_facing else "absorbed",
                "business-critical" if item.business_critical else "",
                f"baseline {item.baseline_count}" if item.baseline_count else "",
            )
            if f
        )
        text = (
            f"- {item.service} {item.operation or ''}".rstrip()
            + f": {item.count} x {item.category}/{item.origin} ({flags})"
        )
        return text + (f"; e.g. {item.example}" if item.example else "")

    def template(item: LogTemplate) -> str:
        rate = "new" if item.new else (f"x{item.surge:.1f}" if item.surge else "")
        return (
            f"- {item.count} x [{item.level or '?'}] {item.template} "
            f"({', '.join(item.services[:4])}; {rate or 'steady'}; "
            f"first {item.first_seen or '?'}, last {item.last_seen or '?'})"
            + (f" {item.evidence}" if item.evidence else "")
        )

    def alert(item: AlertSummary) -> str:
        text = (
            f"- {item.starts_at or '?'} {item.status} {item.name} "
            f"severity {item.severity or '?'} service {item.service or '?'} ({item.role})"
        )
        if item.summary:
            text += f": {item.summary}"
        return text + (f" {item.evidence}" if item.evidence else "")

    def line(item: str) -> str:
        return item

    def event(item: TimelineEvent) -> str:
        ids = f" ({', '.join(item.evidence)})" if item.evidence else ""
        return f"- {item.time} [{item.source}] {item.event}{ids}"

    def evidence(item: Evidence) -> str:
        return f"- {item.id} {item.kind} {item.ref}: {item.text}"

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
        _Section("root_causes", "Root-cause candidates (ranked, with evidence)", roots, root),
        _Section("critical_paths", "Critical paths of representative requests", paths, path),
        _Section("latency_inflation", "Latency inflation (vs baseline)", inflations, inflation),
        _Section("failures", "Failures", failures, failure),
        _Section("log_templates", "Log templates (new or surging first)", templates, template),
        _Section("alerts", "Alerts", report.alerts, alert),
        _Section("impact", "Impact and blast radius", _impact_lines(report), line),
        _Section("timeline", "Timeline (UTC)", report.timeline, event),
        _Section("evidence", "Other evidence", others, evidence),
    ]


def _impact_lines(report: Report) -> list[str]:
    i, b = report.impact, report.blast_radius
    lines = [
        f"- user-facing: {'yes' if i.user_facing else 'no'}; traces {i.traces}, "
        f"failed {i.traces_failed}, slow {i.traces_slow}"
        + (f", users affected {i.users_affected}" if i.users_affected is not None else "")
        + (f", duration {i.duration_s:.0f} s" if i.duration_s is not None else ""),
        f"- blast radius: {b.share_of_requests:.1%} of requests; services "
        f"{_list(b.services)}; entry points {_list(b.entrypoints)}",
    ]
    if i.business_critical_hit:
        lines.append(f"- business-critical paths hit: {_list(i.business_critical_hit)}")
    for ep in i.entrypoints:
        lines.append(
            f"- entry {ep.service} {ep.operation}: {ep.requests} requests, errors "
            f"{ep.error_rate:.1%} (baseline {ep.baseline_error_rate:.1%}), p99 {ep.p99_ms:.0f} ms "
            f"(baseline {ep.baseline_p99_ms:.0f} ms)"
        )
    return lines


def _list(items: Iterable[str], limit: int = 12) -> str:
    items = list(items)
    text = ", ".join(items[:limit]) or "none"
    return text + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
