"""Per-window aggregates the ranking compares: entry-point latency and errors, origin errors per
component (deepest failing span), calls per instance and version, RPC edge gaps, the mean
critical-path time per hop over a sample of traces (with its spread per time chunk, see
`variation`), and what each operation calls and how long it works itself (`structure`, on a
sample of traces too). One linear pass per window, plus the bounded samples."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from itertools import chain, compress
from typing import Any

from incident.analysis.blame import blame_target as blame_target
from incident.analysis.blame import broken_context, failing_ancestors, retried
from incident.analysis.critical_path import critical_path
from incident.analysis.forked import can_fork, in_child
from incident.analysis.semconv import (
    ERROR,
    USER_ERROR,
    db_system,
    is_connection_failure,
    is_timeout,
    peer_kind,
)
from incident.analysis.structure import Shape, collect_shape
from incident.analysis.trees import ResKey as ResKey
from incident.analysis.trees import SpanTable
from incident.analysis.trees import resource_key as _resource_key
from incident.analysis.variation import CHUNKS, Moments, chunk_of
from incident.model import SpanKind

_CLIENT, _PRODUCER = SpanKind.CLIENT, SpanKind.PRODUCER

# Critical-path attribution keys: ("self", service, operation), ("edge", caller, callee),
# ("peer", caller, peer).
PathKey = tuple[str, str, str]


@dataclass
class OriginErrors:
    """Failures whose deepest failing span points at one component."""

    errors: int = 0
    user_errors: int = 0
    absorbed: int = 0  # in traces whose entry point still succeeded
    timeouts: int = 0
    retried: int = 0  # failed calls the caller tried again
    unreachable: int = 0  # client calls that never reached the peer (refused, DNS, no route)
    explained: int = 0  # failing spans these failures account for, themselves included
    first_ns: int | None = None
    first_span: int = -1
    callers: dict[str, int] = field(default_factory=dict)
    examples: list[int] = field(default_factory=list)
    by_resource: dict[ResKey, int] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)


@dataclass
class EntryAgg:
    durations: list[int] = field(default_factory=list)
    errors: int = 0
    user_errors: int = 0


@dataclass
class WindowStats:
    table: SpanTable
    traces: list[int]
    entries: dict[tuple[str, str], EntryAgg] = field(default_factory=dict)
    failed_traces: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # spans per service / calls per peer
    peer_kind: dict[str, str] = field(default_factory=dict)
    peer_system: dict[str, str] = field(default_factory=dict)  # db.system of a peer
    peer_dur: dict[str, int] = field(default_factory=dict)
    origins: dict[str, OriginErrors] = field(default_factory=dict)
    # Per (service, instance, version): [spans, summed duration ns, first start ns].
    res_acc: dict[ResKey, list[int]] = field(default_factory=dict)
    # (caller, callee) -> [count, summed gap ns, summed server ns]
    edges: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    graph: set[tuple[str, str]] = field(default_factory=set)
    path: dict[PathKey, int] = field(default_factory=dict)
    lead: dict[PathKey, int] = field(default_factory=dict)
    # Per-trace ms of each hop over the sampled traces, for its spread (see `variation`).
    path_m: dict[PathKey, Moments] = field(default_factory=dict)
    # Sampled traces whose critical path holds each hop (its reach among requests).
    path_n: dict[PathKey, int] = field(default_factory=dict)
    chunk_n: list[int] = field(default_factory=lambda: [0] * CHUNKS)
    # What each operation calls, its own time, where it stops (see `structure`).
    shape: Shape = field(default_factory=Shape)
    sampled: int = 0
    sampled_root_ns: int = 0
    start_ns: int = 0
    end_ns: int = 0

    @property
    def n_traces(self) -> int:
        return len(self.traces)

    def mean_path_ms(self, key: PathKey) -> float:
        return self.path.get(key, 0) / max(1, self.sampled) / 1e6

    def mean_root_ms(self) -> float:
        return self.sampled_root_ns / max(1, self.sampled) / 1e6


# Traces whose structure is aggregated per window, at most (an even sample past that).
MAX_SHAPE_TRACES = 1_000


def collect(
    table: SpanTable,
    traces: list[int],
    max_path_traces: int,
    max_shape_traces: int = MAX_SHAPE_TRACES,
) -> WindowStats:
    """Aggregate one window (a set of traces of one table), reading the table's columns:
    the Python loops run over the traces, the cross-service spans, the peer calls and the
    failing spans of the window, not over all of its spans."""
    ws = _tallied(table, traces)
    chunks = _chunks(table, traces)
    _paths(ws, max_path_traces, chunks)
    ws.shape = collect_shape(table, traces, chunks, max_shape_traces)
    return ws


def _tallied(table: SpanTable, traces: list[int]) -> WindowStats:
    """A window with what one pass over its spans gives: all but the sampled paths and
    structure."""
    ws = WindowStats(table, traces)
    idx = list(chain.from_iterable(map(table.members.__getitem__, traces)))
    _entries(ws, traces)
    _edges(ws, idx)
    _peers(ws, idx)
    _resources(ws, idx)
    for rkey, acc in ws.res_acc.items():
        ws.calls[rkey[0]] = ws.calls.get(rkey[0], 0) + acc[0]
    for a, b in ws.edges:
        ws.graph.add((a, b))
    _origins(ws, list(compress(idx, map(table.flag.__getitem__, idx))))
    return ws


def _chunks(table: SpanTable, traces: list[int]) -> dict[int, int]:
    """Each trace's time chunk, by rank of its start over the whole window."""
    start, roots = table.start, table.roots
    return dict(zip(traces, chunk_of([start[roots[t]] for t in traces]), strict=True))


