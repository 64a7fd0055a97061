"""The investigation transcript in the postmortem: one collapsed `<details>` block (turns,
tool calls with their redacted arguments and answer excerpts, usage, why it stopped, and
the evidence the tools created), so the draft stays readable and the trail stays checkable.
"""

from __future__ import annotations

from incident.render.formatting import md_code, md_escape, md_table
from incident.report import Investigation, Usage

_STOPPED = {
    "answered": "Claude submitted its answer",
    "turns": "the turn budget ran out and the answer was asked for",
    "tokens": "the token budget ran out and the answer was asked for",
    "cost": "the cost budget ran out and the answer was asked for",
    "time": "the time limit neared and the answer was asked for",
    "failed": "the investigation failed",
}


# The start of each answer shown in the table (the JSON report keeps a longer excerpt).
_CELL_CHARS = 240


def _usage(u: Usage) -> str:
    text = f"{u.input_tokens:,} input / {u.output_tokens:,} output tokens"
    if u.cache_read_input_tokens:
        text += f" ({u.cache_read_input_tokens:,} read from the prompt cache)"
    if u.estimated_cost_usd is not None:
        text += f", about ${u.estimated_cost_usd:.4f}"
    return text


def _cell(text: str) -> str:
    return md_escape(" ".join(text.split())).replace("|", "\\|") or "—"


def investigation_line(inv: Investigation) -> str:
    """One line about an investigation: turns, tool calls, how it ended."""
    u = inv.usage
    total = u.input_tokens + u.output_tokens + u.cache_read_input_tokens
    total += u.cache_creation_input_tokens
    cost = f", ~${u.estimated_cost_usd:.2f}" if u.estimated_cost_usd is not None else ""
    ended = inv.stopped if inv.status == "ok" else f"failed: {inv.reason or 'no reason'}"
    return (
        f"investigated in {len(inv.turns)} turns, {inv.tool_calls} tool calls "
        f"({inv.tool_errors} with errors), {total:,} tokens{cost}, {ended}"
    )


def investigation_section(inv: Investigation) -> str:
    """The transcript as a collapsed section (GitHub renders `<details>` closed)."""
    turns = len(inv.turns)
    summary = (
        f"Investigation transcript: {turns} turn{'s' if turns != 1 else ''}, "
        f"{inv.tool_calls} tool call{'s' if inv.tool_calls != 1 else ''} "
        f"({inv.tool_errors} answered with an error); {_usage(inv.usage)}"
    )
    lines = [f"**How it ended:** {_STOPPED[inv.stopped]}"]
    if inv.status == "failed":
        lines[0] += f": {md_escape(inv.reason or 'no reason given')}"
    if inv.conclusion:
        lines.append(f"**Conclusion:** {inv.conclusion}")
    if inv.question:
        lines.append(f"**Question:** {md_escape(' '.join(inv.question.split()))}")
    limits = f"**Limits:** {inv.max_turns} turns, {inv.max_tokens:,} tokens"
    if inv.max_cost_usd is not None:
        limits += f", ${inv.max_cost_usd:.2f}"
    lines.append(limits)
    rows = []
    for t in inv.turns:
        if not t.calls:
            rows.append([str(t.turn), "—", "", _cell(t.note) if t.note else "(answer)", ""])
        for c in t.calls:
            result = ("error: " if c.is_error else "") + c.result
            if len(result) > _CELL_CHARS:
                result = result[: _CELL_CHARS - 1] + "…"
            if c.result_chars > len(c.result):
                result += f" ({c.result_chars:,} characters in all)"
            rows.append(
                [
                    str(t.turn),
                    md_code(c.tool, in_table=True),
                    md_code(c.arguments, in_table=True) if c.arguments else "",
                    _cell(result),
                    " ".join(md_escape(e) for e in c.evidence),
                ]
            )
    parts = ["  \n".join(lines)]
    if rows:
        parts.append(md_table(["Turn", "Tool", "Arguments", "Answer (excerpt)", "Evidence"], rows))
    if inv.evidence:
        parts.append(
            "Evidence the tools found:\n\n"
            + md_table(
                ["Id", "Kind", "Reference", "Text"],
                [
                    [md_escape(e.id), e.kind, md_code(e.ref, in_table=True), _cell(e.text[:300])]
                    for e in inv.evidence
                ],
            )
        )
    body = "\n\n".join(parts)
    return f"<details>\n<summary>{md_escape(summary)}</summary>\n\n{body}\n\n</details>"
