"""Per-window aggregates the ranking compares: entry-point latency and errors, origin errors per
component (deepest failing span), calls per instance and version, RPC edge gaps, the mean
critical-path time per hop over a sample of traces (with its spread per time chunk, see
`variation`), and what each operation calls and how long it works itself (`structure`, on a
sample of traces too). One linear pass per window, plus the bounded samples."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import setitem

from incident.analysis.critical_path import critical_path
from incident.analysis.semconv import (
    ERROR,
    USER_ERROR,
    calls_peer,
    db_system,
    is_connection_failure,
    is_timeout,
    peer_in_text,
    peer_kind,
    peer_name,
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


def _callee(table: SpanTable, i: int) -> str | None:
    """The service a client-like span called: its first child in another service."""
    svc = table.spans[i].service
    parent = table.parent
    for j in table.members[table.tix[i]]:
        if parent[j] == i and table.spans[j].service != svc:
            return table.spans[j].service
    return None


def _retried(table: SpanTable, i: int) -> bool:
    """Did the caller call again after this failure? (a sibling call to the same operation
    starting after the failed one ended)"""
    spans, parent = table.spans, table.parent
    c = i
    if spans[i].kind != _CLIENT:
        p = parent[i]
        if p < 0 or not table.calls_out[p]:
            return False
        c = p
    grand = parent[c]
    if grand < 0:
        return False
    name, done = spans[c].name, table.end[c]
    return any(
        parent[j] == grand and j != c and spans[j].name == name and table.start[j] >= done
        for j in table.members[table.tix[c]]
    )


def blame_target(table: SpanTable, i: int) -> tuple[str, str]:
    """(component, kind) a failing or slow span points at: its service, the callee of a
    client span, or the uninstrumented peer of a leaf client span."""
    s = table.spans[i]
    if table.calls_out[i] and (s.kind == _CLIENT or s.kind == SpanKind.UNSPECIFIED):
        callee = _callee(table, i)
        if callee:
            return callee, "service"
    if not table.has_child[i] and calls_peer(s):
        peer = peer_name(s)
        if not peer and is_connection_failure(s):
            peer = peer_in_text(s)
        if peer and peer != s.service:
            return peer, peer_kind(s)
    if s.kind == _CLIENT and table.has_child[i]:
        callee = _callee(table, i)
        if callee:
            return callee, "service"
    return s.service, "service"


def _broken_context(table: SpanTable, failing: list[int], relaying: set[int]) -> dict[int, int]:
    """Failing traces that continue a failing leaf server span of the same service: a framework
    that lost the trace context (Next.js is a known case) starts a new trace inside the
    request. Maps the new trace's root to the leaf it continues."""
    spans, parent, start, end, has_child = (
        table.spans,
        table.parent,
        table.start,
        table.end,
        table.has_child,
    )
    leaves = [
        i
        for i in failing
        if not has_child[i] and i not in relaying and spans[i].kind == SpanKind.SERVER
    ]
    if not leaves:
        return {}
    roots: dict[str, list[tuple[int, int]]] = {}
    for i in failing:
        s = spans[i]
        if parent[i] < 0 and not s.parent_id and s.kind == SpanKind.SERVER and has_child[i]:
            roots.setdefault(s.service, []).append((start[i], i))
    if not roots:
        return {}
    for rows in roots.values():
        rows.sort()
    out: dict[int, int] = {}
    for leaf in sorted(leaves, key=lambda i: (start[i], i)):
        found = roots.get(spans[leaf].service)
        if not found:
            continue
        rows = found
        lo, hi = start[leaf], end[leaf]
        # Same process, same clock: the new root starts and ends inside the leaf.
        slack = (hi - lo) // 10
        k = bisect_left(rows, (lo, -1))
        while k < len(rows) and rows[k][0] <= hi:
            r = rows[k][1]
            if r not in out and end[r] <= hi + slack:
                out[r] = leaf
                break
            k += 1
    return out


