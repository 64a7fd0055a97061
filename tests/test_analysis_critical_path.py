"""Critical path (Jaeger UI's walk-back) and self time on hand-made traces."""

from __future__ import annotations

from incident.analysis.critical_path import critical_path, self_times
from incident.analysis.trees import build
from incident.model import Span, SpanKind

MS = 1_000_000


def _s(
    sid: str,
    parent: str | None,
    start: int,
    end: int,
    service: str = "a",
    kind: int = SpanKind.INTERNAL,
) -> Span:
    return Span("t", sid, parent, service, sid, kind, start * MS, end * MS)


def _path(spans: list[Span]) -> dict[str, float]:
    t = build(spans)
    segs = critical_path(t, t.roots[0], t.children_of(0))
    out: dict[str, float] = {}
    for i, ns, _ in segs:
        out[spans[i].span_id] = out.get(spans[i].span_id, 0) + ns / MS
    return out


def test_last_finishing_child_is_followed_and_overlaps_skipped() -> None:
    """Of two overlapping children the later-finishing one is on the path; the other only
    where it finished before the cursor reached it."""
    spans = [_s("root", None, 0, 100), _s("a", "root", 10, 60), _s("b", "root", 40, 90)]
    path = _path(spans)
    # root: 90..100 and 0..40 = 50; b: 40..90 = 50; a finishes at 60 > cursor 40: skipped.
    assert path == {"root": 50, "b": 50}
    assert sum(path.values()) == 100


def test_sequential_children_are_all_on_the_path() -> None:
    """Children one after another each contribute their full duration."""
    spans = [_s("root", None, 0, 100), _s("a", "root", 10, 30), _s("b", "root", 40, 90)]
    assert _path(spans) == {"root": 30, "a": 20, "b": 50}


def test_child_outliving_parent_is_clipped() -> None:
    """A child that ends after its parent counts only up to the parent's end."""
    spans = [_s("root", None, 0, 100), _s("a", "root", 50, 180)]
    assert _path(spans) == {"root": 50, "a": 50}


def test_path_reaches_into_grandchildren() -> None:
    """The walk descends: a grandchild's time is on the path, not its parent's."""
    spans = [_s("root", None, 0, 100), _s("a", "root", 10, 90), _s("g", "a", 20, 80)]
    assert _path(spans) == {"root": 20, "a": 20, "g": 60}


def test_lead_time_before_first_child_is_reported() -> None:
    """The time from a span's start to its first critical child is reported as lead time,
    which is where connection-pool waits hide."""
    spans = [_s("root", None, 0, 100), _s("db", "root", 70, 95, kind=SpanKind.CLIENT)]
    t = build(spans)
    segs = {
        spans[i].span_id: (ns // MS, lead // MS)
        for i, ns, lead in critical_path(t, 0, t.children_of(0))
    }
    assert segs["root"] == (75, 70)


def test_self_time_subtracts_union_of_clipped_children() -> None:
    """Self time is the duration minus the union of child intervals clipped to the span."""
    spans = [
        _s("root", None, 0, 100),
        _s("a", "root", 10, 40),
        _s("b", "root", 30, 60),
        _s("c", "root", 90, 150),
    ]
    t = build(spans)
    st = self_times(t, [0, 1], t.children_of(0))
    # union: 10..60 (50) + 90..100 (10) = 60 covered.
    assert st[0] == 40 * MS
    assert st[1] == 30 * MS


def test_deep_trace_does_not_overflow() -> None:
    """A chain far deeper than Python's recursion limit is walked iteratively."""
    depth = 5000
    spans = [_s("0", None, 0, 2 * depth)]
    spans += [_s(str(k), str(k - 1), k, 2 * depth - k) for k in range(1, depth)]
    path = _path(spans)
    assert abs(sum(path.values()) - 2 * depth) < 1e-6
