"""Trace assembly in columns: per-span parent index, trace index, failure flag and clock-skew
corrected start/end, built once in linear time without touching the input spans.

The meaning each analysis step reads is computed once per span too (see `columns`): the
failure flag, where the span ran (service, instance, version), its operation and, for spans
that call something else, the peer they call. Columns are filled by bulk passes (`map`,
`compress`, slices) so that the Python loops run over the spans that need a decision only.

On a big input a forked child links the spans (the parent index of each, and whether any
chain is a cycle) while this process reads the columns each span gives on its own; the child
sends the parent indexes back as one int64 array. A child that fails is done without: the
spans are linked here then (see `forked`).
"""

from __future__ import annotations

import gc
import time
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import and_, attrgetter, eq, ge, lt, ne

from incident.analysis.columns import OpKey as OpKey
from incident.analysis.columns import ResKey as ResKey
from incident.analysis.columns import (
    calls_and_peers,
    flags,
    op_ids,
    resource_columns,
)
from incident.analysis.columns import resource_key as resource_key
from incident.analysis.forked import can_fork, patience, spawn
from incident.model import Span, SpanKind

_SERVER, _CLIENT, _UNSPEC, _PRODUCER, _CONSUMER = (
    SpanKind.SERVER,
    SpanKind.CLIENT,
    SpanKind.UNSPECIFIED,
    SpanKind.PRODUCER,
    SpanKind.CONSUMER,
)
_NEG = -1
# Kinds of a callee span the skew correction may move.
_SKEWABLE = frozenset((_SERVER, _UNSPEC))
_TRACE_ID, _SPAN_ID, _PARENT_ID = (
    attrgetter("trace_id"),
    attrgetter("span_id"),
    attrgetter("parent_id"),
)
_START, _END, _KIND, _SERVICE = (
    attrgetter("start_ns"),
    attrgetter("end_ns"),
    attrgetter("kind"),
    attrgetter("service"),
)
# Spans a table must hold before a forked child links them (see above): below that, the
# fork and the transfer cost more than they save.
LINK_MIN_SPANS = 50_000


@dataclass
class SpanTable:
    """Columns indexed by span position in `spans`; traces indexed by first appearance."""

    spans: Sequence[Span]
    trace_ids: list[str]
    # Plain int arrays, not lists: 8 bytes a span instead of a pointer and an int object.
    tix: array[int]
    parent: array[int]
    start: list[int]
    end: list[int]
    flag: bytearray
    members: list[list[int]]
    roots: list[int]  # one root per trace: the earliest-starting span without a parent
    # A span whose children include another service: the caller side of an RPC edge.
    calls_out: bytearray
    service: list[str]
    kind: list[int]
    has_child: bytearray
    # Where each span ran: an index into `res_keys`, and the runs of equal index.
    res: list[int] = field(default_factory=list)
    res_keys: list[ResKey] = field(default_factory=list)
    res_runs: list[tuple[int, int, int]] = field(default_factory=list)
    # A span whose parent is in another service: the callee side of an RPC edge.
    cross: bytearray = field(default_factory=bytearray)
    # Spans standing for a call to something else (`semconv.calls_peer`) and the peer each
    # of them names (None when it names none; None too for every other span).
    calls: bytearray = field(default_factory=bytearray)
    peer: list[str | None] = field(default_factory=list)
    # An integer per distinct operation (service, span name), per span; the operations.
    op: list[int] = field(default_factory=list)
    op_keys: list[OpKey] = field(default_factory=list)
    orphans: int = 0
    duplicates: int = 0
    cycles: int = 0
    skew_adjusted: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.spans)

    def children_of(self, trace: int) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        parent = self.parent
        for i in self.members[trace]:
            p = parent[i]
            if p >= 0:
                out.setdefault(p, []).append(i)
        return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The collector off while the columns are built: they hold no cycles, and a million
    spans' worth of lists would set off many pointless collections."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build(spans: Sequence[Span], *, fork_min_spans: int | None = None) -> SpanTable:
    """Index, link and skew-correct the spans; count what had to be repaired; fill the
    semantic columns. From `fork_min_spans` spans on (default LINK_MIN_SPANS) a forked
    child links the spans while this process reads the other columns."""
    with _gc_paused():
        return _build(spans, LINK_MIN_SPANS if fork_min_spans is None else fork_min_spans)