def _failing_ancestors(table: SpanTable, i: int, relays: dict[int, int]) -> int:
    """How many failing spans one origin failure accounts for: itself and every failing span
    above it, following a lost trace context back into the request it belongs to."""
    parent, flag = table.parent, table.flag
    n = 0
    j = i
    for _ in range(256):
        if flag[j]:
            n += 1
        p = parent[j]
        if p < 0:
            p = relays.get(j, -1)
        if p < 0:
            break
        j = p
    return n


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
    ws = WindowStats(table, traces)
    idx = list(chain.from_iterable(map(table.members.__getitem__, traces)))
    _entries(ws, traces)
    callee_of = _edges(ws, idx)
    _peers(ws, idx)
    _resources(ws, idx)
    for rkey, acc in ws.res_acc.items():
        ws.calls[rkey[0]] = ws.calls.get(rkey[0], 0) + acc[0]
    for a, b in ws.edges:
        ws.graph.add((a, b))
    _origins(ws, list(compress(idx, map(table.flag.__getitem__, idx))))
    del idx
    start, roots = table.start, table.roots
    # Time chunks by rank of the trace's start over the whole window.
    tchunk = dict(zip(traces, chunk_of([start[roots[t]] for t in traces]), strict=True))
    _paths(ws, max_path_traces, callee_of, tchunk)
    ws.shape = collect_shape(table, traces, tchunk, max_shape_traces)
    return ws


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


def _edges(ws: WindowStats, idx: list[int]) -> dict[int, str]:
    """Per caller -> callee service edge: calls, summed gap and summed callee time. Returns
    the service each caller span called first (the critical paths need it again)."""
    table = ws.table
    parent, svc, start, end = table.parent, table.service, table.start, table.end
    edges = ws.edges
    callee_of: dict[int, str] = {}
    for i in compress(idx, map(table.cross.__getitem__, idx)):
        p = parent[i]
        ek = (svc[p], svc[i])
        e = edges.get(ek)
        if e is None:
            e = edges[ek] = [0, 0, 0]
        if p not in callee_of:
            callee_of[p] = ek[1]
        d = end[i] - start[i]
        e[0] += 1
        gap = (end[p] - start[p]) - d
        if gap > 0:
            e[1] += gap
        e[2] += d
    return callee_of


def _peers(ws: WindowStats, idx: list[int]) -> None:
    """Calls, time, kind and database system per uninstrumented peer (what childless calls
    name), and the service -> peer edges."""
    table = ws.table
    spans, svc, start, end, peer_col = (
        table.spans,
        table.service,
        table.start,
        table.end,
        table.peer,
    )
    calls, kinds, dur, graph = ws.calls, ws.peer_kind, ws.peer_dur, ws.graph
    for i in compress(idx, map(peer_col.__getitem__, idx)):
        peer = peer_col[i]
        sv = svc[i]
        if peer == sv:
            continue
        assert peer is not None
        seen = calls.get(peer)
        if seen is None:
            calls[peer] = 1
            if peer not in kinds:
                s = spans[i]
                kinds[peer] = peer_kind(s)
                system = db_system(s.attributes)
                if system:
                    ws.peer_system[peer] = system
        else:
            calls[peer] = seen + 1
        dur[peer] = dur.get(peer, 0) + (end[i] - start[i])
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
        deque(map(setitem, repeat(win), idx, repeat(1)), 0)
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
    relays = _broken_context(table, origin_spans, failing_parents)
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
        o.explained += _failing_ancestors(table, i, relays)
        if _retried(table, i):
            o.retried += 1
        if len(o.examples) < 8:
            o.examples.append(i)
        if target == s.service:
            rkey = _resource_key(s)
            o.by_resource[rkey] = o.by_resource.get(rkey, 0) + 1
        o.operations[s.name] = o.operations.get(s.name, 0) + 1


def _paths(
    ws: WindowStats, max_path_traces: int, callee_of: dict[int, str], tchunk: dict[int, int]
) -> None:
    """Critical-path time per hop on an even sample of the window's traces: a client span's
    own time is an edge (network, queues, connection setup), a childless call's a hop to its
    peer, any other span's its own."""
    table, traces = ws.table, ws.traces
    spans, svc_col, kind_col, start, end = (
        table.spans,
        table.service,
        table.kind,
        table.start,
        table.end,
    )
    calls_out, has_child, calls, peer_col, roots = (
        table.calls_out,
        table.has_child,
        table.calls,
        table.peer,
        table.roots,
    )
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
        for idx, ns, ld in critical_path(table, r, table.children_of(t)):
            if ns <= 0:
                continue
            svc = svc_col[idx]
            k = kind_col[idx]
            hop: PathKey
            if (calls_out[idx] and k != SpanKind.SERVER) or (k == _CLIENT and has_child[idx]):
                hop = ("edge", svc, callee_of.get(idx, svc))
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
