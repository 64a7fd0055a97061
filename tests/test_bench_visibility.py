"""bench/visibility.py's measure: a service that stops a call after the cut changes; a calm
export changes by less than x1.5 on both sides; a service is placed behind those that
changed more."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from incident.analysis.trees import build
from incident.model import Span, SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from visibility import _callers, _own, _place

MS = 1_000_000
CUT = 200 * 100 * MS


def _spans(stop_after_cut: bool) -> list[Span]:
    """400 requests: gw calls `pricing`, whose `quote` calls `rates` (until the cut, when
    `stop_after_cut`)."""
    out: list[Span] = []
    for k in range(400):
        tid, t0 = f"{k + 1:032x}", k * 100 * MS
        root, client, server, inner = (f"{k + 1:08x}{j:08x}" for j in (1, 2, 3, 4))
        out += [
            Span(tid, root, None, "gw", "GET /", SpanKind.SERVER, t0, t0 + 20 * MS),
            Span(tid, client, root, "gw", "POST pricing", SpanKind.CLIENT, t0, t0 + 15 * MS),
            Span(tid, server, client, "pricing", "quote", SpanKind.SERVER, t0, t0 + 14 * MS),
        ]
        if not (stop_after_cut and t0 >= CUT):
            out.append(Span(tid, inner, server, "rates", "lookup", SpanKind.SERVER, t0, t0 + MS))
    return out


def _changes(stop_after_cut: bool, service: str = "pricing") -> tuple[float, float, int]:
    table = build(_spans(stop_after_cut))
    names = [s.name for s in table.spans]

    def side(i: int) -> str:
        return "pre" if table.start[i] < CUT else "post"

    own = _own(table, names, service, side)[0]
    place, services = _place(table, names, service, side, own)
    assert services == 3
    return own, _callers(table, names, service, side)[0], place


def test_a_call_that_stops_is_a_large_change_of_the_service() -> None:
    own, _, place = _changes(stop_after_cut=True)
    assert own > math.log(10)
    assert place == 1


def test_a_service_that_changed_nothing_is_placed_behind_those_that_did() -> None:
    own, _, place = _changes(stop_after_cut=True, service="gw")
    assert own <= math.log(1.5)
    assert place == 3


def test_a_calm_export_changes_by_less_than_the_bound_on_both_sides() -> None:
    own, callers, _ = _changes(stop_after_cut=False)
    assert own <= math.log(1.5) and callers <= math.log(1.5)