def _build(spans: Sequence[Span], fork_min_spans: int) -> SpanTable:
    # Columns are plain lists while they are built (reading an array boxes every int) and
    # packed into arrays at the end; exceptions (cut links, skew, cycles) are found in bulk
    # passes so that the Python loops run over them only.
    n = len(spans)
    tids = list(map(_TRACE_ID, spans))
    tmap = {t: k for k, t in enumerate(dict.fromkeys(tids))}
    tix = list(map(tmap.__getitem__, tids))
    del tids
    child = (
        spawn(lambda: _links(spans, tix)) if n >= max(fork_min_spans, 2) and can_fork() else None
    )
    started = time.monotonic()
    try:
        own = _own_columns(spans, tix, len(tmap))
    except BaseException:
        if child is not None:
            child.close(kill=True)
        raise
    got = _unpacked(child.receive(patience(started)), n) if child is not None else None
    parent, orphans, cycles, duplicates = got[0] if got else _link(spans, tix)
    start, end, kind, svc, members = own.start, own.end, own.kind, own.svc, own.members
    # Read while the child looks for cycles: a cycle (rare) means reading them again.
    marks = _child_marks(parent, tix, svc, kind, start, end, members)
    cyclic = child.receive(patience(started)) if got and child is not None else None
    if child is not None:
        child.close(kill=cyclic is None)
    if not isinstance(cyclic, bool):
        cyclic = _has_cycle(parent)
    if cyclic:
        cycles, skew_adjusted = _link_and_skew(range(n), parent, start, end, svc, kind, cycles)
        marks = _child_marks(parent, tix, svc, kind, start, end, members)
    else:
        # The skew pass cuts no link without a cycle: the marks hold for it already.
        skewed = marks.skewed
        # Whether a child must move depends only on where it lies against its parent as read
        # (a correction shifts the whole subtree), so only traces holding such a child are
        # walked.
        skew_adjusted = 0
        if skewed:
            walk = [i for t in sorted({tix[k] for k in skewed}) for i in members[t]]
            _, skew_adjusted = _link_and_skew(walk, parent, start, end, svc, kind, 0)
    peer = own.peer
    for i in compress(range(n), map(and_, own.calls, marks.has_child)):
        peer[i] = None  # a call with a child names its peer by that child's service
    res, res_keys, res_runs = own.res
    table = SpanTable(
        spans,
        list(tmap),
        own.tix,
        got[1] if got and not cyclic else array("q", parent),  # no cut: the child's column
        start,
        end,
        own.flag,
        members,
        marks.roots,
        marks.calls_out,
        svc,
        kind,
        marks.has_child,
        res,
        res_keys,
        res_runs,
        marks.cross,
        own.calls,
        peer,
        *own.ops,
        orphans=orphans,
        duplicates=duplicates,
        cycles=cycles,
        skew_adjusted=skew_adjusted,
    )
    if orphans:
        table.warnings.append(f"{orphans} spans reference a parent that is not in the input")
    if cycles:
        table.warnings.append(f"{cycles} parent cycles were broken")
    return table


@dataclass
class _Own:
    """The columns read from each span alone (see `columns`), and each trace's spans."""

    tix: array[int]
    start: list[int]
    end: list[int]
    kind: list[int]
    svc: list[str]
    members: list[list[int]]
    flag: bytearray
    res: tuple[list[int], list[ResKey], list[tuple[int, int, int]]]
    calls: bytearray
    peer: list[str | None]
    ops: tuple[list[int], list[OpKey]]