# Spans a table must hold before `collect_pair` aggregates one window in a forked child:
# below that, the fork and the transfer cost more than they save.
PAIR_MIN_SPANS = 50_000


def collect_pair(
    table: SpanTable,
    first: list[int],
    second: list[int],
    max_path_traces: int,
    min_spans: int | None = None,
) -> tuple[WindowStats, WindowStats]:
    """`collect` of two windows of one table. On a big table (`min_spans`, default
    PAIR_MIN_SPANS) a forked child aggregates all but the structure of the window with more
    spans meanwhile; this process aggregates the other window and that structure (shares
    that took about as long at 1M spans). Anything odd with the child: its share is
    aggregated here, after the rest."""
    if table.n < (PAIR_MIN_SPANS if min_spans is None else min_spans) or not can_fork():
        return collect(table, first, max_path_traces), collect(table, second, max_path_traces)
    size = table.members.__getitem__
    swap = sum(map(len, map(size, first))) < sum(map(len, map(size, second)))
    big, small = (second, first) if swap else (first, second)

    def there() -> WindowStats:
        ws = _tallied(table, big)
        _paths(ws, max_path_traces, _chunks(table, big))
        return ws

    def here() -> tuple[WindowStats, Shape]:
        shape = collect_shape(table, big, _chunks(table, big), MAX_SHAPE_TRACES)
        return collect(table, small, max_path_traces), shape

    (mine, shape), back = in_child(lambda: _detached(there()), here)
    theirs = _attached(table, big, back) or there()
    theirs.shape = shape
    return (mine, theirs) if swap else (theirs, mine)


# The fields of a window the child sends.
_SENT = {f.name for f in fields(WindowStats) if f.name != "table"}


def _detached(ws: WindowStats) -> dict[str, Any]:
    """A window's aggregates without its table (the parent has it): what the child sends."""
    return {f.name: getattr(ws, f.name) for f in fields(ws) if f.name != "table"}


def _attached(table: SpanTable, traces: list[int], back: object) -> WindowStats | None:
    """The child's window on this table again; None when what came back is not one."""
    if not isinstance(back, dict) or back.keys() != _SENT or back["traces"] != traces:
        return None
    try:
        return WindowStats(table, **back)
    except TypeError:
        return None


