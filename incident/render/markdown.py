"""The Markdown postmortem draft: a Report rendered through a replaceable string.Template
whose named blocks ($summary, $impact, ...) are built here. Same report, same bytes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from importlib import resources

from incident.errors import UsageError
from incident.escape import safe_model
from incident.render.formatting import (
    evidence_refs,
    format_pct,
    md_code,
    md_escape,
    md_link,
    md_none,
    md_table,
    parse_time,
    prose,
    utc,
    where,
)
from incident.render.md_findings import (
    _blast_radius,
    _failures,
    _latency,
    _log_templates,
    _root_cause,
)
from incident.render.md_investigation import investigation_section
from incident.render.md_story import (
    _detection,
    _impact,
    _summary,
    _timeline,
    _utc,
)
from incident.report import (
    AIResult,
    Evidence,
    Report,
)

# Report fields that hold several lines of text (model prose); every other string is one line.
MULTILINE_FIELDS = frozenset({"explanation", "narrative", "blast_radius_review"})


def default_template() -> str:
    """The template shipped in the package (incident/render/templates/postmortem.md)."""
    return resources.files("incident.render").joinpath("templates/postmortem.md").read_text("utf-8")


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
    if report.verdict.status == "no-incident":
        parts.append("**Incident:** none found in the window")
    elif w.incident_start:
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
    if report.root_causes and report.verdict.status == "inconclusive":
        # No headline culprit: the item is to decide, not to fix a cause not yet found.
        names = [md_escape(c.service) for c in report.root_causes[:3]]
        items.append(
            f"Find the cause: the evidence could not decide between {', '.join(names)}"
            if len(names) > 1
            else f"Find the cause: the evidence is too weak to blame {names[0]}"
        )
    elif report.root_causes:
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
        kind = report.root_causes[0].kind if report.root_causes else None
        slow = kind in ("latency", "saturation", "network")
        what = "incident" if kind is None else "slowdown" if slow else "failure"
        items.append(f"Make sure an alert would page for this {what} next time")
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


def ai_section(ai: AIResult) -> str:
    """The model's part, then (after an investigation) its collapsed transcript. The
    caller makes the strings safe first (see `sections`)."""
    text = _ai_answer(ai)
    if ai.investigation is None:
        return text
    inv = ai.investigation
    if inv.status == "failed" and ai.status == "ok":
        reason = md_escape(inv.reason) or "no reason given"
        text = (
            md_none(
                f"The investigation failed ({reason}); this is the single-call explanation instead."
            )
            + "\n\n"
            + text
        )
    return text + "\n\n" + investigation_section(inv)


def _ai_answer(ai: AIResult) -> str:
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
        "ai": ai_section(report.ai),
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
