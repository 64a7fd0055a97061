"""`incident diagnose` with the AI step on, against a loopback stand-in for the Messages API
(ANTHROPIC_BASE_URL), through the real CLI, SDK and HTTP stack: one run as a subprocess, as a
user starts it, the others in-process through the same entry point (faster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "checkout-db-latency"

ANSWER = {
    "explanation": "The database behind the checkout path slowed down; callers waited on it.",
    "hypotheses": [
        {"statement": "Slow queries on the database", "confidence": 0.8, "evidence": ["E1"]},
        {"statement": "A lock held by a batch job", "confidence": 0.2, "evidence": ["E9999"]},
    ],
    "blast_radius_review": "The computed blast radius matches the callers of the database.",
    "first_actions": [
        {"action": "Check slow queries and locks", "risk": "low", "why": "cheapest check"}
    ],
    "open_questions": ["Was there a schema migration?"],
    "narrative": "At the start of the incident the database began answering slowly.",
}


def _message(answer: dict[str, Any]) -> dict[str, Any]:
    """A Messages API response in its documented shape, the answer as one text block."""
    return {
        "id": "msg_01StandInCli",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-5-5",
        "content": [{"type": "text", "text": json.dumps(answer)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 4100,
            "output_tokens": 350,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    mode: ClassVar[str] = "ok"
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        type(self).bodies.append(self.rfile.read(length))
        if self.mode == "ok":
            status, payload = 200, _message(ANSWER)
        else:
            status = 529
            payload = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
                "request_id": "req_standin",
            }
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", "req_standin")
        if status == 529:
            self.send_header("retry-after", "0")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def stand_in() -> Iterator[str]:
    _Handler.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _run(base_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "INCIDENT"))}
    env.update(
        ANTHROPIC_API_KEY="sk-ant-test-dummy-not-a-key",
        ANTHROPIC_BASE_URL=base_url,
        INCIDENT_CACHE_DIR=str(tmp_path / "cache"),
    )
    return subprocess.run(
        [sys.executable, "-m", "incident", "diagnose", str(SAMPLE), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _run_here(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    base_url: str,
    tmp_path: Path,
    *args: str,
) -> subprocess.CompletedProcess[str]:
    """The same command through `incident.cli.main` in this process."""
    from incident import cli

    for key in list(os.environ):
        if key.startswith(("ANTHROPIC", "INCIDENT")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy-not-a-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
    monkeypatch.setenv("INCIDENT_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["incident", "diagnose", str(SAMPLE), *args]
    monkeypatch.setattr(sys, "argv", argv)
    capsys.readouterr()
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def test_answer_lands_in_report_and_postmortem_marked_as_model_output(
    stand_in: str, tmp_path: Path
) -> None:
    """A good answer fills `ai`, flags the unknown evidence id, reports usage on stderr,
    and the postmortem shows it in its own section beside the findings."""
    out = tmp_path / "report.json"
    proc = _run(stand_in, tmp_path, "--format", "json", "-o", str(out), "--require-ai")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    ai = report["ai"]
    assert ai["status"] == "ok"
    assert ai["explanation"].startswith("The database")
    assert "E9999" in ai["unknown_evidence"]
    assert ai["usage"]["input_tokens"] == 4100
    assert "tokens" in proc.stderr
    assert report["root_causes"], "the deterministic findings are still there"
    sent = json.loads(_Handler.bodies[0])
    assert "<telemetry>" in json.dumps(sent["messages"])

    md = tmp_path / "pm.md"
    proc = _run(stand_in, tmp_path, "-o", str(md))
    assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    assert "model output" in text.lower()
    assert "Check slow queries and locks" in text
    assert "## Root cause" in text
    assert len(_Handler.bodies) == 1, "the second run reused the cached answer"


def test_overloaded_api_still_writes_the_report_and_require_ai_exits_3(
    stand_in: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A permanently overloaded API: retried, then the full report with ai.status failed and
    one line on stderr; exit 0, or 3 with --require-ai."""
    _Handler.mode = "overloaded"
    try:
        out = tmp_path / "report.json"
        run = (monkeypatch, capsys, stand_in, tmp_path)
        proc = _run_here(*run, "--format", "json", "-o", str(out), "--ai-timeout", "5")
        assert proc.returncode == 0, proc.stderr
        report = json.loads(out.read_text())
        assert report["ai"]["status"] == "failed"
        assert report["root_causes"]
        failures = [line for line in proc.stderr.splitlines() if "AI step failed" in line]
        assert len(failures) == 1
        assert len(_Handler.bodies) > 1, "a 529 is retried"
        assert "retrying in" in proc.stderr, "each retry is a diagnostic on stderr"
        proc = _run_here(*run, "--format", "json", "--require-ai", "--no-cache")
        assert proc.returncode == 3
        assert json.loads(proc.stdout)["ai"]["status"] == "failed"
    finally:
        _Handler.mode = "ok"