def _own_columns(spans: Sequence[Span], tix: list[int], n_traces: int) -> _Own:
    n = len(spans)
    # Lists here: their ints are the spans' own objects, so they cost only a pointer each.
    start = list(map(_START, spans))
    end = list(map(_END, spans))
    if any(map(lt, end, start)):
        end = [e if e >= s else s for e, s in zip(end, start, strict=True)]
    kind = list(map(_KIND, spans))
    svc = list(map(_SERVICE, spans))
    members: list[list[int]] = [[] for _ in range(n_traces)]
    deque(map(list.append, map(members.__getitem__, tix), range(n)), 0)
    calls, peer = calls_and_peers(spans, kind)
    res = resource_columns(spans, svc)
    ops = op_ids(spans, svc)
    return _Own(
        array("l", tix), start, end, kind, svc, members, flags(spans, kind), res, calls, peer, ops
    )


# (parent index per span, orphans, cycles cut, repeated span ids)
Links = tuple[list[int], int, int, int]
# The same from the child: the parent indexes as the bytes of an int64 array.
PackedLinks = tuple[bytes, int, int, int]


def _links(spans: Sequence[Span], tix: list[int]) -> Iterator[PackedLinks | bool]:
    """What the child sends: the links, then whether a parent cycle is left."""
    parent, orphans, cycles, duplicates = _link(spans, tix)
    yield array("q", parent).tobytes(), orphans, cycles, duplicates
    yield _has_cycle(parent)


def _unpacked(back: object, n: int) -> tuple[Links, array[int]] | None:
    """The child's links, and its parent indexes as an array too; None when what came
    back is not the links of `n` spans."""
    if not isinstance(back, tuple) or len(back) != 4 or not isinstance(back[0], bytes):
        return None
    if len(back[0]) != 8 * n or not all(type(v) is int for v in back[1:]):
        return None
    col: array[int] = array("q")
    col.frombytes(back[0])
    return (col.tolist(), back[1], back[2], back[3]), col


def _link(spans: Sequence[Span], tix: list[int]) -> tuple[list[int], int, int, int]:
    """The parent index of each span (-1 none), with (orphans, self-parent cycles, repeated
    span ids): a parent id that matches no span or a span of another trace is cut."""
    n = len(spans)
    ids = list(map(_SPAN_ID, spans))
    # Built back to front so that the first occurrence of a repeated id wins.
    index: dict[str | None, int] = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))
    dup_pairs: list[tuple[int, int]] = []
    if len(index) != n:
        dup_pairs = [(index[sid], i) for i, sid in enumerate(ids) if index[sid] != i]
    del ids
    pids = list(map(_PARENT_ID, spans))
    # A missing parent id (None or "") must never match a span.
    index.pop("", None)
    parent: list[int] = list(map(index.get, pids, repeat(-1)))
    del index
    # A parent id that matched nothing makes an orphan.
    orphans = parent.count(-1) - pids.count(None) - pids.count("")
    del pids
    cycles = 0
    for i in compress(range(n), map(eq, parent, range(n))):
        parent[i] = -1  # a self-parent: the shortest cycle
        cycles += 1
    # A parent in another trace is cut (index -1 reads the last span: those are skipped).
    for i in compress(range(n), map(ne, map(tix.__getitem__, parent), tix)):
        if parent[i] >= 0:
            parent[i] = -1
            orphans += 1
    duplicates = 0
    for first, other in dup_pairs:
        a, b = spans[first], spans[other]
        if tix[first] == tix[other] and {a.kind, b.kind} == {_CLIENT, _SERVER}:
            # Zipkin-style shared id: the server half is the child of the client half.
            client, server = (first, other) if a.kind == _CLIENT else (other, first)
            parent[server] = client
            if parent[client] == server:
                parent[client] = -1
        else:
            duplicates += 1
            if parent[other] == first:
                parent[other] = parent[first]
    return parent, orphans, cycles, duplicates


