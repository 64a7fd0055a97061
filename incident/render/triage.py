"""Renderers for an alert triage: plain text, ticket-ready Markdown, a stable JSON document
("incident.triage/1") and Slack Block Kit JSON that respects Slack's size limits.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from incident.errors import UsageError
from incident.escape import http_url, safe_model
from incident.render.formatting import format_duration, md_code, md_escape, md_link, md_table
from incident.report import TriageAI
from incident.triage_report import AlertGroup, Triage, TriageAction

TriageFormat = Literal["md", "json", "text", "slack"]

# Block Kit limits (api.slack.com/reference/block-kit): a message holds at most 50 blocks,
# a header 150 characters, a section text 3000, a section at most 10 fields of 2000 each,
# and a context block at most 10 elements.
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_FIELDS_MAX = 10
SLACK_CONTEXT_MAX = 10
_ACTIONS_PER_GROUP = 4
_MODEL_NOTE = "model output; check it before acting"


def _review(t: Triage) -> TriageAI | None:
    """Claude's review when there is one to show (a failed one is shown as one line)."""
    return t.ai if t.ai is not None and t.ai.status != "skipped" else None


def _flag(ai: TriageAI, group: str) -> str:
    return " (no such group in the triage)" if group in ai.unknown_groups else ""


def _where(g: AlertGroup) -> str:
    return f"{g.name} ({g.service})" if g.service else g.name


def _since(g: AlertGroup) -> str:
    if g.firing_for_s is None:
        return f"since {g.started_at}" if g.started_at else "start unknown"
    if g.stale:
        return f"since {g.started_at} (stale?)"
    verb = "lasted" if g.status == "resolved" else "for"
    return f"{verb} {format_duration(g.firing_for_s)}"


def _role_text(g: AlertGroup) -> str:
    return {
        "symptom": "symptom users feel",
        "cause": "internal cause",
        "heartbeat": "heartbeat, not an incident",
        "unknown": "unclassified",
    }[g.role]


# --- text ---------------------------------------------------------------------------------


def _text(t: Triage) -> str:
    lines = [f"TRIAGE: {t.headline}"]
    if t.now:
        lines.append(f"as of {t.now}")
    for title, wanted in (
        ("FIRING", ("firing", "acknowledged", "unknown")),
        ("RESOLVED", ("resolved",)),
    ):
        groups = [g for g in t.groups if g.status in wanted]
        if not groups:
            continue
        lines.extend(["", title])
        for g in groups:
            sev = g.severity or "no severity"
            count = f" x{g.count}" if g.count > 1 else ""
            status = " [acknowledged]" if g.status == "acknowledged" else ""
            lines.append(f"- [{sev}] {_where(g)}{count}{status}, {_since(g)}: {_role_text(g)}")
            if g.summary:
                lines.append(f"    {' '.join(g.summary.split())}")
            if g.instances:
                lines.append(f"    on: {', '.join(g.instances[:5])}")
            if g.matches_likely_cause:
                lines.append("    matches the likely cause from traces/logs")
            if g.status != "resolved":
                for action in g.actions[:_ACTIONS_PER_GROUP]:
                    extra = action.command or action.url
                    lines.append(f"    -> {action.action}" + (f": {extra}" if extra else ""))
    if t.likely_cause is not None:
        lc = t.likely_cause
        where = lc.service + (f" {lc.operation}" if lc.operation else "")
        refs = f" [{' '.join(lc.evidence)}]" if lc.evidence else ""
        lines.extend(["", f"LIKELY CAUSE: {where} ({lc.kind}, score {lc.score:.2f}){refs}"])
        lines.append(f"    {lc.summary}")
    ai = _review(t)
    if ai is not None:
        lines.extend(["", *_text_review(ai)])
    if t.notices:
        lines.extend(["", "NOTICES"])
        lines.extend(f"- {n}" for n in t.notices)
    return "\n".join(lines) + "\n"


def _text_review(ai: TriageAI) -> list[str]:
    if ai.status == "failed":
        return [f"CLAUDE'S REVIEW: failed ({ai.reason or 'no reason given'})"]
    lines = [f"CLAUDE'S REVIEW ({_MODEL_NOTE})"]
    lines.append(f"    {' '.join(ai.explanation.split())}")
    if ai.blast_radius_review:
        lines.append(f"    blast radius: {' '.join(ai.blast_radius_review.split())}")
    for a in ai.first_actions:
        lines.append(f"    -> [{a.group}{_flag(ai, a.group)}] {a.action} (risk {a.risk}): {a.why}")
    lines.extend(f"    ? {q}" for q in ai.open_questions)
    return lines


# --- Markdown -----------------------------------------------------------------------------


