"""The whole corpus of secret kinds, with fresh random values, planted where telemetry carries
text (failing spans' status messages, error logs, alert labels and annotations), through the
commands a user runs: nothing of it in the digest, the AI request body, the postmortem, the
JSON report, or triage in any format. The same run with --no-redact shows the secrets did
reach those outputs, so the check is not vacuous. (Replay a failure with the printed seed.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_cli import SAMPLE, run
from test_cli_ai import _Handler, _run_here, stand_in  # noqa: F401  (stand_in is a fixture)
from test_redact_hostile import SEED, Gen, Planted, leaks, secrets


@pytest.fixture(scope="module")
def planted() -> list[Planted]:
    print(f"INCIDENT_REDACT_SEED={SEED}")
    return secrets(Gen(SEED + 1))


@pytest.fixture
def bundle(tmp_path: Path, planted: list[Planted]) -> Path:
    folder = tmp_path / "bundle"
    shutil.copytree(SAMPLE, folder)
    lines = [p.line.replace("\n", " ") for p in planted]
    traces = folder / "traces.otlp.json"
    doc = json.loads(traces.read_text())
    n = 0
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                status: dict[str, Any] = span.get("status") or {}
                if status.get("code") in (2, "STATUS_CODE_ERROR"):
                    status["message"] = lines[n % len(lines)]
                    n += 1
    assert n >= 5, "the sample has failing spans to carry the secrets"
    traces.write_text(json.dumps(doc))
    logs = folder / "app-logs.jsonl"
    records = [json.loads(line) for line in logs.read_text().splitlines()]
    errors = [r for r in records if r["level"] == "error"]
    t0 = errors[0]["timestamp"]
    extra = [
        {**errors[0], "timestamp": t0, "event": f"payment step {i}: {line}"}
        for i, line in enumerate(lines)
    ]
    logs.write_text("\n".join(json.dumps(r) for r in records + extra) + "\n")
    alerts = folder / "alertmanager-webhook.json"
    payload = json.loads(alerts.read_text())
    template = payload["alerts"][0]
    payload["alerts"] = [
        {
            **template,
            "labels": {**template["labels"], "alertname": f"Planted{i}", "detail": line},
            "annotations": {"summary": f"{p.key}: {p.value}", "description": line},
            "fingerprint": f"{i:016x}",
        }
        for i, (p, line) in enumerate(zip(planted, lines, strict=True))
    ]
    alerts.write_text(json.dumps(payload))
    return folder


OUTPUTS = [
    ("digest", ()),
    ("diagnose", ("--format", "md")),
    ("diagnose", ("--format", "json")),
    ("triage-text", ("--format", "text")),
    ("triage-md", ("--format", "md")),
    ("triage-json", ("--format", "json")),
    ("triage-slack", ("--format", "slack")),
]


def _command(name: str, args: tuple[str, ...], folder: Path) -> list[str]:
    if name.startswith("triage"):
        return ["triage", str(folder / "alertmanager-webhook.json"), *args]
    return [name, str(folder), "--no-ai", *args] if name == "diagnose" else [name, str(folder)]


@pytest.mark.parametrize(("name", "args"), OUTPUTS, ids=[f"{n}{'-'.join(a)}" for n, a in OUTPUTS])
def test_no_secret_in_what_is_shared(
    bundle: Path, planted: list[Planted], name: str, args: tuple[str, ...]
) -> None:
    proc = run(*_command(name, args, bundle))
    assert proc.returncode == 0, proc.stderr.decode()
    assert leaks(proc.stdout.decode(), planted) == [], f"seed {SEED}"
    if name != "digest":  # the digest has no --no-redact: it is always what is sent
        raw = run(*_command(name, args, bundle), "--no-redact")
        assert raw.returncode == 0
        assert len(leaks(raw.stdout.decode(), planted)) >= len(planted) // 4


def test_no_secret_in_the_ai_request_body(
    bundle: Path,
    planted: list[Planted],
    stand_in: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What the API receives, byte for byte, through the real SDK and HTTP stack."""
    monkeypatch.setattr("test_cli_ai.SAMPLE", bundle)
    _Handler.bodies = []
    proc = _run_here(monkeypatch, capsys, stand_in, tmp_path, "--format", "json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert _Handler.bodies, "the AI request was sent"
    for body in _Handler.bodies:
        assert leaks(body.decode("utf-8", "replace"), planted) == [], f"seed {SEED}"
    report = json.loads(proc.stdout)
    assert leaks(json.dumps(report), planted) == []
