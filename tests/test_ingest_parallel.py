"""Two-core span conversion of OTLP JSON (incident/ingest/parallel.py): the same bundle as
the one-core path on hostile input, and the one-core answer whenever the child cannot help.

The parallel path is forced with a low threshold on small generated exports, so every test
here runs in well under a second.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from broken_children import garbage, killed_mid_message, raises

from incident.ingest import otlp_json, parallel
from incident.model import Bundle

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


# --- a hostile export ----------------------------------------------------------------------


def _s(v: str) -> dict[str, Any]:
    return {"stringValue": v}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = _s("leaf")
    for n in range(depth):
        if n % 2:
            value = {"arrayValue": {"values": [value, {"intValue": str(n)}]}}
        else:
            value = {"kvlistValue": {"values": [{"key": f"k{n}", "value": value}]}}
    return value


def _attrs(i: int) -> list[dict[str, Any]]:
    out = [
        {"key": "http.method", "value": _s("GET" if i % 3 else "POST")},
        {"key": "http.route", "value": _s(f"/api/r{i % 7}")},
        {"key": "http.status_code", "value": {"intValue": str(200 + i % 5)}},
    ]
    if i % 5 == 0:
        out.append({"key": "ok", "value": {"boolValue": i % 2 == 0}})
        out.append({"key": "ratio", "value": {"doubleValue": "NaN" if i % 10 else 0.5}})
        out.append({"key": "one", "value": {"intValue": 1}})
    if i % 11 == 0:
        out.append({"key": "url", "value": _s(f"https://example.test/item/{i}?" + "q" * 80)})
    if i % 13 == 0:
        out.append({"key": "blob", "value": _s("x" * 20_000)})  # cut and counted
    if i % 17 == 0:
        out.append({"key": "deep", "value": _nested(20 if i % 34 else 3)})
    if i % 19 == 0:
        out.append({"key": "http.method", "value": _s("DUP")})  # a key twice
    return out


def _span(i: int) -> dict[str, Any]:
    trace = f"{i // 6:032x}"
    span: dict[str, Any] = {
        "traceId": trace,
        "spanId": f"{i + 1:016x}",
        "parentSpanId": f"{i:016x}" if i % 6 else "",
        "name": f"op-{i % 9}",
        "kind": i % 6,
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + i * 1000),
        "endTimeUnixNano": str(1_700_000_000_000_000_000 + i * 1000 + 500 + i % 50),
        "attributes": _attrs(i),
        "status": {"code": i % 3, "message": "boom" if i % 3 == 2 else ""},
    }
    hostile: dict[int, Callable[[], None]] = {
        0: lambda: span.update(traceId="zz-not-hex"),  # bad id: skipped
        1: lambda: span.update(parentSpanId=span["spanId"]),  # names itself as parent
        2: lambda: span.update(endTimeUnixNano="0"),  # missing end
        3: lambda: span.update(startTimeUnixNano="later", endTimeUnixNano="soon"),
        4: lambda: span.update(spanId="0" * 16),  # zero span id
        5: lambda: span.update(kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_ERROR"}),
        6: lambda: span.update(name=12345),  # a field of the wrong type: read leniently
        7: lambda: span.update(spanId=f"{i + 1:x}"),  # short id
        8: lambda: span.update(traceId=trace.upper(), kind=99, status={"code": 7}),
    }
    if i % 23 == 0:
        hostile[(i // 23) % len(hostile)]()
    if i % 7 == 0:
        span["events"] = [
            {"timeUnixNano": str(1_700_000_000_000_000_000 + i), "name": "exception",
             "attributes": [{"key": "exception.message", "value": _s(f"e{i % 4}")}]},
            {"timeUnixNano": "bad", "name": "retry"},
        ]  # fmt: skip
    if i % 9 == 0:
        span["links"] = [
            {"traceId": f"{i:032x}", "spanId": f"{i + 7:016x}"},
            {"traceId": "nope", "spanId": ""},
        ]
    return span


def _export(n: int) -> bytes:
    """`n` spans spread over resources (one without a service, one with an old-style
    instrumentationLibrarySpans list, several scopes per resource)."""
    spans = [_span(i) for i in range(n)]
    cuts = [0, n // 10, n // 4, n // 4 + 3, n // 2, n // 2 + 1, (3 * n) // 4, len(spans)]
    resources = []
    for r, (a, b) in enumerate(itertools.pairwise(cuts)):
        attrs = [{"key": "k8s.pod.name", "value": _s(f"pod-{r}")}]
        if r != 2:
            attrs.insert(0, {"key": "service.name", "value": _s(f"svc-{r % 4}")})
        if r == 3:
            attrs.append({"key": "huge", "value": _s("r" * 17_000)})
        mid = (a + b) // 2
        scopes = [{"scope": {"name": "s1"}, "spans": spans[a:mid]}, {"spans": spans[mid:b]}]
        key = "instrumentationLibrarySpans" if r == 5 else "scopeSpans"
        resources.append({"resource": {"attributes": attrs}, key: scopes})
    return json.dumps({"resourceSpans": resources}).encode()


def _read(data: bytes, min_spans: int) -> Bundle:
    doc = otlp_json.decode_document(data, "x.json")
    assert doc is not None
    return otlp_json.read_doc(doc, "x.json", min_spans=min_spans)


def _same(a: Bundle, b: Bundle) -> None:
    assert len(a.spans) == len(b.spans)
    for left, right in zip(a.spans, b.spans, strict=True):
        # Builtins compared as text: NaN equals NaN, types and key order must agree too.
        assert repr(msgspec.to_builtins(left)) == repr(msgspec.to_builtins(right))
    assert a.quality == b.quality
    assert a.inputs == b.inputs


@pytest.fixture
def forks(forked_children: list[int], monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children forked (see conftest), with the fork taken whatever the
    machine."""
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    return forked_children


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each parallel run used the child's spans (True) or fell back (False)."""
    seen: list[bool] = []
    real = parallel._collect

    def spy(*args: Any) -> Any:
        result = real(*args)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(parallel, "_collect", spy)
    return seen


