"""The postmortem's account of what happened: the verdict line, the summary, impact,
detection and timeline sections (Markdown, every data value escaped)."""

from __future__ import annotations

from incident.analysis.evidence import plural
from incident.render.formatting import (
    evidence_refs,
    format_duration,
    format_ms,
    format_pct,
    md_escape,
    md_none,
    md_table,
    parse_time,
    shown_alternatives,
    time_key,
    utc,
    where,
)
from incident.report import (
    Report,
)


def _utc(text: str | None) -> str:
    """A report time in UTC, escaped: a time that cannot be parsed is shown as written."""
    return md_escape(utc(text))


# --- sections -----------------------------------------------------------------------------


def _calm(report: Report) -> bool:
    """A "no-incident" report: its window is the export examined, not an incident's span."""
    return report.verdict.status == "no-incident"


def _incident_seconds(report: Report) -> float | None:
    if _calm(report):
        return None
    if report.impact.duration_s is not None:
        return report.impact.duration_s
    start = parse_time(report.window.incident_start)
    end = parse_time(report.window.incident_end)
    if start and end and start.tzinfo and end.tzinfo:
        return (end - start).total_seconds()
    return None


def _duration_text(report: Report, seconds: float | None) -> str:
    if _calm(report):
        return "none (no incident found)"
    return format_duration(seconds) if seconds is not None else "unknown"


def verdict_line(report: Report) -> str:
    """The verdict, first in every rendering: status, confidence and the reason."""
    v = report.verdict
    head = {"incident": "Incident", "no-incident": "No incident", "inconclusive": "Inconclusive"}
    text = f"**Verdict: {head[v.status]}**"
    if v.status != "inconclusive" or v.confidence:
        text += f" (confidence {v.confidence:.2f})"
    if v.reason:
        text += f": {md_escape(v.reason.rstrip('.'))}."
    if v.alternatives:
        label, shown = shown_alternatives(v)
        text += f" {label}: " + "; ".join(md_escape(a) for a in shown) + "."
    return text


def _summary(report: Report) -> str:
    imp = report.impact
    sentences: list[str] = []
    when = ""
    if _calm(report):
        when = "Across the export, "
    elif report.window.incident_start:
        when = f"Starting at {_utc(report.window.incident_start)}"
        seconds = _incident_seconds(report)
        if seconds is not None:
            when += f" and lasting {format_duration(seconds)}"
        when += ", "
    if imp.traces:
        what = (
            f"{imp.traces_failed:,} of {imp.traces:,} traced requests failed and "
            f"{imp.traces_slow:,} were slow"
        )
        if imp.entrypoints:
            n = len(imp.entrypoints)
            what += f" across {n} entry point{'s' if n != 1 else ''}"
        sentences.append(when + what + ".")
    elif report.alerts:
        names = ", ".join(sorted({md_escape(a.name) for a in report.alerts}))
        sentences.append(f"{when}alerts fired: {names}.")
    if report.verdict.status == "inconclusive" and report.root_causes:
        sentences.append("No single cause stands out: see the candidates under Root cause.")
    elif report.verdict.status == "inconclusive":
        sentences.append("No component can be named from the data that was read.")
    elif report.verdict.status == "no-incident":
        pass  # the verdict said it: nothing to blame
    elif report.root_causes:
        top = report.root_causes[0]
        cause = (
            f"The most likely cause is {md_escape(where(top.service, top.operation))} "
            f"({md_escape(top.kind)}, {top.category}, origin {top.origin}): "
            f"{md_escape(top.summary.strip().rstrip('.'))}"
        )
        if top.evidence:
            cause += f" {evidence_refs(top.evidence)}"
        sentences.append(cause.rstrip(".") + ".")
    else:
        sentences.append("No root cause could be ranked from the data that was read.")
    reach: list[str] = []
    if report.blast_radius.services:
        reach.append(plural(len(report.blast_radius.services), "service"))
    if report.blast_radius.share_of_requests:
        reach.append(f"{format_pct(report.blast_radius.share_of_requests)} of requests")
    users = imp.users_affected or report.blast_radius.users_affected
    if users:
        reach.append(plural(users, "user"))
    if reach:
        felt = "users felt it" if imp.user_facing else "users were shielded from it"
        sentences.append(f"It reached {', '.join(reach)}; {felt}.")
    if imp.business_critical_hit:
        sentences.append(
            "Business-critical paths hit: "
            + ", ".join(md_escape(p) for p in imp.business_critical_hit)
            + "."
        )
    body = " ".join(s[0].upper() + s[1:] for s in sentences if s)
    return f"{verdict_line(report)}\n\n{body}" if body else verdict_line(report)


