"""Live sources over real HTTP on 127.0.0.1: the fake backend every test_sources_* file uses,
and the HTTP client's policy proved against it (auth from the environment, refusals named
without credentials, retries on 429 honouring Retry-After and on 5xx, timeouts, unreachable
hosts, oversized and malformed bodies) through the real command line.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from incident import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "sources"
SAMPLE_TRACES = ROOT / "samples" / "checkout-db-latency" / "traces.otlp.json"
SAMPLE = ROOT / "samples" / "checkout-db-latency"


@dataclass
class Seen:
    """One request as the backend received it."""

    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]


Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[Seen], Reply]


def ok(body: bytes | str | Any, status: int = 200, **headers: str) -> Reply:
    data = (
        body
        if isinstance(body, bytes)
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    return status, {"Content-Type": "application/json", **headers}, data


@dataclass
class Backend:
    """A real HTTP server on a free loopback port answering from `routes`."""

    routes: dict[str, Route | Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, scheme: str) -> str:
        return f"{scheme}+http://127.0.0.1:{self.port}"

    def answer(self, seen: Seen) -> Reply:
        self.seen.append(seen)
        route = self.routes.get(seen.path)
        if route is None:
            prefixes = [p for p in self.routes if p.endswith("/") and seen.path.startswith(p)]
            route = self.routes[max(prefixes, key=len)] if prefixes else None
        if route is None:
            return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
        return route(seen) if callable(route) else route

    def hang(self, seconds: float = 10.0) -> Route:
        """A route that answers only when the test ends (or after `seconds`)."""

        def route(seen: Seen) -> Reply:
            self.release.wait(seconds)
            return ok({})

        return route

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def _handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(
                parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}
            )
            status, headers, body = backend.answer(seen)
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[Backend]:
    """A running Backend until the generator is closed (each test file's `backend` fixture)."""
    fake = Backend()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()


def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short timeouts and no stray credentials or proxies from the developer's environment."""
    monkeypatch.setenv("INCIDENT_HTTP_TIMEOUT", "5")
    for name in ("JAEGER", "TEMPO", "LOKI", "ALERTMANAGER"):
        for what in ("TOKEN", "USER", "PASSWORD", "TENANT"):
            monkeypatch.delenv(f"INCIDENT_{name}_{what}", raising=False)
    for name in ("ANTHROPIC_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def backend() -> Iterator[Backend]:
    yield from serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_env(monkeypatch)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def one_line(self) -> str:
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        return lines[0]


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> Result:
    """The real entry point (`incident ...` = cli.main), in this process."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["incident", *args])
    code: int | str | None = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return Result(int(code or 0), captured.out, captured.err)


# --- the HTTP client's policy ----------------------------------------------------------------

SERVICES = "/api/v3/services"
FIND = "/api/v3/traces"


def _jaeger_ok(backend: Backend) -> None:
    backend.routes[SERVICES] = ok((FIXTURES / "jaeger-GetServices.json").read_bytes())
    backend.routes[FIND] = ok((FIXTURES / "jaeger-FindTraces.json").read_bytes())


def test_bearer_token_and_tenant_come_from_the_environment(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """INCIDENT_<B>_TOKEN / _TENANT become headers; nothing secret is on the command line."""
    _jaeger_ok(backend)
    monkeypatch.setenv("INCIDENT_JAEGER_TOKEN", "s3cr3t-token")
    monkeypatch.setenv("INCIDENT_JAEGER_TENANT", "team-a")
    res = run_cli(capsys, monkeypatch, "inspect", backend.url("jaeger"), "--since", "30m")
    assert res.code == 0, res.err
    sent = backend.requests_to(FIND)[0].headers
    assert sent["authorization"] == "Bearer s3cr3t-token"
    assert sent["x-scope-orgid"] == "team-a"
    assert "s3cr3t" not in res.err + res.out


def test_basic_auth_from_user_and_password(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """INCIDENT_<B>_USER and _PASSWORD are sent as HTTP basic auth."""
    _jaeger_ok(backend)
    monkeypatch.setenv("INCIDENT_JAEGER_USER", "alice")
    monkeypatch.setenv("INCIDENT_JAEGER_PASSWORD", "pw")
    res = run_cli(
        capsys, monkeypatch, "inspect", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 0, res.err
    assert backend.requests_to(FIND)[0].headers["authorization"] == "Basic YWxpY2U6cHc="


def test_credentials_in_the_url_are_refused_without_echoing_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """user:password@ in a source URL is a usage error naming the URL without them."""
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        "loki+https://bob:hunter2@logs.example:3100",
        "--since",
        "1h",
    )
    assert res.code == 2
    line = res.one_line()
    assert "credentials in the URL are refused" in line
    assert "INCIDENT_LOKI_USER" in line
    assert "hunter2" not in line and "bob" not in line
    assert "loki+https://logs.example:3100" in line


@pytest.mark.parametrize(("status", "words"), [(401, "401 Unauthorized"), (403, "403 Forbidden")])
def test_refusal_is_one_line_naming_the_url_and_the_variables(
    backend: Backend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    words: str,
) -> None:
    """401/403: exit 2, the URL without credentials, which variables to set; no retry."""
    backend.routes[FIND] = ok({"message": "denied"}, status)
    monkeypatch.setenv("INCIDENT_JAEGER_TOKEN", "wrong-token")
    res = run_cli(
        capsys, monkeypatch, "diagnose", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 2
    line = res.one_line()
    assert words in line
    assert f"jaeger+http://127.0.0.1:{backend.port}/api/v3/traces" in line
    assert "INCIDENT_JAEGER_TOKEN" in line and "wrong-token" not in line
    assert len(backend.requests_to(FIND)) == 1


def test_not_found_names_the_url(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 404 that is no backend answer (a wrong port, a proxy page) says so in one line."""
    res = run_cli(capsys, monkeypatch, "inspect", backend.url("tempo"), "--since", "5m")
    assert res.code == 2
    line = res.one_line()
    assert "404 Not Found" in line and "/api/search" in line and "a tempo server" in line


def test_429_is_retried_after_the_time_the_server_asks(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """429 with Retry-After: one warning, a wait of that long, then the answer is used."""
    calls: list[float] = []
    import time

    def limited(seen: Seen) -> Reply:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return ok({"message": "slow down"}, 429, **{"Retry-After": "1"})
        return ok((FIXTURES / "jaeger-FindTraces.json").read_bytes())

    backend.routes[FIND] = limited
    res = run_cli(
        capsys, monkeypatch, "inspect", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 0, res.err
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.9
    assert "answered 429; retrying in 1.0s (attempt 2 of 4)" in res.err


def test_429_asking_for_too_long_a_wait_gives_up_at_once(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Retry-After beyond a minute is a refusal, said in one line, not a long hang."""
    backend.routes[FIND] = ok({}, 429, **{"Retry-After": "3600"})
    res = run_cli(
        capsys, monkeypatch, "inspect", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 2
    assert "asks to wait 3600s" in res.one_line()
    assert len(backend.requests_to(FIND)) == 1


def test_server_errors_are_retried_a_bounded_number_of_times(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """5xx: INCIDENT_HTTP_RETRIES more attempts, then one line saying how many were made."""
    monkeypatch.setenv("INCIDENT_HTTP_RETRIES", "2")
    backend.routes[FIND] = ok("upstream down", 503)
    res = run_cli(
        capsys, monkeypatch, "inspect", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 2
    assert len(backend.requests_to(FIND)) == 3
    last = res.err.strip().splitlines()[-1]
    assert "answered 503 after 3 attempts" in last
    assert res.err.count("retrying in") == 2
    assert "Traceback" not in res.err


def test_a_server_that_does_not_answer_times_out(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer within INCIDENT_HTTP_TIMEOUT: one line, exit 2, no traceback."""
    monkeypatch.setenv("INCIDENT_HTTP_TIMEOUT", "0.3")
    monkeypatch.setenv("INCIDENT_HTTP_RETRIES", "0")
    backend.routes[FIND] = backend.hang()
    res = run_cli(
        capsys, monkeypatch, "inspect", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 2
    assert "no answer within 0.3s" in res.one_line()


def test_an_unreachable_backend_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening on the port: exit 2 with 'unreachable' and the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("INCIDENT_HTTP_RETRIES", "1")
    url = f"alertmanager+http://127.0.0.1:{port}"
    res = run_cli(capsys, monkeypatch, "triage", url)
    assert res.code == 2
    last = res.err.strip().splitlines()[-1]
    assert f"{url}/api/v2/alerts: unreachable" in last
    assert "after 2 attempts" in last


def test_a_malformed_body_is_one_line(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body cut off mid-JSON is a format error naming the URL, not a traceback."""
    backend.routes[FIND] = ok(b'{"result": {"resourceSpans": [{"scopeSpans": [')
    res = run_cli(
        capsys, monkeypatch, "diagnose", backend.url("jaeger"), "--service", "foo", "--since", "1h"
    )
    assert res.code == 2
    line = res.one_line()
    assert "/api/v3/traces" in line and "malformed JSON" in line


def test_a_body_over_the_size_limit_is_refused(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--max-input-size bounds every response body as it bounds every file."""
    backend.routes[FIND] = ok(b" " * 5000 + (FIXTURES / "jaeger-FindTraces.json").read_bytes())
    res = run_cli(
        capsys,
        monkeypatch,
        "inspect",
        backend.url("jaeger"),
        "--service",
        "foo",
        "--since",
        "1h",
        "--max-input-size",
        "4K",
    )
    assert res.code == 2
    assert "answered with more than 4 KiB" in res.one_line()


def test_an_unknown_transport_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """jaeger+grpc:// is not read as a file path: it says what to write instead."""
    res = run_cli(capsys, monkeypatch, "inspect", "jaeger+grpc://127.0.0.1:16685", "--since", "1h")
    assert res.code == 2
    assert "write jaeger+http://HOST:PORT or jaeger+https://HOST:PORT" in res.one_line()


# --- data for the backends: the checkout sample, cut per trace ----------------------------


def sample_resources() -> list[dict[str, Any]]:
    """The sample's OTLP resourceSpans (as a Collector would have sent them)."""
    doc = json.loads((SAMPLE / "traces.otlp.json").read_bytes())
    return list(doc["resourceSpans"])


def by_trace(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per trace id, the resourceSpans holding only that trace's spans."""
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        for scope in resource.get("scopeSpans", []):
            groups: dict[str, list[dict[str, Any]]] = {}
            for span in scope.get("spans", []):
                groups.setdefault(span["traceId"], []).append(span)
            for tid, spans in groups.items():
                out.setdefault(tid, []).append(
                    {**resource, "scopeSpans": [{**scope, "spans": spans}]}
                )
    return out


def trace_facts(resources: list[dict[str, Any]]) -> tuple[int, bool]:
    """(duration in ns, whether a span failed) of one trace's resourceSpans."""
    spans = [s for r in resources for sc in r["scopeSpans"] for s in sc["spans"]]
    start = min(int(s["startTimeUnixNano"]) for s in spans)
    end = max(int(s["endTimeUnixNano"]) for s in spans)
    failed = any((s.get("status") or {}).get("code") in (2, "STATUS_CODE_ERROR") for s in spans)
    return end - start, failed


def test_live_source_flags_with_only_files_say_they_went_unused(
    backend: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--since/--service with file inputs would silently change nothing: one notice says so;
    with a live source URL among the inputs, the flags are used and nothing is said."""
    traces = str(SAMPLE_TRACES)
    res = run_cli(capsys, monkeypatch, "inspect", traces, "--since", "30m", "--service", "x")
    assert res.code == 0, res.err
    assert "--since, --service only shape what live source URLs are asked for" in res.err
    res = run_cli(
        capsys, monkeypatch, "digest", traces, "--baseline", traces, "--baseline-since", "1h"
    )
    assert res.code == 0, res.err
    assert "--baseline-since only shape" in res.err
    assert res.err.count("were not used") == 1
    _jaeger_ok(backend)
    res = run_cli(capsys, monkeypatch, "inspect", backend.url("jaeger"), traces, "--since", "30m")
    assert res.code == 0, res.err
    assert "not used" not in res.err