DATA = _export(3000)


# --- same answer ---------------------------------------------------------------------------


def test_parallel_matches_sequential_on_hostile_spans(
    forks: list[int], collected: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    sequential = _read(DATA, min_spans=10**9)
    assert not forks
    q = sequential.quality
    assert q.skipped and q.repaired  # the export is as hostile as meant
    for frame_spans in (parallel.FRAME_SPANS, 97):  # one frame; many, across resources
        monkeypatch.setattr(parallel, "FRAME_SPANS", frame_spans)
        _same(_read(DATA, min_spans=1), sequential)
    assert len(forks) == 2
    assert collected == [True, True]


def _jsonl() -> bytes:
    """Collector JSON Lines: typed trace lines, a line the typed structs do not fit (read as
    generic JSON, between them), a log line and a metric line."""
    lines = [_export(400), _export(300)]
    odd = json.loads(_export(50))
    odd["resourceSpans"][0]["resource"]["attributes"][0]["key"] = 7  # a foreign type
    lines.append(json.dumps(odd).encode())
    log = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}]}]}]}
    lines.append(json.dumps(log).encode())
    lines += [_export(500), b'{"resourceMetrics": []}', _export(200)]
    return b"\n".join(lines) + b"\n"


def test_json_lines_convert_on_two_cores_in_line_order(forks: list[int]) -> None:
    data = _jsonl()
    sequential = otlp_json.read_jsonl(data, "x.jsonl", min_spans=10**9)
    assert not forks
    both = otlp_json.read_jsonl(data, "x.jsonl", min_spans=1)
    # The lines before the generic one, then the lines after it: two conversions.
    assert len(forks) == 2
    _same(both, sequential)
    assert len(both.logs) == len(sequential.logs) == 1


