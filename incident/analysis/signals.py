"""Per-window aggregates the ranking compares: entry-point latency and errors, origin errors per
component (deepest failing span), calls per instance and version, RPC edge gaps, the mean
critical-path time per hop over a sample of traces (with its spread per time chunk, see
`variation`), and what each operation calls and how long it works itself (`structure`, on a
sample of traces too). One linear pass per window, plus the bounded samples."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

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
    peer_of_attributes,
)
from incident.analysis.structure import Shape, collect_shape
from incident.analysis.trees import SpanTable
from incident.analysis.variation import CHUNKS, Moments, chunk_of
from incident.model import Span, SpanKind

_CLIENT, _PRODUCER = SpanKind.CLIENT, SpanKind.PRODUCER

# Critical-path attribution keys: ("self", service, operation), ("edge", caller, callee),
# ("peer", caller, peer).
PathKey = tuple[str, str, str]
# (service, instance, version) of the resource a span ran on.
ResKey = tuple[str, str | None, str | None]


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


_INSTANCE_KEYS = ("k8s.pod.name", "host.name", "service.instance.id", "container.id")


def _resource_key(span: Span, *, span_attributes: bool = True) -> ResKey:
    """Where a span ran: resource attributes first, then span attributes, where Zipkin and
    some agents put the version, pod and host."""
    sources = (span.resource, span.attributes) if span_attributes else (span.resource,)
    inst = None
    for key in _INSTANCE_KEYS:
        # A pod named in a span tag beats an address-derived id on the resource.
        inst = next((str(a[key]) for a in sources if a and a.get(key)), None)
        if inst:
            break
    ver = next((str(a["service.version"]) for a in sources if a and a.get("service.version")), None)
    return (span.service, inst, ver)


# Span attributes that can change where a span ran (see `_resource_key`).
_RES_ATTR_KEYS = frozenset((*_INSTANCE_KEYS, "service.version"))
_RES_ATTR_ORDER = (*_INSTANCE_KEYS, "service.version")
_CALLER_KINDS = frozenset((_CLIENT, _PRODUCER))


def _span_resource_key(
    s: Span, base: ResKey, cache: dict[tuple[ResKey, tuple[object, ...]], ResKey]
) -> ResKey:
    """The resource key of a span whose resource left the instance or version unsaid: the
    span's own attributes may tell (`base` is the key of its resource alone)."""
    attrs = s.attributes
    if not attrs or attrs.keys().isdisjoint(_RES_ATTR_KEYS):
        return base
    values = tuple(map(attrs.get, _RES_ATTR_ORDER))
    try:
        ck = (base, values)
        hit = cache.get(ck)
    except TypeError:  # an unhashable attribute value: no caching
        return _resource_key(s)
    if hit is None:
        hit = cache[ck] = _resource_key(s)
    return hit


# Traces whose structure is aggregated per window, at most (an even sample past that).
MAX_SHAPE_TRACES = 1_000