@dataclass
class _Marks:
    """What each span's link says about it and its parent (see `_child_marks`)."""

    has_child: bytearray
    calls_out: bytearray  # a child in another service
    cross: bytearray  # the parent in another service
    roots: list[int]
    # Children sticking out of their parent on another service's clock: the spans the skew
    # correction may move (with their subtrees).
    skewed: list[int]


def _child_marks(
    parent: list[int],
    tix: list[int],
    svc: list[str],
    kind: list[int],
    start: list[int],
    end: list[int],
    members: list[list[int]],
) -> _Marks:
    """One pass over the links. The root of a trace is its earliest-starting span without a
    parent (the first span of a trace that is nothing but a cycle)."""
    n = len(parent)
    has_child = bytearray(n)
    calls_out = bytearray(n)
    cross = bytearray(n)
    roots = [-1] * len(members)
    skewed: list[int] = []
    for i, p in enumerate(parent):
        if p >= 0:
            has_child[p] = 1
            if svc[p] != svc[i]:
                calls_out[p] = 1
                cross[i] = 1
                if (
                    (start[i] < start[p] or end[i] > end[p])
                    and kind[i] in _SKEWABLE
                    and kind[p] != _PRODUCER
                ):
                    skewed.append(i)
        else:
            t = tix[i]
            best = roots[t]
            if best < 0 or start[i] < start[best]:
                roots[t] = i
    for t, r in enumerate(roots):
        if r < 0:
            roots[t] = members[t][0]  # nothing but a cycle: its first span stands in
    return _Marks(has_child, calls_out, cross, roots, skewed)


def _has_cycle(parent: list[int]) -> bool:
    """Does any parent chain fail to reach a root? Pointer doubling: each round every span
    jumps to its ancestor's ancestor, so log2(depth) bulk rounds reach the roots."""
    up = parent.copy()
    for i in compress(range(len(up)), map(_NEG.__eq__, up)):
        up[i] = i  # roots point at themselves
    for _ in range(len(up).bit_length() + 1):
        nxt = list(map(up.__getitem__, up))
        if nxt == up:
            break
        up = nxt
    else:
        return True
    # A cycle whose length is a power of two is stable too: its members are not roots.
    return any(map(ge, map(parent.__getitem__, up), repeat(0)))


def _link_and_skew(
    order: Iterable[int],
    parent: list[int],
    start: list[int],
    end: list[int],
    svc: list[str],
    kind: list[int],
    cycles: int,
) -> tuple[int, int]:
    """Walk each chain of `order` from its root down, breaking cycles and centring skewed
    server spans in their clients. Returns (cycles, spans adjusted)."""
    n = len(parent)
    done = bytearray(n)  # 0 new, 1 in progress, 2 done
    for i in compress(range(n), map(_NEG.__eq__, parent)):
        done[i] = 2
    offs: dict[int, int] = {}  # span -> shift applied to it (only the skewed ones)
    skew_adjusted = 0
    for i in order:
        if done[i]:
            continue
        path: list[int] = []
        j = i
        while j >= 0 and not done[j]:
            done[j] = 1
            path.append(j)
            j = parent[j]
        if j >= 0 and done[j] == 1:
            # Walked into our own path: a cycle. Cut it where it closed.
            parent[j] = -1
            cycles += 1
        for k in reversed(path):
            done[k] = 2
            p = parent[k]
            if p < 0:
                continue
            off = offs.get(p, 0) if offs else 0
            cs = start[k] + off
            ce = end[k] + off
            if (
                (cs < start[p] or ce > end[p])
                and svc[k] != svc[p]
                and kind[k] in (_SERVER, _UNSPEC)
                and kind[p] != _PRODUCER
                and kind[k] != _CONSUMER
            ):
                # Symmetric network latency: centre the server span in its client span.
                latency = max(0, ((end[p] - start[p]) - (ce - cs)) // 2)
                off = start[p] + latency - start[k]
                skew_adjusted += 1
            if off:
                offs[k] = off
                start[k] += off
                end[k] += off
    return cycles, skew_adjusted
