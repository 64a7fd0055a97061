"""Trace assembly's bulk shortcuts: the skew walk restricted to affected traces, cycle detection
by pointer doubling, and flags judged only for suspects give what a full walk gives."""

from __future__ import annotations

from test_analysis_trees import MS, _span

from incident.analysis.semconv import ERROR, USER_ERROR
from incident.analysis.trees import build
from incident.model import Span, SpanKind, StatusCode


def _clean_trace(trace: str) -> list[Span]:
    """A root calling another service whose server span sits inside the client span."""
    return [
        _span(f"{trace}r", None, "web", 0, 50, SpanKind.SERVER, trace),
        _span(f"{trace}c", f"{trace}r", "web", 10, 30, SpanKind.CLIENT, trace),
        _span(f"{trace}s", f"{trace}c", "api", 12, 28, SpanKind.SERVER, trace),
    ]


def test_skew_in_one_trace_moves_only_that_trace() -> None:
    """Among clean traces, the one skewed server span (and its child, listed before it) is
    centred in its client; the other traces keep their times."""
    spans = [
        *_clean_trace("a"),
        _span("bi", "bs", "api", -84, -80, SpanKind.INTERNAL, "b"),
        _span("br", None, "web", 0, 50, SpanKind.SERVER, "b"),
        _span("bc", "br", "web", 10, 30, SpanKind.CLIENT, "b"),
        _span("bs", "bc", "api", -86, -74, SpanKind.SERVER, "b"),
        *_clean_trace("c"),
    ]
    t = build(spans)
    assert t.skew_adjusted == 1
    assert (t.start[6], t.end[6]) == (14 * MS, 26 * MS)
    assert (t.start[3], t.end[3]) == (16 * MS, 20 * MS)
    untouched = [0, 1, 2, 7, 8, 9]
    assert [t.start[i] for i in untouched] == [spans[i].start_ns for i in untouched]
    assert t.roots == [0, 4, 7]


def test_skewed_child_of_skewed_server_is_centred_in_the_moved_parent() -> None:
    """A second cross-service hop under a shifted server is judged on the shifted clock."""
    spans = [
        _span("r", None, "web", 0, 100, SpanKind.SERVER),
        _span("c", "r", "web", 10, 90, SpanKind.CLIENT),
        _span("s", "c", "api", -190, -130, SpanKind.SERVER),  # 60 ms inside an 80 ms call
        _span("c2", "s", "api", -180, -140, SpanKind.CLIENT),
        _span("s2", "c2", "db", 500, 520, SpanKind.SERVER),  # 20 ms inside a 40 ms call
    ]
    t = build(spans)
    assert t.skew_adjusted == 2
    assert (t.start[2], t.end[2]) == (20 * MS, 80 * MS)
    assert (t.start[3], t.end[3]) == (30 * MS, 70 * MS)
    assert (t.start[4], t.end[4]) == (40 * MS, 60 * MS)


def test_cycles_of_every_length_are_found_beside_a_rooted_tree() -> None:
    """Loops of two and four spans (lengths pointer doubling settles on) and of three spans
    (one it never settles on) are cut and counted; the rooted spans keep their links."""
    loops = [("x1", "x2"), ("y1", "y2", "y3"), ("z1", "z2", "z3", "z4")]
    spans = [_span("r", None), _span("k", "r")]
    for ids in loops:
        spans += [_span(sid, ids[k - 1]) for k, sid in enumerate(ids)]
    t = build(spans)
    assert t.cycles == 3
    assert list(t.parent[:2]) == [-1, 0]
    assert sum(1 for p in t.parent if p < 0) == 4
    assert "3 parent cycles were broken" in t.warnings
    settled = [s for s in spans if not s.span_id.startswith("y")]
    assert build(settled).cycles == 2


def test_tree_without_cycles_reports_none() -> None:
    """A deep chain (deeper than a few doubling rounds) is not mistaken for a cycle."""
    spans = [_span("0", None)] + [_span(str(k), str(k - 1)) for k in range(1, 300)]
    t = build(list(reversed(spans)))
    assert t.cycles == 0 and t.orphans == 0
    assert t.roots == [299]


def test_flags_judge_only_spans_that_may_have_failed() -> None:
    """Errors in the status, in HTTP or gRPC codes or an `error` tag are flagged; successes,
    internal spans and a server's 4xx (the client's mistake) are told apart."""
    spans = [
        _span("1", None, kind=SpanKind.SERVER, attributes={"http.status_code": 200}),
        _span("2", None, kind=SpanKind.SERVER, attributes={"http.status_code": 503}),
        _span("3", None, kind=SpanKind.SERVER, attributes={"http.response.status_code": 404}),
        _span("4", None, kind=SpanKind.CLIENT, attributes={"rpc.grpc.status_code": 14}),
        _span("5", None, kind=SpanKind.CLIENT, attributes={"rpc.grpc.status_code": "OK"}),
        _span("6", None, kind=SpanKind.CLIENT, attributes={"error": True}),
        _span("7", None, kind=SpanKind.INTERNAL, attributes={"http.status_code": 500}),
        _span("8", None, kind=SpanKind.INTERNAL, status=StatusCode.ERROR),
        _span("9", None, kind=SpanKind.CLIENT),
    ]
    t = build(spans)
    assert list(t.flag) == [0, ERROR, USER_ERROR, ERROR, 0, ERROR, 0, ERROR, 0]