def collect(
    table: SpanTable,
    traces: list[int],
    max_path_traces: int,
    max_shape_traces: int = MAX_SHAPE_TRACES,
) -> WindowStats:
    """Aggregate one window (a set of traces of one table)."""
    ws = WindowStats(table, traces)
    spans, parent, flag, svc_col = table.spans, table.parent, table.flag, table.service
    start, end, members, roots = table.start, table.end, table.members, table.roots
    calls_out, has_child, kind_col = table.calls_out, table.has_child, table.kind
    calls = ws.calls
    edges = ws.edges
    peer_calls: dict[str, str] = ws.peer_kind
    res_acc = ws.res_acc
    key_cache: dict[int, ResKey] = {}
    by_attrs: dict[tuple[ResKey, tuple[object, ...]], ResKey] = {}
    # What the critical paths need again: the peer of each leaf call (None when unnamed) and
    # the service each caller span called first.
    peer_of: dict[int, str | None] = {}
    callee_of: dict[int, str] = {}
    failing_parents: set[int] = set()
    origin_spans: list[int] = []
    lo = hi = None
    for t in traces:
        r = roots[t]
        rs = spans[r]
        key = (rs.service, rs.name)
        agg = ws.entries.get(key)
        if agg is None:
            agg = ws.entries[key] = EntryAgg()
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
        for i in members[t]:
            s = spans[i]
            st = start[i]
            d = end[i] - st
            rid = id(s.resource)
            rkey = key_cache.get(rid)
            if rkey is None or rkey[0] != svc_col[i]:
                rkey = key_cache[rid] = _resource_key(s, span_attributes=False)
            if rkey[1] is None or rkey[2] is None:
                rkey = _span_resource_key(s, rkey, by_attrs)
            acc = res_acc.get(rkey)
            if acc is None:
                res_acc[rkey] = [1, d, st]
            else:
                acc[0] += 1
                acc[1] += d
                if st < acc[2]:
                    acc[2] = st
            p = parent[i]
            if p >= 0:
                ps = svc_col[p]
                if ps != svc_col[i]:
                    ek = (ps, svc_col[i])
                    e = edges.get(ek)
                    if e is None:
                        e = edges[ek] = [0, 0, 0]
                    if p not in callee_of:
                        callee_of[p] = ek[1]
                    e[0] += 1
                    gap = (end[p] - start[p]) - d
                    if gap > 0:
                        e[1] += gap
                    e[2] += d
            if not has_child[i]:
                k = kind_col[i]
                if k in _CALLER_KINDS or (k != SpanKind.SERVER and calls_peer(s)):
                    peer = peer_of[i] = peer_of_attributes(s.attributes)
                    if peer and peer != svc_col[i]:
                        seen = calls.get(peer)
                        if seen is None:
                            calls[peer] = 1
                            if peer not in peer_calls:
                                peer_calls[peer] = peer_kind(s)
                                system = db_system(s.attributes)
                                if system:
                                    ws.peer_system[peer] = system
                        else:
                            calls[peer] = seen + 1
                        ws.peer_dur[peer] = ws.peer_dur.get(peer, 0) + d
                        ws.graph.add((svc_col[i], peer))
            if flag[i]:
                origin_spans.append(i)
    for rkey, acc in res_acc.items():
        calls[rkey[0]] = calls.get(rkey[0], 0) + acc[0]
    ws.start_ns = lo or 0
    ws.end_ns = hi or 0
    for a, b in edges:
        ws.graph.add((a, b))

    # Only the deepest failure counts: a span that failed because something below it failed
    # relays the error, even with succeeding spans (an internal step) in between.
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

    # Critical paths on an even sample of the window's traces.
    step = max(1, len(traces) // max(1, max_path_traces))
    path, lead, path_m, chunk_n, path_n = ws.path, ws.lead, ws.path_m, ws.chunk_n, ws.path_n
    sample = traces[::step]
    # Time chunks by rank of the trace's start over the whole window.
    tchunk = dict(zip(traces, chunk_of([start[roots[t]] for t in traces]), strict=True))
    chunks = [tchunk[t] for t in sample]
    per_trace: dict[PathKey, int] = {}
    for t, ch in zip(sample, chunks, strict=True):
        r = roots[t]
        children = table.children_of(t)
        ws.sampled += 1
        ws.sampled_root_ns += end[r] - start[r]
        chunk_n[ch] += 1
        per_trace.clear()
        for idx, ns, ld in critical_path(table, r, children):
            if ns <= 0:
                continue
            svc = svc_col[idx]
            k = kind_col[idx]
            hop: PathKey
            if (calls_out[idx] and k != SpanKind.SERVER) or (k == _CLIENT and has_child[idx]):
                # A client span's own time is the gap: network, queues, connection setup.
                hop = ("edge", svc, callee_of.get(idx, svc))
            elif idx in peer_of:  # a leaf call to a peer
                hop = ("peer", svc, peer_of[idx] or spans[idx].name)
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
    ws.shape = collect_shape(table, traces, tchunk, max_shape_traces)
    return ws
