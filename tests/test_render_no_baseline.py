"""With nothing to compare with, no rendering speaks of latency that was "added" or of a
0 ms baseline: the draft, the terminal view and the digest sent to Claude show where each
request's critical-path time goes. A "no-incident" digest names no incident window."""

from __future__ import annotations

import io
from pathlib import Path

from incident.digest import build_digest
from incident.render.console import render_console
from incident.render.markdown import render_markdown
from incident.report import Report

GOLDEN = Path(__file__).resolve().parent / "golden"


def _without_baseline(verdict: str = "incident") -> Report:
    report = Report.model_validate_json((GOLDEN / "db_latency.report.json").read_text())
    assert report.latency_inflation
    window = report.window.model_copy(
        update={"baseline": "none", "baseline_start": None, "baseline_end": None}
    )
    eps = [ep.model_copy(update={"baseline_requests": 0}) for ep in report.impact.entrypoints]
    impact = report.impact.model_copy(update={"entrypoints": eps})
    status = report.verdict.model_copy(update={"status": verdict})
    return report.model_copy(update={"window": window, "impact": impact, "verdict": status})


def test_the_draft_shows_time_spent_not_added() -> None:
    text = render_markdown(_without_baseline())
    section = text.split("## Latency inflation", 1)[1].split("\n## ", 1)[0]
    assert "No baseline to compare with" in section
    assert "| Hop | Where | Per request | Share of the time |" in section
    assert "Added" not in section and "Baseline" not in section


def test_the_terminal_view_shows_time_spent_not_added() -> None:
    out = io.StringIO()
    render_console(_without_baseline(), width=120, color=False, file=out)
    text = out.getvalue()
    assert "Critical-path time per hop (no baseline)" in text
    assert "Latency inflation" not in text


def test_the_digest_shows_time_spent_and_no_zero_baseline() -> None:
    text = build_digest(_without_baseline()).text
    assert "## Critical-path time per hop (no baseline: nothing to compare with)" in text
    assert "of the critical-path time" in text
    assert "of added latency" not in text and "0.0 ->" not in text
    assert "(baseline 0" not in text


def test_a_no_incident_digest_names_no_incident_window() -> None:
    text = build_digest(_without_baseline("no-incident")).text
    assert "no incident found in it" in text
    assert "incident from" not in text


def _with_a_new_hop() -> Report:
    report = Report.model_validate_json((GOLDEN / "db_latency.report.json").read_text())
    assert report.window.baseline != "none" and report.latency_inflation
    first = report.latency_inflation[0].model_copy(update={"baseline_ms": 0.0, "new_hop": True})
    return report.model_copy(update={"latency_inflation": [first, *report.latency_inflation[1:]]})


def test_a_hop_new_on_the_critical_path_reads_new_not_zero() -> None:
    report = _with_a_new_hop()
    draft = render_markdown(report).split("## Latency inflation", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in draft.splitlines() if ln.startswith("| ")]
    assert rows[0].startswith("| Hop |") and set(rows[1]) <= set("|-: ")
    assert "| new |" in rows[2] and "0.0 ms" not in rows[2]
    assert "| new |" not in rows[3]
    out = io.StringIO()
    render_console(report, width=160, color=False, file=out)
    assert " new " in out.getvalue()
    digest = build_digest(report).text
    assert "new on the critical path ->" in digest and "0.0 ->" not in digest
