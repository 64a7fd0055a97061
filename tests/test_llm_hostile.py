"""The Claude step against a hostile or broken API and a poisoned cache: a scripted loopback
stand-in for the Messages API (ANTHROPIC_BASE_URL) answers with garbage of every kind, and
each test checks that `explain()` finishes within seconds with a usable result or
`status == "failed"` and a one-line reason, and that a second run does not replay the
failure from the cache."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic  # imported up front so timings measure the step, not the SDK's import
import pytest

from incident.digest import Digest, build_digest
from incident.llm import DEFAULT_MODEL, PROMPT_VERSION, cache, explain, restore_placeholders
from incident.llm.evidence import MAX_LABEL, label, read_citation
from incident.llm.explain import MAX_ANSWER_CHARS, MAX_RESPONSE_BYTES
from incident.redact import Redactor
from incident.report import AIResult, Evidence, Report, RootCause

MODEL = DEFAULT_MODEL
EMAIL = "jane.doe@example.com"
# Every run must be over well within this; a run still going is reported, not waited for.
WATCHDOG = 30.0

assert anthropic.__version__

# -- the digest and the answers --------------------------------------------------------------


def hostile_report() -> Report:
    evidence = [
        Evidence(id="E1", kind="log", ref="app.log:1", text=f"pool exhausted for {EMAIL}"),
        Evidence(id="E2", kind="log", ref="app.log:2", text="orders-db p99 4.2 s"),
        Evidence(id="E3", kind="log", ref="app.log:3", text="checkout timed out after 5 s"),
        Evidence(id="E4242", kind="log", ref="app.log:4242", text="deploy 2.14.3 at 09:20"),
    ]
    return Report(
        root_causes=[
            RootCause(
                service="orders-db",
                kind="latency",
                category="transient",
                origin="infrastructure",
                score=0.9,
                summary="connection pool exhausted on orders-db",
                evidence=["E1", "E2", "E3", "E4242"],
            )
        ],
        evidence=evidence,
        inputs=["app.log"],
    )


def hostile_digest() -> Digest:
    return build_digest(hostile_report(), max_tokens=20_000, redactor=Redactor())


def answer(*evidence: str, **fields: Any) -> dict[str, Any]:
    """A valid answer (placeholders as the model writes them) whose first hypothesis cites
    `evidence`."""
    doc: dict[str, Any] = {
        "explanation": "The orders-db pool ran dry; <email:1> saw checkout fail.",
        "hypotheses": [
            {
                "statement": "Pool exhaustion on orders-db",
                "confidence": 0.8,
                "evidence": list(evidence) or ["E1"],
            },
        ],
        "blast_radius_review": "Matches the callers of orders-db.",
        "first_actions": [{"action": "Raise the pool size", "risk": "low", "why": "cheap"}],
        "open_questions": ["Did the 2.14.3 deploy change the pool?"],
        "narrative": "Checkout slowed when orders-db ran out of connections.",
    }
    doc.update(fields)
    return doc


USAGE = {
    "input_tokens": 900,
    "output_tokens": 120,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}


def message(text: str | None = None, **fields: Any) -> dict[str, Any]:
    """A Messages API response in its documented shape, `text` as the one text block."""
    doc: dict[str, Any] = {
        "id": "msg_hostile",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": json.dumps(answer()) if text is None else text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": dict(USAGE),
    }
    doc.update(fields)
    return doc


# -- the scripted stand-in -------------------------------------------------------------------

Reply = Callable[["_Handler"], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replies: list[Reply]
    requests: list[bytes]
    stop: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        srv = self.server
        srv.requests.append(self.rfile.read(length))
        reply = srv.replies[min(len(srv.requests), len(srv.replies)) - 1]
        # The client may hang up on a reply it does not want: what we hope for.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            reply(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


def send(body: bytes, ctype: str = "application/json", status: int = 200, **headers: str) -> Reply:
    def reply(h: _Handler) -> None:
        h.send_response(status)
        h.send_header("content-type", ctype)
        h.send_header("request-id", "req_hostile")
        for name, value in headers.items():
            h.send_header(name.replace("_", "-"), value)
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return reply


def send_json(doc: Any, status: int = 200) -> Reply:
    return send(json.dumps(doc).encode(), status=status)


def send_unsized(body: bytes, chunk: int = 64 * 1024) -> Reply:
    """A 200 without content-length, the body delimited by closing the connection."""

    def reply(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("connection", "close")
        h.end_headers()
        for i in range(0, len(body), chunk):
            h.wfile.write(body[i : i + chunk])

    return reply


def drip(where: str) -> Reply:
    """One byte a second, of the headers or of the body, until the client hangs up or the
    test ends."""
    body = json.dumps(message()).encode()

    def reply(h: _Handler) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        if where == "body":
            h.wfile.write(head)
            h.wfile.flush()
        for byte in (head + body if where == "headers" else body)[:60]:
            if h.server.stop.wait(1.0):
                return
            h.wfile.write(bytes([byte]))
            h.wfile.flush()

    return reply


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[_Server]:
    """The stand-in on 127.0.0.1, the SDK pointed at it, a private cache; `replies` is the
    script (the last reply repeats)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.replies = [send_json(message())]
    server.requests = []
    server.stop = threading.Event()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy-not-a-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("INCIDENT_CACHE_DIR", str(tmp_path / "cache"))
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()


