"""Live sources and the command line: the real `python -m incident` against a loopback
backend, the time flags, the scheme registry, and the trace sample's rules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest
from test_sources_server import (  # the fake backend and its fixtures
    FIXTURES,
    ROOT,
    Backend,
    ok,
    quiet_env,
    run_cli,
    serve,
)

from incident.errors import UsageError
from incident.sources import FETCHERS, is_url, timerange
from incident.sources.sample import Candidate, choose


@pytest.fixture
def backend() -> Iterator[Backend]:
    yield from serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_env(monkeypatch)


FIND = "/api/v3/traces"
FLAGS = ("--since", "30m", "--service", "x", "--format", "json")


def test_the_installed_entry_point_diagnoses_a_jaeger_url(backend: Backend) -> None:
    """`python -m incident diagnose jaeger+http://... --since 30m --service x` in a process."""
    backend.routes[FIND] = ok((FIXTURES / "jaeger-FindTraces.json").read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "INCIDENT_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "incident", "diagnose", backend.url("jaeger"), *FLAGS],
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["schema"].startswith("incident.report/")
    assert "fetching 1 of 1 traces found" in proc.stderr.decode()
    (search,) = backend.requests_to(FIND)
    assert search.params["query.service_name"] == ["x"]


def test_a_url_without_a_window_reads_the_last_hour_and_says_so_once(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two URLs, no --since: one notice, and both searches cover the last hour."""
    backend.routes[FIND] = ok((FIXTURES / "jaeger-FindTraces.json").read_bytes())
    url = backend.url("jaeger")
    res = run_cli(capsys, monkeypatch, "inspect", url, url, "--service", "x")
    assert res.code == 0, res.err
    assert res.err.count("reading the last hour") == 1
    for seen in backend.requests_to(FIND):
        start = datetime.fromisoformat(seen.params["query.start_time_min"][0])
        end = datetime.fromisoformat(seen.params["query.start_time_max"][0])
        assert (end - start).total_seconds() == pytest.approx(3600, abs=1)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--since", "30m", "--from", "2026-11-29T10:00:00Z"], "give --since or --from/--to"),
        (["--since", "soon"], "--since 'soon' is not a duration"),
        (["--from", "2026-11-29T10:00:00"], "has no time zone"),
        (["--from", "yesterday"], "is not an RFC 3339 time"),
        (["--to", "2026-11-29T10:00:00Z"], "--to needs --from"),
        (
            ["--from", "2026-11-29T11:00:00Z", "--to", "2026-11-29T10:00:00Z"],
            "--from must be before --to",
        ),
    ],
)
def test_bad_time_flags_are_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    words: str,
) -> None:
    """Every malformed window is a usage error (exit 2) before anything is fetched."""
    res = run_cli(capsys, monkeypatch, "inspect", "tempo+http://127.0.0.1:9", *flags)
    assert res.code == 2
    assert words in res.one_line()


def test_registry_names_each_backend_once_and_a_file_is_no_url() -> None:
    """The scheme registry decides what is a URL; paths, '-' and Windows drives are not."""
    assert {"jaeger", "tempo", "loki", "alertmanager"} <= set(FETCHERS)
    assert is_url("jaeger+https://jaeger.example:16686")
    assert is_url("LOKI+http://127.0.0.1:3100")
    assert not is_url("traces.json")
    assert not is_url("-")
    assert not is_url("C:\\exports\\traces.json")
    assert not is_url("http://example.com/traces.json")


def test_durations_and_times_parse_to_nanoseconds() -> None:
    """30m, 1h30m, 2d; RFC 3339 with Z or an offset; rfc3339() writes it back."""
    assert timerange.parse_duration("30m", "--since") == 1800 * 10**9
    assert timerange.parse_duration("1h30m", "--since") == 5400 * 10**9
    assert timerange.parse_duration("2d", "--since") == 172800 * 10**9
    ns = timerange.parse_time("2026-11-29T10:00:00.5+01:00", "--from")
    assert timerange.rfc3339(ns) == "2026-11-29T09:00:00.500000000Z"
    with pytest.raises(UsageError):
        timerange.parse_duration("0m", "--since")


def test_the_sample_takes_failed_then_slowest_then_a_seeded_share() -> None:
    """8 of 100: 2 failed, 4 slowest, 2 random; the same seed gives the same choice."""
    found = [Candidate(f"{i:032x}", duration_ns=i, failed=i in (3, 7)) for i in range(100)]
    chosen = choose(found, 8, seed=1)
    ids = [c.trace_id for c in chosen]
    assert ids[:2] == [f"{7:032x}", f"{3:032x}"]
    assert ids[2:6] == [f"{i:032x}" for i in (99, 98, 97, 96)]
    assert len(set(ids)) == 8
    assert [c.trace_id for c in choose(found, 8, seed=1)] == ids
    assert [c.trace_id for c in choose(found, 8, seed=2)][6:] != ids[6:]
    assert choose(found[:5], 8) == found[:5]