def _md(t: Triage) -> str:
    parts = [f"### Alert triage: {md_escape(t.headline)}"]
    if t.now:
        parts.append(f"_As of {md_escape(t.now)} (UTC)._")
    if t.groups:
        rows = [
            [
                g.status,
                md_escape(g.severity) or "—",
                md_escape(g.name),
                md_escape(g.service) or "—",
                str(g.count),
                md_escape(_since(g)),
                _role_text(g) + (" (likely cause)" if g.matches_likely_cause else ""),
            ]
            for g in t.groups
        ]
        parts.append(
            md_table(
                ["Status", "Severity", "Alert", "Service", "Count", "Duration", "Role"],
                rows,
                "lllllrl",
            )
        )
    if t.likely_cause is not None:
        lc = t.likely_cause
        where = lc.service + (f" {lc.operation}" if lc.operation else "")
        refs = " ".join(f"[{md_escape(e)}]" for e in lc.evidence)
        parts.append(
            f"**Likely cause (from traces/logs):** {md_escape(where)} — "
            f"{md_escape(lc.summary)} ({md_escape(lc.kind)}, score {lc.score:.2f}) {refs}".rstrip()
        )
    live = [g for g in t.groups if g.status != "resolved" and g.actions]
    if live:
        lines = ["#### First actions"]
        for g in live:
            lines.append("")
            summary = f" — {md_escape(g.summary)}" if g.summary else ""
            lines.append(f"**{md_escape(_where(g))}**{summary}")
            lines.append("")
            for action in g.actions[:_ACTIONS_PER_GROUP]:
                text = md_escape(action.action)
                if action.command:
                    text += f": {md_code(action.command)}"
                elif action.url:
                    text += f": {md_link(action.url)}"
                why = f" — {md_escape(action.why)}" if action.why else ""
                lines.append(f"- [ ] {text}{why}")
        parts.append("\n".join(lines))
    ai = _review(t)
    if ai is not None:
        parts.append(_md_review(ai))
    if t.notices:
        parts.append("**Notices:**\n\n" + "\n".join(f"- {md_escape(n)}" for n in t.notices))
    return "\n\n".join(parts) + "\n"


def _md_review(ai: TriageAI) -> str:
    if ai.status == "failed":
        return f"_Claude's review failed ({md_escape(ai.reason or 'no reason given')})._"
    lines = [
        "#### Claude's review",
        "",
        f"> **Model output** (model {md_code(ai.model or 'unknown')}); check it before acting.",
        "",
        md_escape(" ".join(ai.explanation.split())),
    ]
    if ai.blast_radius_review:
        lines.extend(
            ["", f"**Blast radius:** {md_escape(' '.join(ai.blast_radius_review.split()))}"]
        )
    if ai.first_actions:
        lines.append("")
        for a in ai.first_actions:
            where = md_escape(a.group) + _flag(ai, a.group)
            lines.append(
                f"- [ ] **{where}:** {md_escape(a.action)} (risk {a.risk}) — {md_escape(a.why)}"
            )
    if ai.open_questions:
        lines.append("")
        lines.extend(f"- {md_escape(q)}" for q in ai.open_questions)
    return "\n".join(lines)


