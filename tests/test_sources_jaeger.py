"""`jaeger+http://` through the real command line, against a loopback Jaeger API v3.

The bodies are Jaeger's own API v3 snapshots (tests/fixtures/sources, Apache-2.0, see the
README there) and the checkout sample wrapped the way API v3 wraps OTLP (`{"result": ...}`),
streamed as several JSON objects in a row as the gateway may.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from test_sources_server import (  # the fake backend and its fixtures
    FIXTURES,
    Backend,
    Reply,
    Seen,
    by_trace,
    ok,
    quiet_env,
    run_cli,
    sample_resources,
    serve,
    trace_facts,
)

from incident.ingest.detect import read_blob
from incident.ingest.sources import Blob


@pytest.fixture
def backend() -> Iterator[Backend]:
    yield from serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_env(monkeypatch)


SERVICES = "/api/v3/services"
FIND = "/api/v3/traces"
NO_TRACES = {"error": {"httpCode": 404, "message": "No traces found"}}


def streamed(service: str | None = None) -> bytes:
    """The sample as API v3 may stream it: one `{"result": ...}` object per trace."""
    traces = by_trace(sample_resources())
    parts = []
    for resources in traces.values():
        names = {
            a["value"].get("stringValue")
            for r in resources
            for a in r["resource"]["attributes"]
            if a["key"] == "service.name"
        }
        if service is None or service in names:
            parts.append(json.dumps({"result": {"resourceSpans": resources}}))
    return "\n".join(parts).encode()


def jaeger(backend: Backend) -> None:
    def find(seen: Seen) -> Reply:
        service = seen.params["query.service_name"][0]
        body = streamed(service)
        return ok(body) if body else ok(NO_TRACES, 404)

    backend.routes[SERVICES] = ok({"services": ["bff", "users"]})
    backend.routes[FIND] = find


def test_jaeger_own_fixtures_are_read_by_the_otlp_reader() -> None:
    """API v3's FindTraces and GetTrace answers (`result` wrapper) need no reader of their own."""
    for name in ("jaeger-FindTraces.json", "jaeger-GetTrace.json"):
        bundle = read_blob(Blob(name, (FIXTURES / name).read_bytes()))
        assert [(s.trace_id, s.span_id, s.status) for s in bundle.spans] == [
            ("00000000000000000000000000000001", "0000000000000002", 2)
        ]


def test_diagnose_reads_a_service_from_jaeger(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented search parameters are sent and the streamed answer is diagnosed."""
    jaeger(backend)
    res = run_cli(
        capsys,
        monkeypatch,
        "diagnose",
        backend.url("jaeger"),
        "--since",
        "30m",
        "--service",
        "bff",
        "--limit",
        "500",
        "--format",
        "json",
        "--no-ai",
    )
    assert res.code == 0, res.err
    report = json.loads(res.out)
    assert report["verdict"]["status"] == "incident"  # the sample's slow database is found
    assert report["inputs"] == [f"jaeger+http://127.0.0.1:{backend.port} (search)"]
    (search,) = backend.requests_to(FIND)
    p = search.params
    assert p["query.service_name"] == ["bff"]
    start = datetime.fromisoformat(p["query.start_time_min"][0])
    end = datetime.fromisoformat(p["query.start_time_max"][0])
    assert abs((end - start).total_seconds() - 1800) < 1
    assert p["query.search_depth"] == ["1500"]
    assert not backend.requests_to(SERVICES)


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The trace ids the Jaeger source hands on to the readers (filled as it runs)."""
    from incident.sources import otlp_body

    real = otlp_body.keep_traces
    ids: list[str] = []

    def spy(resources: list[dict[str, Any]], keep: set[str]) -> bytes:
        ids[:] = sorted(keep)
        return real(resources, keep)

    monkeypatch.setattr(otlp_body, "keep_traces", spy)
    return ids


def test_limit_samples_failed_then_slowest_then_random(
    backend: Backend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kept: list[str],
) -> None:
    """--limit 20 of 160 traces: every failed trace, then the slowest, said on stderr."""
    backend.routes[FIND] = ok(streamed())
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("jaeger"),
        "--service",
        "bff",
        "--since",
        "1h",
        "--limit",
        "20",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    inv = json.loads(res.out)
    assert inv["traces"] == 20
    assert "fetching 20 of 160 traces found (sampled: 9 failed" in res.err
    facts = {tid: trace_facts(r) for tid, r in by_trace(sample_resources()).items()}
    failed = {tid for tid, (_, bad) in facts.items() if bad}
    slowest_ok = sorted((t for t in facts if t not in failed), key=lambda t: -facts[t][0])[:6]
    assert backend.requests_to(FIND)[0].params["query.search_depth"] == ["60"]
    again = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("jaeger"),
        "--service",
        "bff",
        "--since",
        "1h",
        "--limit",
        "20",
        "--format",
        "json",
    )
    assert json.loads(again.out) == inv  # the random share has a fixed seed
    read_ids = set(kept)
    assert len(read_ids) == 20
    assert failed <= read_ids
    assert set(slowest_ok) <= read_ids