def run(digest: Digest | None = None, timeout: float = 20, **kw: Any) -> tuple[AIResult, float]:
    """explain() with the real SDK, HTTP stack, clock and cache, bounded by a watchdog: a
    run that hangs fails the test instead of the suite. Returns the result and seconds."""
    box: list[AIResult | BaseException] = []

    def target() -> None:
        try:
            box.append(explain(digest or hostile_digest(), model=MODEL, timeout=timeout, **kw))
        except BaseException as exc:  # noqa: BLE001 - reported by the waiting test
            box.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(WATCHDOG)
    took = time.monotonic() - started
    assert not worker.is_alive(), f"explain() still running after {WATCHDOG:.0f} s"
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise AssertionError(f"explain() raised {type(outcome).__name__}: {outcome}")
    return outcome, took


def cache_dir() -> Path:
    return Path(os.environ["INCIDENT_CACHE_DIR"])


def entries() -> list[Path]:
    folder = cache_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def one_line(result: AIResult) -> str:
    reason = result.reason or ""
    assert reason.strip(), "a failure must say why"
    assert "\n" not in reason and "\r" not in reason and len(reason) <= 400, reason
    return reason


def failed_twice_without_caching(server: _Server, **kw: Any) -> str:
    """Two runs: both fail with a one-line reason, both reach the API (nothing poisoned
    the cache), and no entry was written. Returns the reason."""
    first, took = run(**kw)
    assert first.status == "failed", first
    assert took < 10, took
    reason = one_line(first)
    calls = len(server.requests)
    assert calls >= 1
    assert entries() == []
    second, _ = run(**kw)
    assert second.status == "failed" and not second.cached
    assert len(server.requests) == 2 * calls, "the second run must ask the API again"
    assert entries() == []
    return reason


# -- answers the SDK or the parser cannot use -------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expect"),
    [
        pytest.param(
            send(b"<html><body>502 Bad Gateway</body></html>", "text/html"), "text/html", id="html"
        ),
        pytest.param(send(b""), "empty", id="empty-200"),
        pytest.param(send_json({}), "content", id="empty-object"),
        pytest.param(send_json(message(content=None)), "content", id="content-null"),
        pytest.param(send_json([message()]), "list", id="json-list"),
        pytest.param(send(b"[" * 200_000 + b"]" * 200_000), "deep", id="200k-deep"),
        pytest.param(send(b'{"content": [' * 1000), "JSON", id="truncated-json"),
        pytest.param(send(b"\xff\xfe garbage \x00"), "JSON", id="binary"),
        pytest.param(
            send(
                b"event: message_start\ndata: "
                + json.dumps({"type": "message_start", "message": message()}).encode()
                + b"\n\nevent: message_stop\ndata: {}\n\n",
                "text/event-stream",
            ),
            "text/event-stream",
            id="unexpected-sse",
        ),
        pytest.param(
            send(b'event: message_start\ndata: {"type": "message_st', "text/event-stream"),
            "text/event-stream",
            id="truncated-sse",
        ),
        pytest.param(
            send_json(message(content=[{"type": "text", "text": 42}])), "text", id="text-not-str"
        ),
        pytest.param(send_json(message(content=["just a string"])), "block", id="block-not-obj"),
        pytest.param(
            send(gzip.compress(json.dumps(message()).encode()), content_encoding="gzip"),
            "compressed",
            id="gzip-not-asked-for",
        ),
    ],
)
def test_unusable_answers_fail_in_one_line_and_are_not_cached(
    stand_in: _Server, reply: Reply, expect: str
) -> None:
    stand_in.replies = [reply]
    reason = failed_twice_without_caching(stand_in)
    assert expect.lower() in reason.lower(), reason


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "close-delimited"])
def test_a_body_over_the_cap_is_not_read_and_fails(stand_in: _Server, sized: bool) -> None:
    """A 3 MB answer is refused once the cap is passed, with or without content-length."""
    big = json.dumps(message("x" * (3 * MAX_RESPONSE_BYTES))).encode()
    stand_in.replies = [send(big) if sized else send_unsized(big)]
    reason = failed_twice_without_caching(stand_in)
    assert "larger than" in reason, reason