def test_parallel_spans_share_resources_and_strings(forks: list[int]) -> None:
    bundle = _read(DATA, min_spans=1)
    assert len(forks) == 1
    by_pod: dict[str, dict[str, Any]] = {}
    for span in bundle.spans:
        # Every span of a resource holds the one dict, whichever process converted it.
        assert by_pod.setdefault(span.resource["k8s.pod.name"], span.resource) is span.resource
        assert sys.intern(span.name) is span.name
        for key, value in span.attributes.items():
            assert sys.intern(key) is key
            if isinstance(value, str) and len(value) <= 64:
                assert sys.intern(value) is value
    tail = bundle.spans[-1]
    same_trace = [s for s in bundle.spans if s.trace_id == tail.trace_id]
    assert all(s.trace_id is tail.trace_id for s in same_trace)


def test_split_cuts_inside_a_scope_and_keeps_order() -> None:
    segments = [(0, [b"a"] * 3), (1, [b"b"] * 10), (2, [b"c"] * 2)]
    head, tail = parallel._split(segments, 15)  # type: ignore[arg-type]
    flat = [x for _, raws in head + tail for x in raws]
    assert flat == [x for _, raws in segments for x in raws]
    assert sum(len(r) for _, r in tail) == max(1, int(15 * parallel.CHILD_SHARE))
    assert head[-1][0] == tail[0][0] == 1


# --- the one-core answer when the child cannot help ----------------------------------------


_killed = killed_mid_message(b"\x93")  # how a msgpack array begins


def _child_breaks(monkeypatch: pytest.MonkeyPatch, how: Callable[[Any, int], None]) -> None:
    monkeypatch.setattr(parallel, "_child", how)


def _short_frame(tail: Any, wfd: int) -> None:
    frame = parallel._frame([(0, 5)], [])  # claims 5 spans, holds none
    for msg in (frame, parallel._Done([0] * 6)):
        blob = parallel._ENCODER.encode(msg)
        os.write(wfd, len(blob).to_bytes(8, "little") + blob)


def _hangs(tail: Any, wfd: int) -> None:
    time.sleep(60)


@pytest.mark.parametrize("how", [_killed, raises, garbage, _short_frame, _hangs])
def test_a_failed_child_falls_back_to_one_core(
    how: Callable[[Any, int], None],
    forks: list[int],
    collected: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sequential = _read(DATA, min_spans=10**9)
    monkeypatch.setattr(parallel, "MIN_WAIT_S", 0.5)  # the hanging child is killed then
    _child_breaks(monkeypatch, how)
    started = time.monotonic()
    _same(_read(DATA, min_spans=1), sequential)
    assert time.monotonic() - started < 30
    assert len(forks) == 1
    assert collected == [False]


def test_the_child_runs_no_atexit_handlers(forks: list[int], tmp_path: Path) -> None:
    marker = tmp_path / "atexit-ran"

    def handler() -> None:
        marker.write_text(str(os.getpid()))

    atexit.register(handler)
    try:
        _read(DATA, min_spans=1)
    finally:
        atexit.unregister(handler)
    assert len(forks) == 1
    assert not marker.exists()


def test_a_failed_fork_converts_here(monkeypatch: pytest.MonkeyPatch) -> None:
    sequential = _read(DATA, min_spans=10**9)

    def no_fork() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    _same(_read(DATA, min_spans=1), sequential)


# --- when the parallel path is not taken ---------------------------------------------------


def _convert_says(data: bytes, min_spans: int | None = None) -> bool:
    doc = otlp_json.decode_document(data, "x.json")
    assert doc is not None
    sink = otlp_json.SpanSink(otlp_json.Tally("x.json"))
    return parallel.convert(otlp_json._resource_lists(doc), sink, min_spans)


def test_not_taken_for_small_inputs_one_cpu_threads_or_no_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert parallel.MIN_SPANS > 3000
    assert not _convert_says(DATA)  # small
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not parallel.can_fork()
    assert not _convert_says(DATA, min_spans=1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert parallel.can_fork() is (threading.active_count() == 1)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert not parallel.can_fork()
    finally:
        stop.set()
        worker.join()
    monkeypatch.delattr(os, "fork")
    assert not parallel.can_fork()


def test_empty_document_is_not_forked_for(forks: list[int]) -> None:
    bundle = _read(b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}', min_spans=1)
    assert bundle.spans == []
    assert not forks
