"""The postmortem's findings: root causes (or the candidates when the verdict cannot
decide), latency inflation with the critical-path gantt, the failure taxonomy, blast radius
and log templates (Markdown, every data value escaped)."""

from __future__ import annotations

from collections.abc import Sequence

from incident.analysis.evidence import plural
from incident.render.formatting import (
    before_ms,
    evidence_refs,
    felt_by,
    format_change,
    format_ms,
    format_pct,
    md_code,
    md_escape,
    md_none,
    md_table,
    representative_path,
    where,
)
from incident.render.md_story import _utc
from incident.render.mermaid import MAX_STEPS, mermaid_gantt
from incident.report import (
    Failure,
    Report,
    RootCause,
)

_CATEGORIES = ("transient", "permanent", "partial", "fatal")
_ORIGINS = ("infrastructure", "user", "dependency", "unknown")
_LATENCY_MIN_ROWS = 3
_LATENCY_MIN_SHARE = 0.01
_LATENCY_MAX_ROWS = 12


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
    # Errors that were there before, fail no more often now, and are not a ranked cause.
    causes = {(rc.service, rc.operation) for rc in report.root_causes}
    old = [
        f
        for f in report.failures
        if f.baseline_count > 0 and not f.rose and (f.service, f.operation) not in causes
    ]
    if old:
        lines = "\n".join(
            f"- {md_escape(where(f.service, f.operation))}: {_share(f.count, f.calls)} during "
            f"the incident, {_share(f.baseline_count, f.baseline_calls)} in the baseline"
            for f in old
        )
        parts.append(
            "**Errors already occurring before the incident** (seen in the baseline too and "
            "not significantly more often now, so not ranked as its cause):\n\n" + lines
        )
    return "\n\n".join(parts)


def _of(failed: int, calls: int) -> str:
    """ "8 of 367", or the bare count when the calls are not known (nothing compared)."""
    return f"{failed:,} of {calls:,}" if calls else f"{failed:,}"


def _share(failed: int, calls: int) -> str:
    """ "8 of 367 calls failed (2.2%)"."""
    if calls <= 0:
        return f"{failed:,} failed"
    return f"{failed:,} of {plural(calls, 'call')} failed ({format_pct(failed / calls)})"


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
    compared = report.window.compared
    if report.latency_inflation and compared:
        rows = [
            [
                md_escape(where(li.service, li.operation)),
                md_escape(li.edge) if li.edge else "self time",
                before_ms(li),
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
    elif report.latency_inflation:
        # No baseline is no baseline, not a 0 ms one: nothing was added, only spent.
        parts.append(
            md_none(
                "No baseline to compare with: where each request's critical-path time goes, "
                "not what grew."
            )
        )
        rows = [
            [
                md_escape(where(li.service, li.operation)),
                md_escape(li.edge) if li.edge else "self time",
                format_ms(li.incident_ms),
                format_pct(li.share),
            ]
            for li in listed
        ]
        parts.append(md_table(["Hop", "Where", "Per request", "Share of the time"], rows, "llrr"))
    if hidden:
        parts.append(
            md_none(
                f"{hidden} more hops, each under {format_pct(_LATENCY_MIN_SHARE)} of the "
                f"{'added latency' if compared else 'time'}, are in the JSON report."
            )
        )
    if not report.latency_inflation:
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
            _of(f.count, f.calls) + (" (rose)" if f.rose else ""),
            # Nothing compared (or never called before): no count to show, not a zero.
            _of(f.baseline_count, f.baseline_calls) if f.baseline_calls else "—",
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
            "Failed (of calls)",
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