def test_an_answer_text_over_the_cap_fails(stand_in: _Server) -> None:
    """A body under the byte cap whose answer text is longer than any real answer."""
    long = answer(explanation="y" * (MAX_ANSWER_CHARS + 1))
    stand_in.replies = [send_json(message(json.dumps(long)))]
    reason = failed_twice_without_caching(stand_in)
    assert "too long" in reason, reason


def test_a_200_error_object_fails(stand_in: _Server) -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": "boom\nsecond line"}}
    stand_in.replies = [send_json(error)]
    reason = failed_twice_without_caching(stand_in)
    assert "boom" in reason and "second line" not in reason


# -- usable answers with broken bookkeeping ------------------------------------------------


@pytest.mark.parametrize(
    "usage",
    [None, "lots", {"input_tokens": "9", "output_tokens": None}, [1, 2]],
    ids=["missing", "string", "wrong-types", "list"],
)
def test_missing_or_broken_usage_is_unknown_not_a_crash(stand_in: _Server, usage: Any) -> None:
    """The answer is fine, the usage is not: status ok, zero tokens, no cost claimed, and
    the reason says the usage is unknown. The answer is cached and served again."""
    msg = message()
    if usage is None:
        del msg["usage"]
    else:
        msg["usage"] = usage
    stand_in.replies = [send_json(msg)]
    first, _ = run()
    assert first.status == "ok", first.reason
    assert first.usage.input_tokens == 0 and first.usage.estimated_cost_usd is None
    assert "usage" in one_line(first)
    second, _ = run()
    assert second.cached and second.status == "ok"
    assert second.reason == first.reason
    assert len(stand_in.requests) == 1


# -- evidence ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cited", "known"),
    [
        (" E3", ["E3"]),
        ("e3", ["E3"]),
        ("[E3]", ["E3"]),
        ("E3 ", ["E3"]),
        ("see E4242", ["E4242"]),
        ("E03", ["E3"]),
        ("E1, E2", ["E1", "E2"]),
    ],
)
def test_evidence_ids_are_read_tolerantly(stand_in: _Server, cited: str, known: list[str]) -> None:
    stand_in.replies = [send_json(message(json.dumps(answer(cited))))]
    first, _ = run()
    assert first.status == "ok", first.reason
    top = first.hypotheses[0]
    assert top.evidence == known and top.unknown_evidence == []
    assert first.unknown_evidence == []
    second, _ = run()
    assert second.cached and second.hypotheses == first.hypotheses


@pytest.mark.parametrize(
    "cited",
    ["E" + "7" * 5000, "E1234567", "E-three", "", "x" * 50_000, "E99"],
    ids=["5000-digit", "7-digit", "word", "empty", "50k-chars", "absent"],
)
def test_unusable_or_absent_evidence_ids_are_flagged_not_fatal(
    stand_in: _Server, cited: str
) -> None:
    """An id that is not a sane E<digits>, or is not in the digest, is flagged as unknown
    (shortened to one short line), never shown as fact and never a crash; the good id in
    the same hypothesis stays."""
    stand_in.replies = [send_json(message(json.dumps(answer("E1", cited))))]
    first, _ = run()
    assert first.status == "ok", first.reason
    top = first.hypotheses[0]
    assert top.evidence == ["E1"]
    assert len(top.unknown_evidence) == 1 and top.unknown_evidence == first.unknown_evidence
    flagged = top.unknown_evidence[0]
    assert len(flagged) <= 40 and "\n" not in flagged
    second, _ = run()
    assert second.cached and second.unknown_evidence == first.unknown_evidence