def test_without_service_every_service_is_searched(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --service: GET /api/v3/services, then one search per service, said on stderr."""
    jaeger(backend)
    res = run_cli(
        capsys, monkeypatch, "inspect", backend.url("jaeger"), "--since", "2h", "--format", "json"
    )
    assert res.code == 0, res.err
    assert [s.params["query.service_name"] for s in backend.requests_to(FIND)] == [
        ["bff"],
        ["users"],
    ]
    assert "no --service given, searching all 2 services" in res.err


def test_an_empty_search_is_one_clear_line(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jaeger's 404 "No traces found" is an empty answer, reported as such (exit 2)."""
    jaeger(backend)
    res = run_cli(
        capsys, monkeypatch, "diagnose", backend.url("jaeger"), "--since", "5m", "--service", "x"
    )
    assert res.code == 2
    line = res.one_line()
    assert "no traces for service 'x' from" in line
    assert f"jaeger+http://127.0.0.1:{backend.port}" in line


def test_trace_ids_in_query_are_fetched_by_id(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--query with trace ids: GET /api/v3/traces/{id} for each (Jaeger's own GetTrace)."""
    tid = "00000000000000000000000000000001"
    backend.routes[f"{FIND}/{tid}"] = ok((FIXTURES / "jaeger-GetTrace.json").read_bytes())
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("jaeger"),
        "--query",
        tid,
        "--since",
        "1h",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    assert json.loads(res.out)["spans"] == 1
    assert [s.path for s in backend.seen] == [f"{FIND}/{tid}"]


def test_a_live_baseline_defaults_to_the_same_window_a_day_earlier(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--baseline URL without --baseline-*: the incident window moved back 24 hours."""
    jaeger(backend)
    url = backend.url("jaeger")
    res = run_cli(
        capsys,
        monkeypatch,
        "digest",
        url,
        "--baseline",
        url,
        "--service",
        "bff",
        "--from",
        "2026-11-29T10:00:00Z",
        "--to",
        "2026-11-29T11:00:00Z",
    )
    assert res.code == 0, res.err
    windows = [
        (s.params["query.start_time_min"][0], s.params["query.start_time_max"][0])
        for s in backend.requests_to(FIND)
    ]
    assert windows == [
        ("2026-11-29T10:00:00.000000000Z", "2026-11-29T11:00:00.000000000Z"),
        ("2026-11-28T10:00:00.000000000Z", "2026-11-28T11:00:00.000000000Z"),
    ]
    assert "baseline: no --baseline-since or --baseline-from given" in res.err


def test_baseline_since_is_the_time_just_before_the_incident(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--baseline-since 2h: the two hours that end where the incident window starts."""
    jaeger(backend)
    url = backend.url("jaeger")
    res = run_cli(
        capsys,
        monkeypatch,
        "digest",
        url,
        "--baseline",
        url,
        "--service",
        "bff",
        "--from",
        "2026-11-29T10:00:00Z",
        "--to",
        "2026-11-29T11:00:00Z",
        "--baseline-since",
        "2h",
    )
    assert res.code == 0, res.err
    base = backend.requests_to(FIND)[1].params
    assert base["query.start_time_min"] == ["2026-11-29T08:00:00.000000000Z"]
    assert base["query.start_time_max"] == ["2026-11-29T10:00:00.000000000Z"]
