"""Trace assembly: orphans, duplicates, cycles and clock skew are repaired and counted, and the
input spans are left exactly as they were read."""

from __future__ import annotations

from typing import Any

from incident.analysis.trees import build
from incident.model import Span, SpanKind, StatusCode

MS = 1_000_000


def _span(
    sid: str,
    parent: str | None,
    service: str = "a",
    start: int = 0,
    end: int = 10,
    kind: int = SpanKind.INTERNAL,
    trace: str = "t1",
    status: int = StatusCode.UNSET,
    attributes: dict[str, Any] | None = None,
) -> Span:
    return Span(
        trace,
        sid,
        parent,
        service,
        f"op-{sid}",
        kind,
        start * MS,
        end * MS,
        status,
        attributes=attributes or {},
    )


def test_orphans_become_roots_and_are_counted() -> None:
    """A span whose parent is missing is a root of its own and counted as an orphan."""
    t = build([_span("1", None), _span("2", "1"), _span("3", "missing")])
    assert t.orphans == 1
    assert list(t.parent) == [-1, 0, -1]


def test_parent_in_another_trace_is_an_orphan() -> None:
    """A parent id that resolves to a span of another trace does not link across traces."""
    t = build([_span("1", None, trace="t1"), _span("2", "1", trace="t2")])
    assert t.parent[1] == -1 and t.orphans == 1


def test_self_parent_and_longer_cycles_are_broken_and_counted() -> None:
    """A span that is its own parent, and a two-span loop, end up as roots, counted."""
    spans = [_span("1", "1"), _span("2", "3", trace="t2"), _span("3", "2", trace="t2")]
    t = build(spans)
    assert t.cycles == 2
    assert t.parent[0] == -1
    assert -1 in (t.parent[1], t.parent[2])


def test_zipkin_shared_id_links_server_under_client() -> None:
    """A client and a server sharing one span id become parent and child, not duplicates."""
    client = _span("1", None, "web", 0, 10, SpanKind.CLIENT)
    server = _span("1", None, "api", 1, 9, SpanKind.SERVER)
    t = build([client, server])
    assert t.duplicates == 0
    assert list(t.parent) == [-1, 0]


def test_true_duplicates_are_counted() -> None:
    """The same id twice (not a client/server pair) is counted as a duplicate."""
    t = build([_span("1", None), _span("1", None)])
    assert t.duplicates == 1


def test_clock_skew_centres_server_in_client_and_moves_its_subtree() -> None:
    """A server span starting before its client on another host is shifted (Jaeger's way:
    symmetric latency) and its own children move with it; the input is not mutated."""
    client = _span("c", "r", "web", 10, 30, SpanKind.CLIENT)
    root = _span("r", None, "web", 0, 50, SpanKind.SERVER)
    # Server clock runs 100 ms behind: it seems to start before its client.
    server = _span("s", "c", "api", -86, -74, SpanKind.SERVER)
    inner = _span("i", "s", "api", -84, -80, SpanKind.INTERNAL)
    spans = [root, client, server, inner]
    t = build(spans)
    assert t.skew_adjusted == 1
    # latency = (20 - 12) / 2 = 4 ms: server starts at 14 ms.
    assert t.start[2] == 14 * MS and t.end[2] == 26 * MS
    assert t.start[3] == 16 * MS and t.end[3] == 20 * MS
    assert server.start_ns == -86 * MS, "input span was mutated"


def test_contained_server_is_not_adjusted() -> None:
    """A server span already inside its client needs no correction."""
    t = build(
        [
            _span("c", None, "web", 0, 30, SpanKind.CLIENT),
            _span("s", "c", "api", 5, 25, SpanKind.SERVER),
        ]
    )
    assert t.skew_adjusted == 0 and t.start[1] == 5 * MS


def test_failure_flags_tell_server_4xx_from_errors() -> None:
    """A server answering 404 is the client's mistake (flag 2); a 500 or an error status is
    a failure (flag 1); old and new attribute names are both read."""
    spans = [
        _span("1", None, kind=SpanKind.SERVER, attributes={"http.status_code": 404}),
        _span(
            "2",
            None,
            kind=SpanKind.SERVER,
            trace="t2",
            attributes={"http.response.status_code": 503},
        ),
        _span("3", None, trace="t3", status=StatusCode.ERROR),
        _span("4", None, kind=SpanKind.SERVER, trace="t4", attributes={"rpc.grpc.status_code": 3}),
        _span("5", None, kind=SpanKind.SERVER, trace="t5", attributes={"http.status_code": 200}),
    ]
    assert list(build(spans).flag) == [2, 1, 1, 2, 0]
