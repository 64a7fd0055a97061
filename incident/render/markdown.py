"""The Markdown postmortem draft: a Report rendered through a replaceable string.Template
whose named blocks ($summary, $impact, ...) are built here. Same report, same bytes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from importlib import resources

from incident.errors import UsageError
from incident.render.formatting import (
    evidence_refs,
    felt_by,
    format_change,
    format_duration,
    format_ms,
    format_pct,
    md_code,
    md_escape,
    md_link,
    md_none,
    md_table,
    parse_time,
    prose,
    representative_path,
    time_key,
    utc,
    where,
)
from incident.render.mermaid import MAX_STEPS, mermaid_gantt
from incident.render.safe import safe_model
from incident.report import (
    AIResult,
    Evidence,
    Failure,
    Report,
    RootCause,
)

_CATEGORIES = ("transient", "permanent", "partial", "fatal")
_ORIGINS = ("infrastructure", "user", "dependency", "unknown")
_LATENCY_MIN_ROWS = 3
_LATENCY_MIN_SHARE = 0.01
_LATENCY_MAX_ROWS = 12
# Report fields that hold several lines of text (model prose); every other string is one line.
MULTILINE_FIELDS = frozenset({"explanation", "narrative", "blast_radius_review"})


def default_template() -> str:
    """The template shipped in the package (incident/render/templates/postmortem.md)."""
    return resources.files("incident.render").joinpath("templates/postmortem.md").read_text("utf-8")


def _utc(text: str | None) -> str:
    """A report time in UTC, escaped: a time that cannot be parsed is shown as written."""
    return md_escape(utc(text))


# --- sections -----------------------------------------------------------------------------


def _title(report: Report) -> str:
    status = report.verdict.status
    if status == "no-incident":
        return "no incident found"
    if status == "incident" and report.root_causes:
        top = report.root_causes[0]
        return md_escape(f"{top.service} {top.kind}")
    if status == "inconclusive" and not report.alerts:
        return "inconclusive"
    if report.alerts:
        return md_escape(report.alerts[0].name)
    return "incident"


def _date(report: Report) -> str:
    for text in (report.window.incident_start, report.window.start):
        parsed = parse_time(text)
        if parsed is not None:
            return md_escape(utc(text)[:10])
    return "undated"


def _window(report: Report) -> str:
    w = report.window
    if w.start or w.end:
        parts = [f"**Window:** {_utc(w.start)} to {_utc(w.end)} (UTC)"]
    else:
        parts = ["**Window:** unknown (no timed records)"]
    if w.incident_start:
        end = _utc(w.incident_end) if w.incident_end else "the end of the data (no recovery seen)"
        parts.append(f"**Incident:** {_utc(w.incident_start)} to {end}")
    baseline = {
        "in-file": "the period before the incident in the same export",
        "file": "a separate fault-free export",
        "none": "none (no comparison period)",
    }[w.baseline]
    if w.baseline_start:
        baseline += f", {_utc(w.baseline_start)} to {_utc(w.baseline_end)}"
    parts.append(f"**Baseline:** {baseline}")
    if report.inputs:
        parts.append("**Inputs:** " + ", ".join(md_code(i) for i in report.inputs))
    return "  \n".join(parts)


def _incident_seconds(report: Report) -> float | None:
    if report.impact.duration_s is not None:
        return report.impact.duration_s
    start = parse_time(report.window.incident_start)
    end = parse_time(report.window.incident_end)
    if start and end and start.tzinfo and end.tzinfo:
        return (end - start).total_seconds()
    return None


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
        label = "Not ruled out" if v.status == "incident" else "Candidates still in play"
        text += f" {label}: " + "; ".join(md_escape(a) for a in v.alternatives) + "."
    return text


def _summary(report: Report) -> str:
    imp = report.impact
    sentences: list[str] = []
    when = ""
    if report.window.incident_start:
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
    if report.verdict.status == "inconclusive":
        sentences.append("No single cause stands out: see the candidates under Root cause.")
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
        reach.append(f"{len(report.blast_radius.services)} services")
    if report.blast_radius.share_of_requests:
        reach.append(f"{format_pct(report.blast_radius.share_of_requests)} of requests")
    users = imp.users_affected or report.blast_radius.users_affected
    if users:
        reach.append(f"{users:,} users")
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
    elif imp.traces:
        felt = "no (absorbed inside the system)"
    else:
        felt = "unknown (no traces were read)"
    bullets = [
        f"- **User-facing:** {felt}",
        f"- **Requests (traces):** {imp.traces:,} in the incident window, "
        f"{imp.traces_failed:,} failed, {imp.traces_slow:,} slow",
        f"- **Users affected:** {f'{users:,} (counted)' if users is not None else 'not measured'}",
        f"- **Duration:** {format_duration(seconds) if seconds is not None else 'unknown'}",
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
                    "Error rate",
                    "Baseline errors",
                    "p50",
                    "p99",
                    "Baseline p99",
                    "p99 change",
                    "Critical",
                ],
                rows,
                "lrrrrrrrc",
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


def _root_cause_row(rank: int, rc: RootCause) -> list[str]:
    return [
        str(rank),
        md_escape(rc.service),
        md_escape(rc.operation) or "—",
        md_escape(rc.kind),
        rc.category,
        rc.origin,
        md_escape(rc.instance) or "—",
        md_escape(rc.version) or "—",
        f"{rc.score:.2f}",
        evidence_refs(rc.evidence),
    ]


def _root_cause(report: Report) -> str:
    if report.verdict.status == "no-incident":
        return md_none(f"No incident: {report.verdict.reason.rstrip('.')}.")
    if not report.root_causes:
        return md_none("No root cause could be ranked from the data that was read.")
    top, rest = report.root_causes[0], report.root_causes[1:]
    intro = (
        "Facts computed from the data. Hypotheses, where any, are in the AI analysis "
        "section and are marked as model output."
    )
    if report.verdict.status == "inconclusive":
        parts = [
            intro,
            "**No headline cause:** the evidence cannot decide between the candidates "
            f"below ({md_escape(report.verdict.reason.rstrip('.'))}).",
        ]
    else:
        parts = [
            intro,
            f"**Most likely cause:** {md_escape(where(top.service, top.operation))}"
            + (f" ({md_escape(top.component)})" if top.component else "")
            + f" — {md_escape(top.summary)} {evidence_refs(top.evidence)}".rstrip(),
        ]
    located: list[str] = []
    if top.instance:
        located.append(f"concentrated on instance {md_code(top.instance)}")
    if top.version:
        located.append(f"version {md_code(top.version)}")
    if located:
        parts.append("It is " + " and ".join(located) + ".")
    headers = [
        "#",
        "Service",
        "Operation",
        "Kind",
        "Category",
        "Origin",
        "Instance",
        "Version",
        "Score",
        "Evidence",
    ]
    rows = [_root_cause_row(i, rc) for i, rc in enumerate(report.root_causes, start=1)]
    parts.append(md_table(headers, rows, "rlllllllrl"))
    undecided = report.verdict.status == "inconclusive"
    listed = report.root_causes if undecided else rest
    if listed:
        factors = "\n".join(
            f"- {md_escape(where(rc.service, rc.operation))}: {md_escape(rc.summary)} "
            f"{evidence_refs(rc.evidence)}".rstrip()
            for rc in listed
        )
        title = (
            "**Candidates** (none stands out)"
            if undecided
            else "**Contributing factors** (lower-ranked candidates)"
        )
        parts.append(f"{title}:\n\n" + factors)
    # Errors that were there before and are not (also) a ranked cause.
    causes = {(rc.service, rc.operation) for rc in report.root_causes}
    old = [
        f
        for f in report.failures
        if f.baseline_count > 0 and (f.service, f.operation) not in causes
    ]
    if old:
        lines = "\n".join(
            f"- {md_escape(where(f.service, f.operation))}: {f.baseline_count:,} in the baseline, "
            f"{f.count:,} during the incident"
            for f in old
        )
        parts.append(
            "**Errors already occurring before the incident** (seen in the baseline too, so "
            "not ranked as its cause):\n\n" + lines
        )
    return "\n\n".join(parts)


_PATH_WORDS = {
    "slow": "a representative slow request",
    "failed": "a representative failed request",
    "typical": "a typical request (none was slow)",
    "baseline": "a baseline request",
}


def _latency(report: Report) -> str:
    parts: list[str] = []
    # Hops that explain almost none of the added latency are noise in a postmortem.
    listed = [
        li
        for rank, li in enumerate(report.latency_inflation)
        if rank < _LATENCY_MIN_ROWS or li.share >= _LATENCY_MIN_SHARE
    ][:_LATENCY_MAX_ROWS]
    hidden = len(report.latency_inflation) - len(listed)
    if report.latency_inflation:
        rows = [
            [
                md_escape(where(li.service, li.operation)),
                md_escape(li.edge) if li.edge else "self time",
                # No baseline is no baseline, not a 0 ms one.
                format_ms(li.baseline_ms) if report.window.baseline != "none" else "—",
                format_ms(li.incident_ms),
                ("+" if li.added_ms >= 0 else "") + format_ms(li.added_ms),
                format_pct(li.share),
            ]
            for li in listed
        ]
        parts.append(
            md_table(
                ["Hop", "Where", "Baseline", "Incident", "Added", "Share of added"],
                rows,
                "llrrrr",
            )
        )
        if hidden:
            parts.append(
                md_none(
                    f"{hidden} more hops, each under {format_pct(_LATENCY_MIN_SHARE)} "
                    "of the added latency, are in the JSON report."
                )
            )
    else:
        parts.append(md_none("No latency inflation measured (no baseline, or latency unchanged)."))
    path = representative_path(report)
    if path is not None:
        shown = min(len(path.steps), MAX_STEPS)
        caption = (
            f"Critical path of {_PATH_WORDS.get(path.label, 'a request')} "
            f"(trace {md_code(path.trace_id)}, {md_escape(path.entrypoint)}, "
            f"{format_ms(path.duration_ms)}); the hop with the most self time is highlighted"
            + (", failing spans are marked critical" if any(s.error for s in path.steps) else "")
            + "."
        )
        if shown < len(path.steps):
            caption += f" First {shown} of {len(path.steps)} steps."
        parts.append(caption)
        parts.append(mermaid_gantt(path))
    return "\n\n".join(parts)


def _taxonomy(failures: Sequence[Failure]) -> str:
    rows = []
    for category in _CATEGORIES:
        cells = [f"**{category}**"]
        for origin in _ORIGINS:
            hits = [f for f in failures if f.category == category and f.origin == origin]
            if not hits:
                cells.append("")
                continue
            felt = sum(f.count for f in hits if f.user_facing)
            absorbed = sum(f.count for f in hits if not f.user_facing)
            cells.append(f"{felt + absorbed:,} ({felt:,} user-facing, {absorbed:,} absorbed)")
        rows.append(cells)
    return md_table(["Category \\ origin", *_ORIGINS], rows)


def _failures(report: Report) -> str:
    if not report.failures:
        return md_none("No failures were classified.")
    rows = [
        [
            md_escape(f.service),
            md_escape(f.operation) or "—",
            f.category,
            f.origin,
            f"{f.count:,}",
            f"{f.baseline_count:,}",
            felt_by(f.user_facing, f.category),
            "yes" if f.business_critical else "",
            md_escape(f.example[:160]),
        ]
        for f in report.failures
    ]
    detail = md_table(
        [
            "Service",
            "Operation",
            "Category",
            "Origin",
            "Count",
            "Baseline",
            "Felt by users",
            "Critical",
            "Example",
        ],
        rows,
        "llllrrlcl",
    )
    return _taxonomy(report.failures) + "\n\n" + detail


def _blast_radius(report: Report) -> str:
    br = report.blast_radius
    if not (br.services or br.entrypoints or br.share_of_requests):
        return md_none("No spread beyond the cause was measured.")
    lines = [
        "- **Services affected:** " + (", ".join(md_escape(s) for s in br.services) or "none"),
        "- **Entry points affected:** "
        + (", ".join(md_escape(e) for e in br.entrypoints) or "none"),
        f"- **Share of requests affected:** {format_pct(br.share_of_requests)}",
    ]
    if br.users_affected is not None:
        lines.append(f"- **Users affected:** {br.users_affected:,} (counted, not listed)")
    return "\n".join(lines)


def _log_templates(report: Report) -> str:
    if not report.log_templates:
        return md_none("No logs were read, or no message repeated.")
    rows = [
        [
            md_escape(t.template[:200]),
            md_escape(t.level) or "—",
            f"{t.count:,}",
            f"{t.baseline_count:,}",
            format_change(t.new, t.surge),
            md_escape(", ".join(t.services)) or "—",
            _utc(t.first_seen) if t.first_seen else "—",
            f"[{md_escape(t.evidence)}]" if t.evidence else "",
        ]
        for t in report.log_templates[:15]
    ]
    out = md_table(
        ["Template", "Level", "Count", "Baseline", "New / surge", "Services", "First seen", "Ev."],
        rows,
        "llrrllll",
    )
    if len(report.log_templates) > 15:
        out += f"\n\n_{len(report.log_templates) - 15} more templates in the JSON report._"
    return out


def _first_actions(report: Report) -> str:
    parts: list[str] = []
    if report.actions:
        parts.append(
            "\n".join(
                f"{i}. **{md_escape(a.action)}** — {md_escape(a.why)} "
                f"(risk: {a.risk}; from {a.source})"
                for i, a in enumerate(report.actions, start=1)
            )
        )
    else:
        parts.append(md_none("No deterministic action was derived."))
    runbooks = [(a.name, a.runbook) for a in report.alerts if a.runbook]
    if runbooks:
        seen: set[tuple[str, str]] = set()
        lines = []
        for name, url in runbooks:
            if url is None or (name, url) in seen:
                continue
            seen.add((name, url))
            lines.append(f"- {md_escape(name)}: {md_link(url)}")
        parts.append("What the alert runbooks say to check:\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def _action_items(report: Report) -> str:
    items: list[str] = []
    if report.root_causes:
        top = report.root_causes[0]
        items.append(
            f"Fix or mitigate the cause in {md_escape(where(top.service, top.operation))} "
            f"({md_escape(top.kind)})"
        )
        if top.version:
            items.append(
                f"Review the change that shipped {md_escape(top.service)} {md_escape(top.version)}"
            )
    if report.impact.user_facing and any(f.category == "transient" for f in report.failures):
        items.append("Decide where transient failures should be retried or degraded gracefully")
    if not report.alerts:
        items.append("Make sure an alert would page for this failure next time")
    elif not any(a.role == "symptom" for a in report.alerts):
        items.append("Add an alert on what users feel (entry-point latency or error rate)")
    if report.impact.business_critical_hit:
        items.append("Add a guard (SLO alert, circuit breaker) on the business-critical paths hit")
    dq = report.data_quality
    if dq.orphans or dq.skipped or dq.warnings:
        items.append("Close the telemetry gaps listed under data quality")
    items.append("Review this draft and the timeline with the people who responded")
    return "\n".join(f"- [ ] {item} (owner: TBD)" for item in items)


def _data_quality(report: Report) -> str:
    dq = report.data_quality
    counts = [
        ("spans read", dq.spans),
        ("traces", dq.traces),
        ("log records", dq.logs),
        ("alerts", dq.alerts),
        ("orphan spans (parent missing, kept as roots)", dq.orphans),
        ("duplicate span ids resolved", dq.duplicates),
        ("records skipped", dq.skipped),
        ("records repaired", dq.repaired),
        ("log lines skipped", dq.log_lines_skipped),
        ("spans shifted for clock skew", dq.clock_skew_adjusted),
    ]
    lines = [f"- {label}: {value:,}" for label, value in counts if value]
    if not lines:
        lines.append("- nothing was read")
    for warning in dq.warnings:
        lines.append(f"- warning: {md_escape(warning)}")
    if report.redactions:
        redacted = ", ".join(
            f"{md_escape(k)} {v:,}" for k, v in sorted(report.redactions.items()) if v
        )
        if redacted:
            lines.append(f"- redacted before leaving the machine: {redacted}")
    return "\n".join(lines)


def _ai(ai: AIResult) -> str:
    if ai.status != "ok":
        verb = "was skipped" if ai.status == "skipped" else "failed"
        reason = md_escape(ai.reason) or "no reason given"
        return md_none(
            f"Not included: the AI step {verb} ({reason}). "
            "The findings above are complete without it."
        )
    usage = ai.usage
    meta = f"model {md_code(ai.model or 'unknown')}"
    if ai.prompt_version:
        meta += f", prompt {md_escape(ai.prompt_version)}"
    meta += f", {usage.input_tokens:,} input / {usage.output_tokens:,} output tokens"
    if ai.cached:
        meta += ", from cache"
    parts = [
        f"> **Model output** ({meta}). It proposes explanations; it does not replace the "
        "deterministic findings above. Check each claim against the evidence it cites."
    ]
    if ai.explanation:
        parts.append("**Explanation**\n\n" + prose(ai.explanation))
    if ai.narrative:
        parts.append("**Narrative**\n\n" + prose(ai.narrative))
    if ai.hypotheses:
        rows = []
        for i, h in enumerate(ai.hypotheses, start=1):
            cited = evidence_refs(h.evidence)
            if h.unknown_evidence:
                cited += (
                    " (cites unknown " + ", ".join(md_escape(u) for u in h.unknown_evidence) + ")"
                )
            rows.append([str(i), md_escape(h.statement), format_pct(h.confidence), cited.strip()])
        parts.append(
            "**Hypotheses**\n\n"
            + md_table(["#", "Hypothesis", "Confidence", "Evidence"], rows, "rlrl")
        )
    if ai.blast_radius_review:
        parts.append("**Blast-radius review**\n\n" + prose(ai.blast_radius_review))
    if ai.first_actions:
        rows = [[md_escape(a.action), a.risk, md_escape(a.why)] for a in ai.first_actions]
        parts.append(
            "**Suggested first actions (model)**\n\n" + md_table(["Action", "Risk", "Why"], rows)
        )
    if ai.open_questions:
        parts.append(
            "**Open questions**\n\n" + "\n".join(f"- {md_escape(q)}" for q in ai.open_questions)
        )
    if ai.unknown_evidence:
        parts.append(
            "Evidence ids cited by the model but absent from the digest (not shown as fact): "
            + ", ".join(md_escape(u) for u in ai.unknown_evidence)
        )
    return "\n\n".join(parts)


def _evidence(items: Sequence[Evidence]) -> str:
    if not items:
        return md_none("No evidence recorded.")
    rows = [
        [
            f"{md_escape(e.id)}",
            e.kind,
            md_code(e.ref, in_table=True),
            md_escape(e.text[:300]),
        ]
        for e in items
    ]
    return md_table(["Id", "Kind", "Reference", "Text"], rows)


def sections(report: Report) -> dict[str, str]:
    """Every template variable and its Markdown, for callers building their own layout.

    Every string of the report is untrusted telemetry (or model output): control and
    invisible characters are made visible first, then each block escapes what it places.
    """
    report = safe_model(report, MULTILINE_FIELDS)
    return {
        "title": _title(report),
        "date": _date(report),
        "window": _window(report),
        "summary": _summary(report),
        "impact": _impact(report),
        "detection": _detection(report),
        "timeline": _timeline(report),
        "root_cause": _root_cause(report),
        "latency": _latency(report),
        "failures": _failures(report),
        "blast_radius": _blast_radius(report),
        "log_templates": _log_templates(report),
        "first_actions": _first_actions(report),
        "action_items": _action_items(report),
        "data_quality": _data_quality(report),
        "ai": _ai(report.ai),
        "evidence": _evidence(report.evidence),
    }


_LEADING_COMMENT = re.compile(r"\A\s*<!--.*?-->[ \t]*\n?", re.S)


def render_markdown(report: Report, template: str | None = None) -> str:
    """The postmortem draft as Markdown, from `template` (text) or the shipped default.

    Raises UsageError when the template names a variable that does not exist, so a typo
    in a user's template is reported rather than printed.
    """
    text = default_template() if template is None else template
    text = _LEADING_COMMENT.sub("", text, count=1)
    values = sections(report)
    try:
        rendered = string.Template(text).substitute(values)
    except KeyError as exc:
        known = ", ".join(f"${k}" for k in values)
        raise UsageError(f"template: unknown variable ${exc.args[0]} (known: {known})") from exc
    except ValueError as exc:
        raise UsageError(f"template: {exc} (write $$ for a literal $)") from exc
    # One trailing newline and no trailing spaces except Markdown hard breaks ("  \n").
    lines = [
        line if line.endswith("  ") and line.strip() else line.rstrip()
        for line in rendered.splitlines()
    ]
    return "\n".join(lines).strip("\n") + "\n"