def test_a_huge_id_in_prose_is_flagged_not_fatal(stand_in: _Server) -> None:
    prose = answer(explanation="Compare E2 with E" + "9" * 5000 + " and E77.")
    stand_in.replies = [send_json(message(json.dumps(prose)))]
    result, _ = run()
    assert result.status == "ok", result.reason
    assert "E77" in result.unknown_evidence and "E2" not in result.unknown_evidence
    assert all(len(u) <= 40 for u in result.unknown_evidence)


@pytest.mark.parametrize(
    ("cited", "ids", "flagged"),
    [
        ("E3", ["E3"], []),
        (" E3", ["E3"], []),
        ("e3", ["E3"], []),
        ("[E3]", ["E3"], []),
        ("see E4242", ["E4242"], []),
        ("E000042", ["E42"], []),
        ("E0000042", [], ["E0000042"]),
        ("E1 and E1", ["E1"], []),
        ("E12345678", [], ["E12345678"]),
        ("SE3", [], ["SE3"]),
        ("E3x", [], ["E3x"]),
        ("", [], ["(empty)"]),
        ("line\nbreak", [], ["line break"]),
    ],
)
def test_read_citation(cited: str, ids: list[str], flagged: list[str]) -> None:
    assert read_citation(cited) == (ids, flagged)


def test_labels_are_short_single_lines() -> None:
    assert label("E" + "1" * 5000).endswith("…") and len(label("E" + "1" * 5000)) <= MAX_LABEL
    assert label("a\r\nb\x00c") == "a b c"
    assert read_citation("E" + "9" * 5000)[1][0].startswith("E999")


# -- time: the whole step is bounded by --ai-timeout ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_slow_drip_is_cut_at_the_total_timeout(stand_in: _Server, where: str) -> None:
    """One byte a second: a 3 s timeout ends the whole step in about 3 s, not per read."""
    stand_in.replies = [drip(where)]
    result, took = run(timeout=3)
    assert result.status == "failed"
    assert took < 5, f"took {took:.1f} s"
    assert "3 s --ai-timeout" in one_line(result)
    assert entries() == []


