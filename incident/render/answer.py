"""The answer of `incident ask`: Claude's answer to one question about the incident, marked
as model output, with the deterministic verdict beside it and the investigation's
transcript (text: one line; Markdown: the collapsed section; JSON: "incident.answer/1").
"""

from __future__ import annotations

import json
from typing import Literal

from incident.errors import UsageError
from incident.escape import safe_model
from incident.render.formatting import md_escape
from incident.render.markdown import MULTILINE_FIELDS, ai_section
from incident.render.md_investigation import investigation_line
from incident.render.md_story import verdict_line
from incident.report import Report

AnswerFormat = Literal["text", "md", "json"]
SCHEMA = "incident.answer/1"


def _text(report: Report, question: str) -> str:
    ai = report.ai
    v = report.verdict
    lines = [f"Q: {' '.join(question.split())}", ""]
    if ai.status != "ok":
        lines.append(
            f"No answer from Claude: the AI step {ai.status} ({ai.reason or 'no reason'})."
        )
    else:
        lines.append("ANSWER (model output; check it against the evidence it cites)")
        lines.append(ai.explanation.strip())
        for i, h in enumerate(ai.hypotheses, start=1):
            refs = f" [{' '.join(h.evidence)}]" if h.evidence else ""
            unknown = (
                f" (unknown ids: {' '.join(h.unknown_evidence)})" if h.unknown_evidence else ""
            )
            lines.append(f"  H{i} {h.confidence:.0%}: {h.statement}{refs}{unknown}")
        for a in ai.first_actions:
            lines.append(f"  -> {a.action} (risk {a.risk}): {a.why}".rstrip(": "))
        for q in ai.open_questions:
            lines.append(f"  ? {q}")
    if ai.investigation is not None:
        lines.extend(["", investigation_line(ai.investigation)])
    lines.extend(
        ["", f"Deterministic verdict: {v.status} (confidence {v.confidence:.2f}): {v.reason}"]
    )
    return "\n".join(lines) + "\n"


def _md(report: Report, question: str) -> str:
    parts = [
        f"### Question: {md_escape(' '.join(question.split()))}",
        ai_section(report.ai),
        verdict_line(report),
    ]
    return "\n\n".join(parts) + "\n"


def _json(report: Report, question: str) -> str:
    doc = {
        "schema": SCHEMA,
        "question": question,
        "verdict": report.verdict.model_dump(),
        "ai": report.ai.model_dump(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_answer(report: Report, question: str, fmt: AnswerFormat) -> str:
    """The answer as `fmt`. Strings are data: made visible and escaped for text and
    Markdown as in the other views; JSON is left as it is."""
    if fmt == "json":
        return _json(report, question)
    report = safe_model(report, MULTILINE_FIELDS)
    if fmt == "text":
        return _text(report, question)
    if fmt == "md":
        return _md(report, question)
    raise UsageError(f"unknown answer format {fmt!r} (expected text, md or json)")
