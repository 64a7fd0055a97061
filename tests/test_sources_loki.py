"""`loki+http://` through the real command line, against a loopback Loki.

Written to the documented shape of Loki's GET /loki/api/v1/query_range (no Loki fixture is
copied): `{"status": "success", "data": {"resultType": "streams", "result": [{"stream":
{labels}, "values": [["<ns>", "<line>"], ...]}], "stats": {...}}}`, with `start`/`end` in
nanoseconds, `limit` counting entries over all streams and `direction=forward` oldest first.
The lines are the checkout sample's application log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from test_sources_server import (  # the fake backend and its fixtures
    SAMPLE,
    Backend,
    Reply,
    Seen,
    ok,
    quiet_env,
    run_cli,
    serve,
)

from incident.sources import loki


@pytest.fixture
def backend() -> Iterator[Backend]:
    yield from serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_env(monkeypatch)


PATH = "/loki/api/v1/query_range"
BASE = 1_773_516_000_000_000_000
Entry = tuple[int, dict[str, str], str]


def entries(count: int = 12, same_ns: tuple[int, ...] = (3, 4, 5)) -> list[Entry]:
    """`count` sample log lines a second apart, those in `same_ns` at one nanosecond."""
    lines = (SAMPLE / "app-logs.jsonl").read_text().splitlines()[:count]
    out: list[Entry] = []
    for i, line in enumerate(lines):
        at = same_ns[0] if i in same_ns else i
        service = json.loads(line)["service"]
        out.append((BASE + at * 10**9, {"service_name": service, "env": "prod"}, line))
    return out


def fake_loki(backend: Backend, held: list[Entry]) -> None:
    """query_range as Loki answers it: [start, end), oldest first, `limit` entries in all."""

    def query_range(seen: Seen) -> Reply:
        p = seen.params
        start, end, limit = int(p["start"][0]), int(p["end"][0]), int(p["limit"][0])
        assert p["direction"] == ["forward"]
        chosen = sorted((e for e in held if start <= e[0] < end), key=lambda e: e[0])[:limit]
        streams: dict[str, dict[str, object]] = {}
        for ts, labels, line in chosen:
            key = json.dumps(labels, sort_keys=True)
            stream = streams.setdefault(key, {"stream": labels, "values": []})
            stream["values"].append([str(ts), line])  # type: ignore[attr-defined]
        return ok(
            {
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": list(streams.values()),
                    "stats": {"summary": {"totalEntriesReturned": len(chosen)}},
                },
            }
        )

    backend.routes[PATH] = query_range


WINDOW = ("--from", "2026-03-14T19:00:00Z", "--to", "2026-03-14T20:00:00Z")


def test_pages_are_followed_without_losing_or_repeating_lines(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 4; three lines share the boundary nanosecond: all 12 read exactly once."""
    monkeypatch.setattr(loki, "PAGE", 4)
    fake_loki(backend, entries())
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("loki"),
        "--service",
        "bff",
        *WINDOW,
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    assert json.loads(res.out)["logs"] == 12
    pages = backend.requests_to(PATH)
    assert pages[0].params["start"] == ["1773514800000000000"]
    assert pages[0].params["end"] == ["1773518400000000000"]
    assert [p.params["start"][0] for p in pages[1:]] == [
        str(BASE + 3 * 10**9),
        str(BASE + 6 * 10**9),
        str(BASE + 9 * 10**9),
    ]
    assert pages[0].params["query"] == ['{service_name="bff"}']
    assert "12 log lines in 4 page(s)" in res.err


def test_logs_from_loki_join_traces_from_a_file(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--logs loki+http://... next to a trace file: one bundle, the tenant header sent."""
    monkeypatch.setenv("INCIDENT_LOKI_TENANT", "tenant-1")
    fake_loki(backend, entries(40, ()))
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        str(SAMPLE / "traces.otlp.json"),
        "--logs",
        backend.url("loki"),
        "--query",
        '{env="prod"} |= "POST"',
        *WINDOW,
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    inv = json.loads(res.out)
    assert inv["logs"] == 40 and inv["spans"] > 0
    (page,) = backend.requests_to(PATH)
    assert page.params["query"] == ['{env="prod"} |= "POST"']
    assert page.headers["x-scope-orgid"] == "tenant-1"


def test_no_lines_is_one_clear_line(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty window ends in one line naming the query and the window (exit 2)."""
    fake_loki(backend, [])
    res = run_cli(capsys, monkeypatch, "inspect", backend.url("loki"), "--since", "10m")
    assert res.code == 2
    assert 'no log lines match {service_name=~".+"} from' in res.one_line()


def test_a_metric_query_is_refused_in_one_line(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rate(...)` answers a matrix, not log lines: say what is expected."""
    backend.routes[PATH] = ok({"status": "success", "data": {"resultType": "matrix", "result": []}})
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("loki"),
        "--query",
        'rate({app="x"}[1m])',
        "--since",
        "10m",
    )
    assert res.code == 2
    line = res.one_line()
    assert "resultType 'matrix'" in line and "a log query, not a metric one" in line


def test_loki_is_refused_as_an_alert_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`triage loki+http://...` says where a Loki URL belongs, before any request."""
    res = run_cli(capsys, monkeypatch, "triage", "loki+http://127.0.0.1:9", "--since", "1h")
    assert res.code == 2
    assert "Loki holds logs; give it as INPUT or --logs" in res.one_line()
