"""Section writers for what surrounds the cause: log templates, alerts, the timeline and
data quality. Same shape as `analysis/sections.py`: `(Assessment, EvidenceLog, done) ->
field`, reading decisions, never making them.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from incident.analysis import wording
from incident.analysis.assess import Assessment, iso
from incident.analysis.classify import alert_role, alert_service, runbooks
from incident.analysis.evidence import MIN_EVIDENCE, EvidenceLog
from incident.analysis.examples import span_ref
from incident.analysis.logs import is_junk, mine, surge
from incident.analysis.sections import Fields
from incident.analysis.semconv import error_text
from incident.model import LogRecord
from incident.report import (
    AlertSummary,
    DataQualityReport,
    LogTemplate,
    TimelineEvent,
    TimelineSource,
)
from incident.text import clip


def log_templates(a: Assessment, ev: EvidenceLog, done: Fields) -> list[LogTemplate]:
    """Repeated log messages as templates, new and surging ones first."""
    logs = a.bundle.logs
    if not logs:
        return []
    base_logs = a.baseline.logs if a.baseline is not None else []
    start = a.change.start_ns if a.change else None
    logs = _with_services(a, logs)
    stats = mine(logs, base_logs, start)
    inc_span = (a.inc.end_ns - a.inc.start_ns) or 1
    base_span = ((a.base.end_ns - a.base.start_ns) if a.base else 0) or inc_span
    ratio = inc_span / base_span
    has_base = bool(base_logs) or start is not None
    rows = []
    for st in stats:
        # "New" and a surge are claims of change: like every such claim they need
        # MIN_EVIDENCE observations (README); below that the counts speak alone.
        enough = max(st.count, st.baseline_count) >= MIN_EVIDENCE
        sg = surge(st, ratio) if enough else None
        is_new = has_base and st.baseline_count == 0 and enough
        # Terminal junk (progress meters) goes last, however often it was printed.
        rank_key = (
            not is_junk(st.template),
            is_new and st.error_like,
            sg or 0.0,
            st.error_like,
            st.count,
        )
        rows.append((rank_key, st, sg, is_new))
    rows.sort(key=lambda x: x[0], reverse=True)
    out: list[LogTemplate] = []
    for _, st, sg, is_new in rows[: a.config.max_log_templates]:
        eid = None
        if st.error_like and (is_new or (sg or 0) > 2):
            rec = logs[st.example_ref]
            eid = ev.add(
                "log",
                rec.source or f"log#{st.example_ref + 1}",
                f"{rec.service or '?'} {rec.level or ''}: {st.example}",
            )
        out.append(
            LogTemplate(
                template=st.template,
                count=st.count,
                level=st.level,
                services=sorted(st.services)[:10],
                first_seen=iso(st.first_ns),
                last_seen=iso(st.last_ns),
                baseline_count=st.baseline_count,
                new=is_new,
                surge=round(sg, 2) if sg is not None else None,
                example=st.example,
                evidence=eid,
            )
        )
    return out


def _with_services(a: Assessment, logs: list[LogRecord]) -> list[LogRecord]:
    """Logs without a service take it from the span they name (by span id, else by
    trace id: the trace's entry service)."""
    missing = [r for r in logs if not r.service and (r.span_id or r.trace_id)]
    if not missing:
        return logs
    wanted_spans = {r.span_id for r in missing if r.span_id}
    wanted_traces = {r.trace_id for r in missing if r.trace_id}
    by_span: dict[str, str] = {}
    by_trace: dict[str, str] = {}
    t = a.table
    for i, s in enumerate(t.spans):
        if s.span_id in wanted_spans:
            by_span[s.span_id] = s.service
        if s.trace_id in wanted_traces and t.parent[i] < 0:
            by_trace.setdefault(s.trace_id, s.service)
    out = []
    for r in logs:
        if not r.service and (r.span_id or r.trace_id):
            svc = by_span.get(r.span_id or "") or by_trace.get(r.trace_id or "")
            if svc:
                r = msgspec.structs.replace(r, service=svc)
        out.append(r)
    return out


def alerts(a: Assessment, ev: EvidenceLog, done: Fields) -> list[AlertSummary]:
    """The alerts, tied to services and marked symptom or cause."""
    # The causes the verdict names: triage asks the same question with the same answer.
    names = [c.component for c in a.causes[:2]] if a.verdict.status == "incident" else []
    entry_services = sorted({k[0] for k in a.inc.entries})
    out = []
    for al in sorted(a.bundle.alerts, key=lambda x: (x.starts_ns or 0, x.name)):
        eid = ev.add(
            "alert",
            al.name,
            f"{al.status} {al.name} on "
            f"{alert_service(al) or '?'}"
            f"{': ' + al.summary if al.summary else ''}",
        )
        out.append(
            AlertSummary(
                source=al.source,
                status=al.status,
                name=al.name,
                severity=al.severity,
                service=alert_service(al),
                starts_at=iso(al.starts_ns),
                ends_at=iso(al.ends_ns),
                role=alert_role(al, names, entry_services)[0],
                runbook=next(iter(runbooks(al)), None),
                summary=al.summary
                or al.annotations.get("summary")
                or al.annotations.get("description"),
                evidence=eid,
            )
        )
    return out


def timeline(a: Assessment, ev: EvidenceLog, done: Fields) -> list[TimelineEvent]:
    """UTC events: first anomaly, first error, alerts, deploys, new log messages, peak and
    recovery; in time order (a stable sort: same-time events keep this order)."""
    events = [
        *_anomaly_events(a),
        *_first_error_event(a, ev),
        *_alert_events(done["alerts"]),
        *(_event(ns, "deploy", text) for ns, text in _deploys(a)),
        *_log_events(done["log_templates"]),
        *([] if a.inc.n_traces else _first_error_log(done["log_templates"])),
    ]
    timed = [e for e in events if e is not None]
    timed.sort(key=lambda e: e.time)
    return timed[:60]


def _event(
    ns: int | str | None, source: TimelineSource, text: str, evidence: Iterable[str | None] = ()
) -> TimelineEvent | None:
    """An event at `ns` (nanoseconds, or a report time already formatted); None untimed."""
    stamp = ns if isinstance(ns, str) else iso(ns)
    if not stamp:
        return None
    return TimelineEvent(time=stamp, source=source, event=text, evidence=[e for e in evidence if e])


def _anomaly_events(a: Assessment) -> list[TimelineEvent | None]:
    if a.change:
        return [
            _event(a.change.start_ns, "analysis", wording.onset_event(a.change)),
            _event(a.change.peak_ns, "analysis", "Peak of the incident"),
            _event(a.change.end_ns, "analysis", "Recovery: entry points back to baseline"),
        ]
    if a.inc.n_traces:
        return [_event(a.inc.start_ns, "trace", "First trace of the incident export")]
    return []


def _first_error_event(a: Assessment, ev: EvidenceLog) -> list[TimelineEvent | None]:
    """The incident's first error, from a new or surging source: one that failed at the same
    rate before is background (listed with the failures that predate it)."""
    new_sources = [
        c for c in a.ordered if c.fails_more and c.first_span >= 0 and c.first_ns is not None
    ]
    first = min(new_sources, key=lambda c: (c.first_ns or 0, c.component), default=None)
    if first is None:
        return []
    t = a.inc.table
    s = t.spans[first.first_span]
    eid = ev.add("span", span_ref(t, first.first_span), f"{s.service} {s.name}: {error_text(s)}")
    text = f"First error: {s.service} {s.name} — {clip(error_text(s), 120)}"
    return [_event(first.first_ns, "trace", text, [eid])]


def _alert_events(alerts: list[AlertSummary]) -> list[TimelineEvent | None]:
    out: list[TimelineEvent | None] = []
    for row in alerts:
        out.append(
            _event(row.starts_at, "alert", f"Alert {row.name} fired ({row.role})", [row.evidence])
        )
        if row.status == "resolved":
            out.append(_event(row.ends_at, "alert", f"Alert {row.name} resolved"))
    return out


def _log_events(templates: list[LogTemplate]) -> list[TimelineEvent | None]:
    return [
        _event(tpl.first_seen, "log", f"New log message: {clip(tpl.template, 120)}", [tpl.evidence])
        for tpl in templates[:5]
        if tpl.new and tpl.first_seen and tpl.level in ("ERROR", "FATAL", "WARN")
    ]


def _first_error_log(templates: list[LogTemplate]) -> list[TimelineEvent | None]:
    """Without traces, the earliest error among the listed log messages marks where the
    records start to go wrong (a new one is listed as such already)."""
    errors = [t for t in templates if t.first_seen and t.level in ("ERROR", "FATAL")]
    first = min(errors, key=lambda t: (t.first_seen or "", t.template), default=None)
    if first is None or first.new:
        return []
    where = f"{first.services[0]}: " if first.services else ""
    text = f"First error in the logs: {where}{clip(first.template, 120)}"
    return [_event(first.first_seen, "log", text, [first.evidence])]


def _deploys(a: Assessment) -> list[tuple[int, str]]:
    """Versions first seen in the incident window that the baseline did not run."""
    inc, base = a.inc, a.base
    if base is None:
        return []
    old = {(k[0], k[2]) for k in base.res_acc}
    first: dict[tuple[str, str], int] = {}
    for k, acc in inc.res_acc.items():
        if k[2] and (k[0], k[2]) not in old:
            key = (k[0], k[2])
            if key not in first or acc[2] < first[key]:
                first[key] = acc[2]
    return [
        (ns, f"Deploy: {svc} version {v} first seen")
        for (svc, v), ns in sorted(first.items(), key=lambda kv: kv[1])
    ]


def data_quality(a: Assessment, ev: EvidenceLog, done: Fields) -> DataQualityReport:
    """What was read, repaired and skipped, and the warnings about it."""
    q = a.bundle.quality
    t = a.table
    warnings = list(q.warnings)
    warnings.extend(w for w in t.warnings if w not in warnings)
    if not a.window.compared and a.bundle.spans:
        warnings.append(
            "no baseline: no fault-free export was given and no calm period "
            "was found before the incident, so nothing is compared"
        )
    warnings.extend(_inputs_apart(a))
    return DataQualityReport(
        spans=q.spans or t.n,
        traces=len(t.members),
        orphans=max(q.orphans, t.orphans),
        duplicates=max(q.duplicates, t.duplicates),
        skipped=q.skipped,
        clock_skew_adjusted=q.clock_skew_adjusted + t.skew_adjusted,
        repaired=q.repaired + t.cycles,
        logs=len(a.bundle.logs),
        log_lines_skipped=q.log_lines_skipped,
        alerts=len(a.bundle.alerts),
        warnings=warnings[:50],
    )


_HOUR_NS = 3600 * 10**9
# Traces of one incident spread wider than this come from different periods.
_WIDE_NS = 30 * 24 * _HOUR_NS


def _inputs_apart(a: Assessment) -> list[str]:
    """Inputs checked against each other: traces from different periods, and logs or alerts
    that fall outside the traces' window (the wrong file, or the wrong clock)."""
    t = a.table
    if not t.n:
        return []
    lo, hi = min(t.start), max(t.end)
    out: list[str] = []
    if hi - lo > _WIDE_NS:
        out.append(
            f"the traces span {(hi - lo) // (24 * _HOUR_NS):,} days: inputs from different "
            "periods are diagnosed as one incident"
        )
    outside = [
        r for r in a.bundle.logs if r.time_ns and not lo - _HOUR_NS <= r.time_ns <= hi + _HOUR_NS
    ]
    if outside:
        out.append(
            f"{len(outside):,} of {len(a.bundle.logs):,} log records lie more than an hour "
            "outside the traces' window (another period, or a clock or year assumed wrong)"
        )
    late = [
        al.name
        for al in a.bundle.alerts
        if al.starts_ns and not lo - 24 * _HOUR_NS <= al.starts_ns <= hi + _HOUR_NS
    ]
    if late:
        out.append(
            f"{len(late)} alert(s) started far outside the traces' window "
            f"({', '.join(sorted(set(late))[:3])}): they may be about another incident"
        )
    return out
