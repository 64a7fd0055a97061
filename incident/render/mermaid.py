"""Mermaid gantt charts of a critical path, restricted to a subset that GitHub renders and
that no span name can break."""

from __future__ import annotations

import re

from incident.report import CriticalPath

MAX_STEPS = 40

# Words that start a gantt statement; a task named like this would be misread.
_MERMAID_KEYWORDS = (
    "title",
    "section",
    "dateformat",
    "axisformat",
    "tickinterval",
    "excludes",
    "includes",
    "todaymarker",
    "weekday",
    "weekend",
    "acctitle",
    "accdescr",
    "inclusiveenddates",
    "topaxis",
    "click",
    "gantt",
)
_MERMAID_UNSAFE = re.compile(r"[^0-9A-Za-z _./()\-+=@\[\]]+")


def mermaid_name(text: str, limit: int = 60) -> str:
    """A name safe in a gantt title, section or task: no `:`, `;`, `#`, `%`, quotes or HTML."""
    cleaned = " ".join(_MERMAID_UNSAFE.sub(" ", text).split())
    if not cleaned:
        cleaned = "unnamed"
    if cleaned.split(" ", 1)[0].lower() in _MERMAID_KEYWORDS:
        cleaned = "op " + cleaned
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3].rstrip() + "..."
    return cleaned


def mermaid_gantt(path: CriticalPath) -> str:
    """A gantt chart of one critical path, times in milliseconds from the trace start."""
    steps = path.steps[:MAX_STEPS]
    heaviest = max(range(len(steps)), key=lambda i: steps[i].self_ms) if steps else -1
    span = max((s.start_ms + s.duration_ms for s in steps), default=0.0)
    axis = "%S.%L" if span < 60_000 else "%M.%S"
    lines = [
        "```mermaid",
        "gantt",
        f"    title {mermaid_name(f'Trace {path.trace_id[:16]} {path.entrypoint}', 90)}",
        "    dateFormat x",
        f"    axisFormat {axis}",
        "    todayMarker off",
    ]
    section: str | None = None
    for index, step in enumerate(steps):
        name = mermaid_name(step.service, 40)
        if name != section:
            lines.append(f"    section {name}")
            section = name
        start = round(step.start_ms)
        end = max(start + 1, round(step.start_ms + step.duration_ms))
        tags = []
        if step.error:
            tags.append("crit")
        if index == heaviest:
            tags.append("active")
        prefix = ", ".join(tags) + ", " if tags else ""
        label = mermaid_name(f"{step.operation} self {step.self_ms:.0f} ms")
        lines.append(f"    {label} :{prefix}{start}, {end}")
    lines.append("```")
    return "\n".join(lines)
