"""`tempo+http://` through the real command line, against a loopback Tempo.

Written to the documented shapes of Tempo's HTTP API (no Tempo fixture is copied): search
answers `{"traces": [{"traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano",
"durationMs", "spanSets"}], "metrics": {...}}`; GET /api/v2/traces/{id} answers
`{"trace": {"resourceSpans": [...]}}` (OTLP JSON). The spans are the checkout sample's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_sources_server import (  # the fake backend and its fixtures
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


@pytest.fixture
def backend() -> Iterator[Backend]:
    yield from serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_env(monkeypatch)


SEARCH = "/api/search"
TRACE = "/api/v2/traces/"
TRACES = by_trace(sample_resources())
FACTS = {tid: trace_facts(r) for tid, r in TRACES.items()}


def summary(tid: str) -> dict[str, Any]:
    duration, _ = FACTS[tid]
    spans = [s for r in TRACES[tid] for sc in r["scopeSpans"] for s in sc["spans"]]
    first = min(spans, key=lambda s: int(s["startTimeUnixNano"]))
    return {
        "traceID": tid,
        "rootServiceName": "svc",
        "rootTraceName": first["name"],
        "startTimeUnixNano": first["startTimeUnixNano"],
        "durationMs": duration // 1_000_000,
        "spanSets": [{"spans": [{"spanID": first["spanId"]}], "matched": 1}],
    }


def tempo(backend: Backend, held: set[str] | None = None) -> None:
    """Search answers every trace, or only the failed ones for a `status = error` query."""

    def search(seen: Seen) -> Reply:
        q = seen.params["q"][0]
        ids = [t for t in TRACES if "status = error" not in q or FACTS[t][1]]
        limit = int(seen.params["limit"][0])
        return ok({"traces": [summary(t) for t in ids[:limit]], "metrics": {"totalJobs": 1}})

    def trace(seen: Seen) -> Reply:
        tid = seen.path.rsplit("/", 1)[1]
        if tid not in TRACES or (held is not None and tid not in held):
            return ok({"error": "trace not found"}, 404)
        return ok({"trace": {"resourceSpans": TRACES[tid]}})

    backend.routes[SEARCH] = search
    backend.routes[TRACE] = trace


def test_diagnose_reads_traces_found_by_traceql(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search with the service's TraceQL over the window in seconds, then each trace by id."""
    tempo(backend)
    res = run_cli(
        capsys,
        monkeypatch,
        "diagnose",
        backend.url("tempo"),
        "--service",
        "bff",
        "--from",
        "2026-03-14T19:00:00Z",
        "--to",
        "2026-03-14T20:00:00Z",
        "--limit",
        "500",
        "--format",
        "json",
        "--no-ai",
    )
    assert res.code == 0, res.err
    assert json.loads(res.out)["schema"].startswith("incident.report/")
    (search,) = backend.requests_to(SEARCH)
    assert search.params["q"] == ['{ resource.service.name = "bff" }']
    assert search.params["start"] == ["1773514800"]
    assert search.params["end"] == ["1773518400"]
    assert len([s for s in backend.seen if s.path.startswith(TRACE)]) == len(TRACES)
    assert search.headers["accept"] == "application/json"


def test_more_traces_than_the_limit_take_the_failed_ones_first(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second search with `status = error` finds the failed traces; all are fetched."""
    tempo(backend)
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("tempo"),
        "--query",
        '{ span.http.route = "/checkout" }',
        "--since",
        "1h",
        "--limit",
        "12",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    queries = [s.params["q"][0] for s in backend.requests_to(SEARCH)]
    assert queries == [
        '{ span.http.route = "/checkout" }',
        '({ span.http.route = "/checkout" }) && { status = error }',
    ]
    fetched = {s.path.rsplit("/", 1)[1] for s in backend.seen if s.path.startswith(TRACE)}
    assert len(fetched) == 12
    assert {t for t, (_, bad) in FACTS.items() if bad} <= fetched
    assert json.loads(res.out)["traces"] == 12
    # 36 (three times the limit) from the first search, plus failed ones it left out.
    assert "traces found (sampled: 9 failed" in res.err
    assert "fetching 12 of " in res.err


def test_a_trace_gone_between_search_and_fetch_is_skipped_with_a_warning(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """404 for one trace id: a warning naming it; the others are still read."""
    keep = set(list(TRACES)[1:])
    tempo(backend, held=keep)
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("tempo"),
        "--since",
        "1h",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    gone = next(iter(TRACES))
    assert f"/api/v2/traces/{gone}: no longer held (404); skipped" in res.err
    assert json.loads(res.out)["traces"] == len(keep)


def test_an_empty_search_is_one_clear_line(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tempo's empty answer (no `traces` key, only metrics) ends in one line, exit 2."""
    backend.routes[SEARCH] = ok({"metrics": {"inspectedBytes": "0", "totalJobs": 1}})
    res = run_cli(
        capsys, monkeypatch, "diagnose", backend.url("tempo"), "--since", "15m", "--no-ai"
    )
    assert res.code == 2
    assert "no traces match {} from" in res.one_line()


def test_a_bad_traceql_query_shows_tempos_message(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 from the search carries the server's own words, on one line."""
    backend.routes[SEARCH] = (
        400,
        {"Content-Type": "text/plain"},
        b"invalid TraceQL query: parse error at line 1, col 3: syntax error\n",
    )
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("tempo"),
        "--query",
        "{ .",
        "--since",
        "1h",
    )
    assert res.code == 2
    assert "answered 400: invalid TraceQL query: parse error" in res.one_line()
