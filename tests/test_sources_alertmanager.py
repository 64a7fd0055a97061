"""`alertmanager+http://` through the real command line, against a loopback Alertmanager
answering GET /api/v2/alerts with tests/fixtures/sources/alertmanager-alerts.json (written to
the documented `gettableAlerts` shape, see the README there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from test_sources_server import (  # the fake backend and its fixtures
    FIXTURES,
    SAMPLE,
    Backend,
    ok,
    quiet_env,
    run_cli,
    serve,
)


@pytest.fixture
def backend() -> Iterator[Backend]:
    yield from serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_env(monkeypatch)


ALERTS = "/api/v2/alerts"


def test_triage_reads_what_fires_now(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Active, unsilenced alerts, filtered by --query matchers and --service, are triaged."""
    backend.routes[ALERTS] = ok((FIXTURES / "alertmanager-alerts.json").read_bytes())
    res = run_cli(
        capsys,
        monkeypatch,
        "triage",
        backend.url("alertmanager"),
        "--query",
        'severity=~"page|critical",namespace="prod"',
        "--service",
        "checkout",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    assert "CheckoutLatencyHigh" in res.out and "PostgresConnectionsSaturated" in res.out
    (seen,) = backend.requests_to(ALERTS)
    assert seen.params["active"] == ["true"] and seen.params["silenced"] == ["false"]
    assert seen.params["filter"] == [
        'severity=~"page|critical"',
        'namespace="prod"',
        'service="checkout"',
    ]


def test_alerts_from_alertmanager_join_a_diagnosis(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--alerts alertmanager+http://... next to trace and log files: one bundle."""
    backend.routes[ALERTS] = ok((FIXTURES / "alertmanager-alerts.json").read_bytes())
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        str(SAMPLE / "traces.otlp.json"),
        "--alerts",
        backend.url("alertmanager"),
        "--since",
        "1h",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    names = [a["name"] for a in json.loads(res.out)["alerts"]]
    assert names == ["CheckoutLatencyHigh", "PostgresConnectionsSaturated"]


def test_nothing_firing_is_an_answer_not_an_error(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty list: triage says nothing fires (exit 0)."""
    backend.routes[ALERTS] = ok([])
    res = run_cli(capsys, monkeypatch, "triage", backend.url("alertmanager"), "--format", "json")
    assert res.code == 0, res.err
    assert "nothing is firing" in res.out