def _entries(ws: WindowStats, traces: list[int]) -> None:
    """Per entry point (the root's service and operation): durations and failures; and the
    window's first start and last end."""
    table = ws.table
    spans, flag, start, end, roots = table.spans, table.flag, table.start, table.end, table.roots
    entries = ws.entries
    lo = hi = None
    for t in traces:
        r = roots[t]
        rs = spans[r]
        key = (rs.service, rs.name)
        agg = entries.get(key)
        if agg is None:
            agg = entries[key] = EntryAgg()
        agg.durations.append(end[r] - start[r])
        if flag[r] == ERROR:
            agg.errors += 1
            ws.failed_traces += 1
        elif flag[r] == USER_ERROR:
            agg.user_errors += 1
        if lo is None or start[r] < lo:
            lo = start[r]
        if hi is None or end[r] > hi:
            hi = end[r]
    ws.start_ns = lo or 0
    ws.end_ns = hi or 0


def _edges(ws: WindowStats, idx: list[int]) -> None:
    """Per caller -> callee service edge: calls, summed gap and summed callee time."""
    table = ws.table
    parent, svc, start, end = table.parent, table.service, table.start, table.end
    edges = ws.edges
    for i in compress(idx, map(table.cross.__getitem__, idx)):
        p = parent[i]
        ek = (svc[p], svc[i])
        e = edges.get(ek)
        if e is None:
            e = edges[ek] = [0, 0, 0]
        d = end[i] - start[i]
        e[0] += 1
        gap = (end[p] - start[p]) - d
        if gap > 0:
            e[1] += gap
        e[2] += d


def _peers(ws: WindowStats, idx: list[int]) -> None:
    """Calls, time, kind and database system per uninstrumented peer (what childless calls
    name), and the service -> peer edges. Tallied per (service, peer) pair first, then
    folded per peer in the order the pairs first appear (so the peers' order too)."""
    table = ws.table
    svc, start, end, peer_col = table.service, table.start, table.end, table.peer
    # (service, peer) -> [first span, calls, summed duration]
    pairs: dict[tuple[str, str | None], list[int]] = {}
    for i in compress(idx, map(peer_col.__getitem__, idx)):
        key = (svc[i], peer_col[i])
        row = pairs.get(key)
        if row is None:
            pairs[key] = [i, 1, end[i] - start[i]]
        else:
            row[1] += 1
            row[2] += end[i] - start[i]
    calls, kinds, dur, graph = ws.calls, ws.peer_kind, ws.peer_dur, ws.graph
    for (sv, peer), (first, n, d) in pairs.items():
        if peer == sv:
            continue
        assert peer is not None
        if peer not in calls:
            calls[peer] = 0
            if peer not in kinds:
                s = table.spans[first]
                kinds[peer] = peer_kind(s)
                system = db_system(s.attributes)
                if system:
                    ws.peer_system[peer] = system
        calls[peer] += n
        dur[peer] = dur.get(peer, 0) + d
        graph.add((sv, peer))


def _resources(ws: WindowStats, idx: list[int]) -> None:
    """Per (service, instance, version), in order of first appearance: spans, summed
    duration and first start. Summed a run of one resource at a time over a mask of the
    window's spans (spans of one resource lie together in the input)."""
    table = ws.table
    res, keys, start, end = table.res, table.res_keys, table.start, table.end
    order = dict.fromkeys(map(res.__getitem__, idx))
    n = len(res)
    full = len(idx) == n and len(set(ws.traces)) == len(ws.traces)
    mask = b""
    if not full:
        win = bytearray(n)
        for i in idx:
            win[i] = 1
        mask = bytes(win)
    count = [0] * len(keys)
    dsum = [0] * len(keys)
    first: list[int | None] = [None] * len(keys)
    for a, b, r in table.res_runs:
        if full:
            c, st = b - a, start[a:b]
            d = sum(end[a:b]) - sum(st)
        else:
            m = mask[a:b]
            c = m.count(1)
            if not c:
                continue
            st = list(compress(start[a:b], m))
            d = sum(compress(end[a:b], m)) - sum(st)
        lo = min(st)
        count[r] += c
        dsum[r] += d
        f = first[r]
        if f is None or lo < f:
            first[r] = lo
    if len(ws.traces) != len(set(ws.traces)):
        # A trace listed twice counts twice, as a plain loop over the window would.
        count, dsum = [0] * len(keys), [0] * len(keys)
        for i in idx:
            count[res[i]] += 1
            dsum[res[i]] += end[i] - start[i]
    ws.res_acc = {keys[r]: [count[r], dsum[r], first[r] or 0] for r in order}