@pytest.mark.slow
def test_retries_stop_at_the_total_timeout(stand_in: _Server) -> None:
    """A 529 answered after 1.5 s each time: retries go on only while time is left."""

    def slow_overload(h: _Handler) -> None:
        time.sleep(1.5)
        send_json({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, 529)(h)

    stand_in.replies = [slow_overload]
    result, took = run(timeout=4)
    assert result.status == "failed" and "4 s --ai-timeout" in one_line(result)
    assert took < 6, f"took {took:.1f} s"
    assert 1 <= len(stand_in.requests) <= 3


def test_only_our_retries_run_and_no_compression_is_asked_for(stand_in: _Server) -> None:
    """The SDK's own retries are off (a 529 is retried by our loop, which counts and bounds
    it), and the request asks for an uncompressed reply (the byte cap is on what we get)."""
    from incident.llm import transport
    from incident.llm.budget import Deadline

    assert transport.make_client(Deadline(5)).max_retries == 0
    stand_in.replies = [
        send_json({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, 529)
    ]
    result, _ = run(max_retries=1, sleep=lambda _: None)
    assert result.status == "failed" and "gave up after 2 attempts" in one_line(result)
    assert len(stand_in.requests) == 2


def test_the_request_asks_for_identity_encoding(stand_in: _Server) -> None:
    seen: list[str] = []

    def record(h: _Handler) -> None:
        seen.append(h.headers.get("accept-encoding", ""))
        send_json(message())(h)

    stand_in.replies = [record]
    result, _ = run()
    assert result.status == "ok" and seen == ["identity"]


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_api_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Connection refused on loopback, default retry settings: a few quick tries only."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy-not-a-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", _refused_url())
    monkeypatch.setenv("INCIDENT_CACHE_DIR", str(tmp_path / "cache"))
    result, took = run(timeout=60)
    assert result.status == "failed"
    assert "could not reach" in one_line(result)
    assert took < 3, f"took {took:.1f} s"
    assert entries() == []


# -- the cache -------------------------------------------------------------------------------


def entry_path(digest: Digest) -> Path:
    return cache_dir() / f"{cache.cache_key(digest.text, MODEL, PROMPT_VERSION)}.json"


def _assert_replaced_by_a_fresh_answer(server: _Server, digest: Digest) -> None:
    result, took = run(digest)
    assert took < 10
    assert result.status == "ok" and not result.cached, result.reason
    assert len(server.requests) == 1
    path = entry_path(digest)
    assert path.is_file() and not path.is_symlink()
    assert json.loads(path.read_text())["answer"]["narrative"]
    again, _ = run(digest)
    assert again.cached and len(server.requests) == 1


@pytest.mark.parametrize(
    "poison",
    [
        b"",
        b"not json at all",
        b"\xff\xfe\x00",
        b"[]",
        b'{"answer": {"explanation": 5}}',
        b'{"answer": null, "usage": "x"}',
        b'{"usage": {}}',
        b"[" * 100_000 + b"]" * 100_000,
        b"{" + b" " * (3 * 1024 * 1024) + b"}",
    ],
    ids=[
        "empty",
        "not-json",
        "binary",
        "list",
        "wrong-types",
        "null-answer",
        "no-answer",
        "deep",
        "too-big",
    ],
)
def test_a_corrupt_cache_entry_is_ignored_and_replaced(stand_in: _Server, poison: bytes) -> None:
    digest = hostile_digest()
    path = entry_path(digest)
    path.parent.mkdir(parents=True)
    path.write_bytes(poison)
    _assert_replaced_by_a_fresh_answer(stand_in, digest)


def test_a_cached_answer_with_a_poisoned_id_is_not_fatal(stand_in: _Server) -> None:
    """An entry written by an older version (unnormalised ids) is still served safely."""
    digest = hostile_digest()
    path = entry_path(digest)
    path.parent.mkdir(parents=True)
    entry = {"answer": answer(" E3", "E" + "1" * 5000), "usage": USAGE}
    path.write_text(json.dumps(entry))
    result, _ = run(digest)
    assert result.status == "ok" and result.cached
    assert result.hypotheses[0].evidence == ["E3"]
    assert len(result.unknown_evidence) == 1 and stand_in.requests == []


@pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform == "win32", reason="POSIX only")
@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink-to-fifo", "device", "dangling"])
def test_a_non_regular_cache_entry_is_never_opened(stand_in: _Server, kind: str) -> None:
    """A FIFO would block a reader forever and a device never ends: neither is opened. The
    fresh answer replaces the entry (an empty directory included)."""
    digest = hostile_digest()
    path = entry_path(digest)
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink-to-fifo":
        os.mkfifo(path.parent / "pipe")
        path.symlink_to(path.parent / "pipe")
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.symlink_to(path.parent / "nowhere")
    _assert_replaced_by_a_fresh_answer(stand_in, digest)


def test_a_non_empty_directory_at_the_entry_costs_a_call_not_a_crash(stand_in: _Server) -> None:
    digest = hostile_digest()
    path = entry_path(digest)
    (path / "keep").mkdir(parents=True)
    for _ in range(2):
        result, _ = run(digest)
        assert result.status == "ok" and not result.cached, result.reason
    assert len(stand_in.requests) == 2 and (path / "keep").is_dir()


def test_cache_writes_leave_no_temporary_files(stand_in: _Server) -> None:
    run()
    names = [p.name for p in cache_dir().iterdir()]
    assert len(names) == 1 and names[0].endswith(".json"), names


# -- placeholders ----------------------------------------------------------------------------


def test_the_result_keeps_placeholders_and_restoring_is_a_separate_copy(
    stand_in: _Server,
) -> None:
    """Shareable outputs keep `<email:1>`; restore_placeholders gives a local copy with the
    original values and leaves its argument alone."""
    digest = hostile_digest()
    assert digest.redactor.mapping["<email:1>"] == EMAIL
    result, _ = run(digest)
    assert result.status == "ok", result.reason
    assert "<email:1>" in result.explanation and EMAIL not in result.model_dump_json()
    local = restore_placeholders(result, digest.redactor)
    assert EMAIL in local.explanation and "<email:1>" not in local.explanation
    assert "<email:1>" in result.explanation, "the argument is not modified"
    assert local.hypotheses == result.hypotheses and local.usage == result.usage
    stored = "".join(p.read_text() for p in entries())
    assert EMAIL not in stored and "<email:1>" in stored
