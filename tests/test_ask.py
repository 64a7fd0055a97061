"""`incident ask` and `incident diagnose --investigate` through the real CLI entry point,
against the scripted loopback stand-in of `test_investigate.py` (real SDK and HTTP stack);
and the redaction corpus planted in traces, logs and alerts (the fixtures of
`test_leaks_end_to_end.py`): no secret in any request body of a whole investigation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_investigate import (
    SAMPLE,
    SUBMIT,
    StandIn,
    api,  # noqa: F401  (a fixture)
    forced,
    results,
    submit,
    tool_use,
)
from test_leaks_end_to_end import bundle, planted  # noqa: F401  (fixtures)
from test_redact_hostile import SEED, Planted, leaks


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """`incident ARGS` through `incident.cli.main` in this process."""
    from incident import cli as entry

    argv = ["incident", *args]
    monkeypatch.setattr(sys, "argv", argv)
    capsys.readouterr()
    try:
        entry.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def test_ask_prints_the_answer_marked_as_model_output(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.script = [tool_use(("list_services", {})), submit("E1")]
    proc = cli(monkeypatch, capsys, "ask", "Why is checkout slow?", str(SAMPLE), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Q: Why is checkout slow?")
    assert "ANSWER (model output" in out and "H1 80%: Slow queries on the database [E1]" in out
    assert "investigated in 2 turns, 1 tool calls (0 with errors)" in out
    assert "Deterministic verdict:" in out
    assert "The engineer's question: Why is checkout slow?" in json.dumps(api.bodies[0])
    assert len(api.bodies) == 2


def test_ask_json_and_markdown_carry_the_transcript(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    api.after = lambda body: submit("E1") if results(body) else tool_use(("list_alerts", {}))
    proc = cli(monkeypatch, capsys, "ask", "What fired?", str(SAMPLE), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "incident.answer/1" and doc["question"] == "What fired?"
    calls = doc["ai"]["investigation"]["turns"][0]["calls"]
    assert calls[0]["tool"] == "list_alerts" and calls[0]["result"]
    md = tmp_path / "answer.md"
    proc = cli(
        monkeypatch, capsys, "ask", "What fired?", str(SAMPLE), "--format", "md", "-o", str(md)
    )
    assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    assert text.startswith("### Question: What fired?")
    assert "**Model output**" in text and "<details>" in text and "list_alerts" in text


def test_ask_without_a_key_says_so_and_require_ai_exits_3(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    proc = cli(monkeypatch, capsys, "ask", "Why?", str(SAMPLE))
    assert proc.returncode == 0
    assert (
        "No answer from Claude: the AI step skipped (ANTHROPIC_API_KEY is not set)" in proc.stdout
    )
    proc = cli(monkeypatch, capsys, "ask", "Why?", str(SAMPLE), "--require-ai")
    assert proc.returncode == 3
    proc = cli(monkeypatch, capsys, "ask", "  ", str(SAMPLE))
    assert proc.returncode == 2 and "question is empty" in proc.stderr
    assert api.bodies == []


def test_diagnose_investigate_flags_reach_the_loop(
    api: StandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--max-turns 2: one exploring turn, then the forced answer; the report's JSON has the
    transcript and the terminal line goes to stderr as usual."""
    api.after = lambda body: submit("E1") if forced(body) else tool_use(("list_services", {}))
    proc = cli(
        monkeypatch,
        capsys,
        "diagnose",
        str(SAMPLE),
        "--investigate",
        "--max-turns",
        "2",
        "--max-cost",
        "0.5",
        "--format",
        "json",
        "--require-ai",
    )
    assert proc.returncode == 0, proc.stderr
    inv = json.loads(proc.stdout)["ai"]["investigation"]
    assert inv["stopped"] == "turns" and len(inv["turns"]) == 2
    assert inv["max_turns"] == 2 and inv["max_cost_usd"] == 0.5
    assert [forced(b) for b in api.bodies] == [False, True]


def test_no_secret_in_any_request_body_of_a_whole_investigation(
    api: StandIn,  # noqa: F811
    bundle: Path,  # noqa: F811
    planted: list[Planted],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The corpus planted in failing spans' status messages, error logs and alert labels
    and annotations; Claude calls every tool that shows them. Every byte sent to the API,
    and the JSON report with its transcript, holds none of them; the tools did show the
    planted records (as placeholders), so the check is not vacuous."""
    from incident import pipeline

    run = pipeline.Run(pipeline.diagnose(pipeline.load([str(bundle)])))
    failing = sorted({f.service for f in run.report.failures}) or ["orders"]
    calls = [
        ("search_logs", {"query": "payment step", "limit": 50}),
        ("list_alerts", {}),
        *[("service_failures", {"service": s, "limit": 20}) for s in failing[:3]],
        *[("get_evidence", {"id": e.id}) for e in run.report.evidence[:8]],
        ("critical_path", {}),
        ("list_operations", {"sort": "errors", "limit": 50}),
    ]
    api.script = [tool_use(*calls[:4]), tool_use(*calls[4:]), submit("E1")]
    question = f"Is {planted[0].value} involved?"
    proc = cli(
        monkeypatch,
        capsys,
        "ask",
        question,
        str(bundle),
        "--format",
        "json",
        "--no-cache",
        "--max-turns",
        "4",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(api.raw) == 3
    for raw in api.raw:
        assert leaks(raw.decode("utf-8", "replace"), planted) == [], f"seed {SEED}"
    assert leaks(proc.stdout, planted) == [], f"seed {SEED}"
    shown = " ".join(r["content"] for body in api.bodies[1:] for r in results(body))
    assert shown.count("<secret:") + shown.count("<email:") >= 5, "the tools showed them"
    assert SUBMIT in json.dumps(api.bodies[0]["tools"])