def _origins(ws: WindowStats, origin_spans: list[int]) -> None:
    """Failures per component they point at. Only the deepest failure counts: a span that
    failed because something below it failed relays the error, even with succeeding spans
    (an internal step) in between."""
    table = ws.table
    spans, parent, flag, start, roots = (
        table.spans,
        table.parent,
        table.flag,
        table.start,
        table.roots,
    )
    has_child = table.has_child
    failing_parents: set[int] = set()
    for i in origin_spans:
        j = parent[i]
        while j >= 0 and j not in failing_parents:
            failing_parents.add(j)
            j = parent[j]
    relays = broken_context(table, origin_spans, failing_parents)
    failing_parents.update(relays.values())
    for i in origin_spans:
        if i in failing_parents:
            continue
        target, _kind = blame_target(table, i)
        o = ws.origins.get(target)
        if o is None:
            o = ws.origins[target] = OriginErrors()
        s = spans[i]
        if flag[i] == USER_ERROR:
            o.user_errors += 1
        else:
            o.errors += 1
        if flag[roots[table.tix[i]]] == 0:
            o.absorbed += 1
        if s.kind == _CLIENT and is_timeout(s):
            o.timeouts += 1
        if s.kind == _CLIENT and not has_child[i] and is_connection_failure(s):
            o.unreachable += 1
        if o.first_ns is None or start[i] < o.first_ns:
            o.first_ns = start[i]
            o.first_span = i
        if target != s.service:
            o.callers[s.service] = o.callers.get(s.service, 0) + 1
        o.explained += failing_ancestors(table, i, relays)
        if retried(table, i):
            o.retried += 1
        if len(o.examples) < 8:
            o.examples.append(i)
        if target == s.service:
            rkey = _resource_key(s)
            o.by_resource[rkey] = o.by_resource.get(rkey, 0) + 1
        o.operations[s.name] = o.operations.get(s.name, 0) + 1


def _paths(ws: WindowStats, max_path_traces: int, tchunk: dict[int, int]) -> None:
    """Critical-path time per hop on an even sample of the window's traces: a client span's
    own time is an edge (network, queues, connection setup) to the service of its first
    child in another service, a childless call's a hop to its peer, any other span's its
    own."""
    table, traces = ws.table, ws.traces
    spans, svc_col, kind_col = table.spans, table.service, table.kind
    start, end, roots, cross = table.start, table.end, table.roots, table.cross
    calls_out, has_child, calls = table.calls_out, table.has_child, table.calls
    peer_col = table.peer
    step = max(1, len(traces) // max(1, max_path_traces))
    path, lead, path_m, chunk_n, path_n = ws.path, ws.lead, ws.path_m, ws.chunk_n, ws.path_n
    sample = traces[::step]
    per_trace: dict[PathKey, int] = {}
    for t in sample:
        ch = tchunk[t]
        r = roots[t]
        ws.sampled += 1
        ws.sampled_root_ns += end[r] - start[r]
        chunk_n[ch] += 1
        per_trace.clear()
        children = table.children_of(t)
        for idx, ns, ld in critical_path(table, r, children):
            if ns <= 0:
                continue
            svc = svc_col[idx]
            k = kind_col[idx]
            hop: PathKey
            if (calls_out[idx] and k != SpanKind.SERVER) or (k == _CLIENT and has_child[idx]):
                callee = (svc_col[c] for c in children.get(idx, ()) if cross[c])
                hop = ("edge", svc, next(callee, svc))
            elif calls[idx] and not has_child[idx]:  # a leaf call to a peer
                hop = ("peer", svc, peer_col[idx] or spans[idx].name)
            else:
                hop = ("self", svc, spans[idx].name)
                if ld:
                    lead[hop] = lead.get(hop, 0) + ld
            per_trace[hop] = per_trace.get(hop, 0) + ns
        for hop, ns in per_trace.items():
            path[hop] = path.get(hop, 0) + ns
            path_n[hop] = path_n.get(hop, 0) + 1
            m = path_m.get(hop)
            if m is None:
                m = path_m[hop] = Moments()
            ms = ns / 1e6  # `Moments.add`, inlined: this runs per hop of every sampled trace
            m.total += ms
            m.sq += ms * ms
            m.chunks[ch] += ms
