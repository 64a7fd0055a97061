"""The tool's own diagnostics: one structlog configuration, text or JSON lines, on stderr only."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from test_cli import SAMPLE, run


def _json_lines(stderr: bytes) -> list[dict[str, object]]:
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert lines, "expected diagnostics on stderr"
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    for event in events:
        assert {"timestamp", "level", "event", "message"} <= set(event), event
        assert event["level"] in {"debug", "info", "warning", "error"}
        stamp = str(event["timestamp"])
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).utcoffset() is not None
    return events


def test_json_log_format_writes_only_json_lines_to_stderr(tmp_path: Path) -> None:
    """`--log-format json diagnose ... -o pm.md`: stderr is JSON lines with level, event and
    timestamp; stdout stays clean; the postmortem is written."""
    out = tmp_path / "pm.md"
    proc = run("--log-format", "json", "diagnose", str(SAMPLE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    events = _json_lines(proc.stderr)
    names = [e["event"] for e in events]
    assert "ai.skipped" in names and "output.written" in names and "diagnose.done" in names
    assert out.read_text().startswith("#")


def test_the_environment_chooses_json_too() -> None:
    proc = run("inspect", str(SAMPLE), env={"INCIDENT_LOG_FORMAT": "json"})
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("Inputs:")  # the result is not a log line


def test_an_input_error_in_json_is_one_json_line_with_exit_2(tmp_path: Path) -> None:
    proc = run("--log-format", "json", "diagnose", str(tmp_path / "missing.json"))
    assert proc.returncode == 2
    (event,) = _json_lines(proc.stderr)
    assert event["level"] == "error" and event["event"] == "input_error"
    assert "missing.json" in str(event["message"]) and event["exit_code"] == 2


def test_text_format_reads_as_sentences() -> None:
    proc = run("diagnose", str(SAMPLE), "--format", "json")
    assert proc.returncode == 0
    lines = proc.stderr.decode().splitlines()
    assert any(line.startswith("AI step skipped") for line in lines)
    assert not any(line.startswith("{") for line in lines)
    json.loads(proc.stdout)  # stdout holds the report and nothing else


@pytest.mark.parametrize(
    ("flag", "shown", "hidden"),
    [
        ("-q", set(), {"ai.skipped", "diagnose.done", "input.loaded"}),
        ("-v", {"input.loaded", "analysis.done", "diagnose.done"}, set()),
    ],
)
def test_verbose_and_quiet_set_the_level(flag: str, shown: set[str], hidden: set[str]) -> None:
    proc = run("--log-format", "json", flag, "diagnose", str(SAMPLE), "--format", "json")
    assert proc.returncode == 0
    names = {str(e["event"]) for e in _json_lines(proc.stderr)} if proc.stderr.strip() else set()
    assert shown <= names and not hidden & names, names
