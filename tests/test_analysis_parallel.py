"""The two-core paths of the analysis give exactly the one-core answers: `trees.build` with
the spans linked in a forked child, and `signals.collect_pair` with the bigger window
aggregated in one; and so they do when that child fails (killed, raising, sending something
that is not what was asked for, hanging) and its part is done here after all."""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from broken_children import garbage, killed_mid_message, raises
from test_analysis_trees import _span

from incident.analysis import forked, signals, trees
from incident.analysis.signals import WindowStats, collect, collect_pair
from incident.analysis.trees import SpanTable, build
from incident.ingest import load
from incident.model import Span, SpanKind

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "checkout-db-latency"
CAP = 40  # fewer critical paths than traces: the sampling step is exercised too


@pytest.fixture(scope="module")
def windows() -> tuple[SpanTable, list[int], list[int]]:
    """The sample's table and two windows of unequal size: the later third and the rest."""
    table = build(load([str(SAMPLE / "traces.otlp.json")]).spans)
    order = sorted(range(len(table.members)), key=lambda t: table.start[table.roots[t]])
    cut = 2 * len(order) // 3
    return table, order[cut:], order[:cut]


@pytest.fixture
def forks(forked_children: list[int], monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children forked (see conftest), with the fork taken whatever the
    machine."""
    monkeypatch.setattr(signals, "can_fork", lambda: True)
    monkeypatch.setattr(trees, "can_fork", lambda: True)
    return forked_children


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each message awaited from a child came (True) or not (False)."""
    seen: list[bool] = []
    real = forked.Child.receive

    def spy(self: forked.Child, wait_s: float) -> object | None:
        result = real(self, wait_s)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(forked.Child, "receive", spy)
    return seen


def _hostile() -> list[Span]:
    """Every repair the linking makes: a cycle, a self-parent, a parent in another trace, a
    missing parent, a Zipkin-style shared client/server id, a repeated id, a skewed server
    span (and its child, listed first), and a span ending before it starts."""
    return [
        _span("r", None, "web", 0, 100, SpanKind.SERVER, "t1"),
        _span("c", "r", "web", 10, 90, SpanKind.CLIENT, "t1"),
        _span("i", "s", "api", -180, -170, SpanKind.INTERNAL, "t1"),
        _span("s", "c", "api", -190, -130, SpanKind.SERVER, "t1"),
        _span("x1", "x2", "web", 0, 5, SpanKind.INTERNAL, "t1"),
        _span("x2", "x1", "web", 0, 5, SpanKind.INTERNAL, "t1"),
        _span("me", "me", "web", 0, 5, SpanKind.INTERNAL, "t1"),
        _span("o", "gone", "web", 0, 5, SpanKind.INTERNAL, "t1"),
        _span("elsewhere", "r", "api", 0, 5, SpanKind.SERVER, "t2"),
        _span("z", None, "web", 0, 40, SpanKind.SERVER, "t3"),
        _span("zc", "z", "web", 5, 35, SpanKind.CLIENT, "t3"),
        _span("zc", "z", "db", 8, 30, SpanKind.SERVER, "t3"),
        _span("dup", "z", "web", 1, 2, SpanKind.INTERNAL, "t3"),
        _span("dup", "z", "web", 3, 4, SpanKind.INTERNAL, "t3"),
        _span("back", "z", "web", 9, 7, SpanKind.INTERNAL, "t3"),
    ]


def _columns(table: SpanTable) -> bytes:
    """Every column and count of a table, in a comparable form."""
    return pickle.dumps({f: getattr(table, f) for f in vars(table) if f != "spans"})


@pytest.mark.parametrize("which", ["sample", "hostile"])
def test_forked_build_matches_one_core(which: str, forks: list[int], received: list[bool]) -> None:
    spans = _hostile() if which == "hostile" else load([str(SAMPLE / "traces.otlp.json")]).spans
    one_core = build(spans, fork_min_spans=10**9)
    assert not forks
    if which == "hostile":  # every repair is made
        assert one_core.cycles == 2 and one_core.orphans == 2 and one_core.duplicates == 1
        assert one_core.skew_adjusted == 1
    assert _columns(build(spans, fork_min_spans=0)) == _columns(one_core)
    assert len(forks) == 1
    assert received == [True, True]  # the links, then whether a cycle is left


def _canon(x: Any) -> Any:
    """`x` as nested lists: dicts keep their order (reports follow it), sets are sorted."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return [(f.name, _canon(getattr(x, f.name))) for f in dataclasses.fields(x)]
    if isinstance(x, dict):
        return [(_canon(k), _canon(v)) for k, v in x.items()]
    if isinstance(x, set):
        return sorted(map(_canon, x))
    if isinstance(x, list | tuple):
        return [_canon(v) for v in x]
    return x


def _plain(ws: WindowStats) -> Any:
    """Everything a window holds but its table, in a comparable form."""
    return _canon(signals._detached(ws))


def _same_pair(
    got: tuple[WindowStats, WindowStats], table: SpanTable, a: list[int], b: list[int]
) -> None:
    want = (collect(table, a, CAP), collect(table, b, CAP))
    for g, w in zip(got, want, strict=True):
        assert g.table is table
        assert g.traces == w.traces
        assert _plain(g) == _plain(w)


@pytest.mark.parametrize("swap", [False, True], ids=["bigger-first", "bigger-second"])
def test_forked_pair_matches_sequential(
    windows: tuple[SpanTable, list[int], list[int]],
    forks: list[int],
    received: list[bool],
    swap: bool,
) -> None:
    table, small, big = windows
    a, b = (big, small) if swap else (small, big)
    _same_pair(collect_pair(table, a, b, CAP, min_spans=0), table, a, b)
    assert len(forks) == 1
    assert received == [True]


def test_small_tables_stay_on_one_core(
    windows: tuple[SpanTable, list[int], list[int]], forks: list[int]
) -> None:
    table, a, b = windows
    _same_pair(collect_pair(table, a, b, CAP), table, a, b)  # default threshold
    assert not forks


# --- the one-core answer when the child cannot help ----------------------------------------


_killed = killed_mid_message(b"\x80\x05")  # how a pickle (protocol 5) begins


def _not_a_window(there: Any, wfd: int) -> None:
    blob = pickle.dumps({"traces": [0], "no_such_field": 1})
    os.write(wfd, len(blob).to_bytes(8, "little") + blob)


def _hangs(there: Any, wfd: int) -> None:
    time.sleep(60)


def _first_only(there: Any, wfd: int) -> None:
    blob = pickle.dumps(next(iter(there())))
    os.write(wfd, len(blob).to_bytes(8, "little") + blob)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("how", [_killed, raises, garbage, _not_a_window, _hangs, _first_only])
def test_a_failed_linking_child_falls_back_to_one_core(
    how: Callable[[Any, int], None],
    forks: list[int],
    received: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spans = _hostile()
    one_core = build(spans, fork_min_spans=10**9)
    monkeypatch.setattr(forked, "_child", how)
    monkeypatch.setattr(forked, "MIN_WAIT_S", 0.5)  # the hanging child is killed then
    started = time.monotonic()
    assert _columns(build(spans, fork_min_spans=0)) == _columns(one_core)
    assert time.monotonic() - started < 30
    assert len(forks) == 1
    # Only what loads is heard, and the links must still be links; a child that dies after
    # sending them leaves only the cycle search to do here.
    want = {_not_a_window: [True], _first_only: [True, False]}.get(how, [False])
    assert received == want


@pytest.mark.parametrize("how", [_killed, raises, garbage, _not_a_window, _hangs])
def test_a_failed_window_child_falls_back_to_one_core(
    how: Callable[[Any, int], None],
    windows: tuple[SpanTable, list[int], list[int]],
    forks: list[int],
    received: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table, a, b = windows
    monkeypatch.setattr(forked, "_child", how)
    monkeypatch.setattr(forked, "MIN_WAIT_S", 0.5)  # the hanging child is killed then
    started = time.monotonic()
    _same_pair(collect_pair(table, a, b, CAP, min_spans=0), table, a, b)
    assert time.monotonic() - started < 30
    assert len(forks) == 1
    # Only a child that exits cleanly is heard; what it sent must still be a window.
    assert received == [how is _not_a_window]


def test_a_failed_fork_aggregates_here(
    windows: tuple[SpanTable, list[int], list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr(signals, "can_fork", lambda: True)
    table, a, b = windows
    _same_pair(collect_pair(table, a, b, CAP, min_spans=0), table, a, b)