# --- Slack Block Kit ----------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped; everything else is literal. With them escaped,
    data cannot form a mention (`<!channel>`, `<!here>`, `<@U123>`) or a link (`<url|x>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) URL (percent-encoded, so it holds no `|` or `>`), with
    the label escaped; any other URL is shown as escaped text after the label, not linked."""
    target = http_url(url)
    if target is None:
        shown = f": {_slack_escape(url)}" if url else ""
        return f"{_slack_escape(label)}{shown}"
    return f"<{_slack_escape(target)}|{_slack_escape(label)}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str, limit: int = SLACK_TEXT_MAX) -> dict[str, Any]:
    # verbatim: Slack applies our formatting and links but does not turn bare URLs,
    # channel names or @mentions in the text into links or pings.
    return {"type": "mrkdwn", "text": _clip(text, limit), "verbatim": True}


def _slack_step(a: TriageAction) -> str:
    if a.command:
        return f"• {_slack_escape(a.action)}: `{_slack_escape(a.command)}`"
    if a.url:
        return f"• {_slack_link(a.url, a.action)}"
    return f"• {_slack_escape(a.action)}"


def _slack_group(g: AlertGroup) -> list[dict[str, Any]]:
    icon = {"firing": ":red_circle:", "acknowledged": ":large_orange_circle:"}.get(
        g.status, ":white_check_mark:" if g.status == "resolved" else ":grey_question:"
    )
    if g.role == "heartbeat":
        icon = ":heartbeat:"
    title = f"{icon} *{_slack_escape(_where(g))}*"
    if g.summary:
        title += f"\n{_slack_escape(' '.join(g.summary.split()))}"
    fields = [
        _mrkdwn(f"*Status*\n{_slack_escape(g.status)}", SLACK_FIELD_MAX),
        _mrkdwn(f"*Severity*\n{_slack_escape(g.severity or 'none')}", SLACK_FIELD_MAX),
        _mrkdwn(f"*Count*\n{g.count}", SLACK_FIELD_MAX),
        _mrkdwn(f"*Duration*\n{_slack_escape(_since(g))}", SLACK_FIELD_MAX),
        _mrkdwn(f"*Role*\n{_role_text(g)}", SLACK_FIELD_MAX),
    ]
    if g.instances:
        fields.append(
            _mrkdwn(f"*On*\n{_slack_escape(', '.join(g.instances[:5]))}", SLACK_FIELD_MAX)
        )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(title), "fields": fields[:SLACK_FIELDS_MAX]}
    ]
    if g.status != "resolved" and g.actions:
        steps = "\n".join(_slack_step(a) for a in g.actions[:_ACTIONS_PER_GROUP])
        blocks.append({"type": "section", "text": _mrkdwn(f"*First actions*\n{steps}")})
    links = [_slack_link(u, "source graph") for u in g.links]
    if links:
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(link) for link in links[:SLACK_CONTEXT_MAX]],
            }
        )
    blocks.append({"type": "divider"})
    return blocks


def _slack_review(ai: TriageAI) -> list[dict[str, Any]]:
    """Claude's review as two blocks: the text, and a context line marking it model output."""
    e = _slack_escape
    if ai.status == "failed":
        text = f"*Claude's review* failed: {e(ai.reason or 'no reason given')}"
        return [{"type": "context", "elements": [_mrkdwn(text)]}]
    lines = [f"*Claude's review* _({_MODEL_NOTE})_", e(" ".join(ai.explanation.split()))]
    if ai.blast_radius_review:
        lines.append(f"*Blast radius:* {e(' '.join(ai.blast_radius_review.split()))}")
    for a in ai.first_actions:
        lines.append(f"• *{e(a.group)}*{e(_flag(ai, a.group))}: {e(a.action)} (risk {a.risk})")
    return [
        {"type": "section", "text": _mrkdwn("\n".join(lines))},
        {"type": "context", "elements": [_mrkdwn(f"model output from {e(ai.model or 'Claude')}")]},
        {"type": "divider"},
    ]


def _slack(t: Triage) -> str:
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                # plain_text is not parsed for mentions; escaped all the same, so no text
                # field of the message holds a raw `<`.
                "text": _clip(f"Alert triage: {_slack_escape(t.headline)}", SLACK_HEADER_MAX),
                "emoji": True,
            },
        }
    ]
    intro = [f"*{t.firing}* firing, *{t.resolved}* resolved, {len(t.groups)} group(s)"]
    if t.now:
        intro.append(f"as of {_slack_escape(t.now)}")
    if t.likely_cause is not None:
        lc = t.likely_cause
        where = lc.service + (f" {lc.operation}" if lc.operation else "")
        intro.append(
            f"\n*Likely cause (traces/logs):* {_slack_escape(where)}: {_slack_escape(lc.summary)}"
        )
    blocks.append({"type": "section", "text": _mrkdwn(" ".join(intro))})
    blocks.append({"type": "divider"})
    ai = _review(t)
    if ai is not None:
        blocks.extend(_slack_review(ai))
    # Keep room for the closing context block that says what was left out.
    budget = SLACK_MAX_BLOCKS - len(blocks) - 1
    shown = 0
    for g in t.groups:
        group_blocks = _slack_group(g)
        if len(group_blocks) > budget:
            break
        blocks.extend(group_blocks)
        budget -= len(group_blocks)
        shown += 1
    footer: list[str] = []
    if shown < len(t.groups):
        footer.append(f"{len(t.groups) - shown} more group(s) not shown; see the full triage")
    footer.extend(_slack_escape(n) for n in t.notices)
    footer.append("generated by `incident triage`")
    blocks.append({"type": "context", "elements": [_mrkdwn(f) for f in footer[:SLACK_CONTEXT_MAX]]})
    return json.dumps({"blocks": blocks}, indent=2, ensure_ascii=False) + "\n"


def render_triage(t: Triage, fmt: TriageFormat) -> str:
    """The triage as `fmt`: "text", "md", "json" (incident.triage/1) or "slack" (Block Kit).

    For the human formats every string of the triage (alert texts, labels, URLs, commands
    built from labels) is untrusted: control and invisible characters are made visible and
    line breaks flattened before each format escapes what it places. JSON is left as read.
    """
    if fmt in ("text", "md", "slack"):
        t = safe_model(t)
    if fmt == "text":
        return _text(t)
    if fmt == "md":
        return _md(t)
    if fmt == "json":
        return t.to_json() + "\n"
    if fmt == "slack":
        return _slack(t)
    raise UsageError(f"unknown triage format {fmt!r} (expected md, json, text or slack)")