def _impact(report: Report) -> str:
    imp = report.impact
    seconds = _incident_seconds(report)
    users = (
        imp.users_affected if imp.users_affected is not None else report.blast_radius.users_affected
    )
    if imp.user_facing:
        felt = "yes"
    elif _calm(report) and imp.traces:
        felt = "no"
    elif imp.traces:
        felt = "no (absorbed inside the system)"
    else:
        felt = "unknown (no traces were read)"
    bullets = [
        f"- **User-facing:** {felt}",
        f"- **Requests (traces):** {imp.traces:,} "
        f"{'in the export' if _calm(report) else 'in the incident window'}, "
        f"{imp.traces_failed:,} failed, {imp.traces_slow:,} slow",
        f"- **Users affected:** {f'{users:,} (counted)' if users is not None else 'not measured'}",
        f"- **Duration:** {_duration_text(report, seconds)}",
        "- **Business-critical paths hit:** "
        + (", ".join(md_escape(p) for p in imp.business_critical_hit) or "none detected"),
    ]
    parts = ["\n".join(bullets)]
    if imp.entrypoints:
        rows = []
        for ep in imp.entrypoints:
            change = f"x{ep.p99_ms / ep.baseline_p99_ms:.1f}" if ep.baseline_p99_ms > 0 else "—"
            rows.append(
                [
                    md_escape(f"{ep.service} {ep.operation}"),
                    f"{ep.requests:,}",
                    f"{ep.baseline_requests:,}" if ep.baseline_requests else "—",
                    format_pct(ep.error_rate),
                    format_pct(ep.baseline_error_rate) if ep.baseline_requests else "—",
                    format_ms(ep.p50_ms),
                    format_ms(ep.p99_ms),
                    format_ms(ep.baseline_p99_ms) if ep.baseline_p99_ms else "—",
                    change,
                    "yes" if ep.business_critical else "",
                ]
            )
        parts.append(
            md_table(
                [
                    "Entry point",
                    "Requests",
                    "Baseline requests",
                    "Error rate",
                    "Baseline errors",
                    "p50",
                    "p99",
                    "Baseline p99",
                    "p99 change",
                    "Critical",
                ],
                rows,
                "lrrrrrrrrc",
            )
        )
    else:
        parts.append(md_none("No entry points were identified (no traces, or no server roots)."))
    return "\n\n".join(parts)


def _offset(start: str | None, then: str | None) -> str:
    a, b = parse_time(start), parse_time(then)
    if a is None or b is None or a.tzinfo is None or b.tzinfo is None:
        return "—"
    delta = (b - a).total_seconds()
    if delta < 0:
        return f"{format_duration(delta)} before"
    return f"+{format_duration(delta)}"


def _detection(report: Report) -> str:
    if not report.alerts:
        return md_none(
            "No alert payloads were given, so when the incident was detected is unknown. "
            "If nothing paged, that is itself a finding."
        )
    start = report.window.incident_start
    alerts = sorted(report.alerts, key=lambda a: (time_key(a.starts_at), a.name))
    rows = [
        [
            md_escape(a.name),
            md_escape(a.source),
            md_escape(a.severity) or "—",
            md_escape(a.service) or "—",
            a.role,
            md_escape(a.status),
            _utc(a.starts_at),
            _offset(start, a.starts_at),
            _utc(a.ends_at) if a.ends_at else "—",
        ]
        for a in alerts
    ]
    table = md_table(
        [
            "Alert",
            "Source",
            "Severity",
            "Service",
            "Role",
            "Status",
            "Fired (UTC)",
            "After start",
            "Ended (UTC)",
        ],
        rows,
    )
    notes: list[str] = []
    fired = [a for a in alerts if a.starts_at]
    if fired and start:
        first = fired[0]
        notes.append(
            f"First alert: **{md_escape(first.name)}** at {_utc(first.starts_at)}, "
            f"{_offset(start, first.starts_at)} relative to the incident start."
        )
    symptoms = [a for a in alerts if a.role == "symptom"]
    if not symptoms:
        notes.append("No alert measured what users feel (latency, errors, availability).")
    return "\n\n".join([table, *notes])


def _timeline(report: Report) -> str:
    if not report.timeline:
        return md_none("No timed events.")
    events = sorted(report.timeline, key=lambda e: time_key(e.time))
    rows = [[_utc(e.time), e.source, md_escape(e.event), evidence_refs(e.evidence)] for e in events]
    return md_table(["Time (UTC)", "Source", "Event", "Evidence"], rows)
