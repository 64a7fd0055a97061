"""Trace assembly in columns: per-span parent index, trace index, failure flag and clock-skew
corrected start/end, built once in linear time without touching the input spans.

The meaning each analysis step reads is computed here once per span too: the failure flag,
where the span ran (service, instance, version) and, for spans that call something else, the
peer they call. Columns are filled by bulk passes (`map`, `compress`, slices) so that the
Python loops run over the spans that need a decision only.
"""

from __future__ import annotations

import gc
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress, pairwise, repeat
from operator import attrgetter, eq, ge, gt, is_not, lt, methodcaller, ne, or_

from incident.analysis.semconv import GRPC_CODE_KEY, failure_flag, peer_of_attributes
from incident.model import Span, SpanKind

_SERVER, _CLIENT, _UNSPEC, _PRODUCER, _CONSUMER, _INTERNAL = (
    SpanKind.SERVER,
    SpanKind.CLIENT,
    SpanKind.UNSPECIFIED,
    SpanKind.PRODUCER,
    SpanKind.CONSUMER,
    SpanKind.INTERNAL,
)


_HTTP_NEW, _HTTP_OLD = "http.response.status_code", "http.status_code"
# A tuple, not a set: attribute values may be unhashable, and 200 is found first anyway.
_OK_CODES = (200, 204, 201, 202, 301, 302, 304, "200", "201", "204")
_GRPC_OK = (0, "0", "OK")
_NEG = -1
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
_STATUS, _ATTRIBUTES = attrgetter("status"), attrgetter("attributes")
_RESOURCE = attrgetter("resource")
_GET_NEW, _GET_GRPC = methodcaller("get", _HTTP_NEW), methodcaller("get", GRPC_CODE_KEY)


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


def build(spans: Sequence[Span]) -> SpanTable:
    """Index, link and skew-correct the spans; count what had to be repaired; fill the
    semantic columns."""
    with _gc_paused():
        return _build(spans)


def _build(spans: Sequence[Span]) -> SpanTable:
    # Columns are plain lists while they are built (reading an array boxes every int) and
    # packed into arrays at the end; exceptions (cut links, skew, cycles) are found in bulk
    # passes so that the Python loops run over them only.
    n = len(spans)
    tids = list(map(_TRACE_ID, spans))
    tmap = {t: k for k, t in enumerate(dict.fromkeys(tids))}
    tix = list(map(tmap.__getitem__, tids))
    del tids
    parent, orphans, cycles, duplicates = _link(spans, tix)
    # Lists here: their ints are the spans' own objects, so they cost only a pointer each.
    start = list(map(_START, spans))
    end = list(map(_END, spans))
    if any(map(lt, end, start)):
        end = [e if e >= s else s for e, s in zip(end, start, strict=True)]
    kind = list(map(_KIND, spans))
    svc = list(map(_SERVICE, spans))
    members: list[list[int]] = [[] for _ in range(len(tmap))]
    deque(map(list.append, map(members.__getitem__, tix), range(n)), 0)
    if _has_cycle(parent):
        cycles, skew_adjusted = _link_and_skew(range(n), parent, start, end, svc, kind, cycles)
    else:
        # Whether a child must move depends only on where it lies against its parent as read
        # (a correction shifts the whole subtree), so only traces holding such a child are
        # walked.
        skewed = _skew_candidates(parent, start, end, svc, kind)
        skew_adjusted = 0
        if skewed:
            walk = [i for t in sorted({tix[k] for k in skewed}) for i in members[t]]
            _, skew_adjusted = _link_and_skew(walk, parent, start, end, svc, kind, 0)
    has_child, calls_out, cross = _child_marks(parent, svc)
    table = SpanTable(
        spans,
        list(tmap),
        array("l", tix),
        array("q", parent),
        start,
        end,
        _flags(spans, kind),
        members,
        _roots(parent, tix, start, members),
        calls_out,
        svc,
        kind,
        has_child,
        cross=cross,
        orphans=orphans,
        duplicates=duplicates,
        cycles=cycles,
        skew_adjusted=skew_adjusted,
    )
    _resource_columns(table)
    _peer_columns(table)
    if orphans:
        table.warnings.append(f"{orphans} spans reference a parent that is not in the input")
    if cycles:
        table.warnings.append(f"{cycles} parent cycles were broken")
    return table


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


def _child_marks(parent: list[int], svc: list[str]) -> tuple[bytearray, bytearray, bytearray]:
    """(has a child, has a child in another service, has its parent in another service) per
    span."""
    n = len(parent)
    has_child = bytearray(n)
    calls_out = bytearray(n)
    cross = bytearray(n)
    for i, p in enumerate(parent):
        if p >= 0:
            has_child[p] = 1
            if svc[p] != svc[i]:
                calls_out[p] = 1
                cross[i] = 1
    return has_child, calls_out, cross


def _roots(
    parent: list[int], tix: list[int], start: list[int], members: list[list[int]]
) -> list[int]:
    """One root per trace: its earliest-starting span without a parent (the first span of a
    trace that is nothing but a cycle)."""
    roots = [-1] * len(members)
    for i in compress(range(len(parent)), map(_NEG.__eq__, parent)):
        t = tix[i]
        best = roots[t]
        if best < 0 or start[i] < start[best]:
            roots[t] = i
    for t, r in enumerate(roots):
        if r < 0:
            roots[t] = members[t][0]  # nothing but a cycle: its first span stands in
    return roots


# Where a span ran: (service, instance, version).
ResKey = tuple[str, str | None, str | None]
_INSTANCE_KEYS = ("k8s.pod.name", "host.name", "service.instance.id", "container.id")
# Span attributes that can change where a span ran (see `resource_key`).
_RES_ATTR_KEYS = frozenset((*_INSTANCE_KEYS, "service.version"))
_RES_ATTR_ORDER = (*_INSTANCE_KEYS, "service.version")


def resource_key(span: Span, *, span_attributes: bool = True) -> ResKey:
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
        return resource_key(s)
    if hit is None:
        hit = cache[ck] = resource_key(s)
    return hit


def _runs(col: list[int]) -> list[tuple[int, int, int]]:
    """(first, past the last, value) of each run of equal values in `col`."""
    n = len(col)
    if not n:
        return []
    cuts = [0, *compress(range(1, n), map(ne, col[1:], col[:-1])), n]
    return [(a, b, col[a]) for a, b in pairwise(cuts)]


def _resource_columns(table: SpanTable) -> None:
    """Fill `res`, `res_keys` and `res_runs`. An export lists a resource's spans together:
    a run of spans sharing one resource and service is keyed once, unless its resource
    leaves the instance or version unsaid (then each span's tags are read)."""
    spans, svc = table.spans, table.service
    n = len(spans)
    resources = list(map(_RESOURCE, spans))
    changes = map(or_, map(is_not, resources[1:], resources[:-1]), map(ne, svc[1:], svc[:-1]))
    cuts = [0, *compress(range(1, n), changes), n] if n else [0]
    del resources
    keys: dict[ResKey, int] = {}
    base_of: dict[tuple[int, str], ResKey] = {}
    by_attrs: dict[tuple[ResKey, tuple[object, ...]], ResKey] = {}
    res: list[int] = []
    for a, b in pairwise(cuts):
        s = spans[a]
        ck = (id(s.resource), svc[a])
        base = base_of.get(ck)
        if base is None:
            base = base_of[ck] = resource_key(s, span_attributes=False)
        if base[1] is None or base[2] is None:
            for i in range(a, b):
                k = _span_resource_key(spans[i], base, by_attrs)
                res.append(keys.setdefault(k, len(keys)))
        else:
            res.extend(repeat(keys.setdefault(base, len(keys)), b - a))
    table.res, table.res_keys, table.res_runs = res, list(keys), _runs(res)


# Per kind, whether a span of it calls something else: 1 yes, 0 no, 2 when its attributes
# describe a database call (see `semconv.calls_peer`).
_KIND_CALLS: dict[int, int] = {_CLIENT: 1, _PRODUCER: 1, _SERVER: 0, _CONSUMER: 0}


def _peer_columns(table: SpanTable) -> None:
    """Fill `calls` (the span calls something else) and `peer` (the peer a childless such
    span names)."""
    spans, has_child = table.spans, table.has_child
    n = len(spans)
    calls = bytearray(n)
    peer: list[str | None] = [None] * n
    verdict = list(map(_KIND_CALLS.get, table.kind, repeat(2)))
    for i in compress(range(n), verdict):
        a = spans[i].attributes
        if verdict[i] == 2 and not (a and ("db.system" in a or "db.system.name" in a)):
            continue
        calls[i] = 1
        if not has_child[i] and a:
            peer[i] = peer_of_attributes(a)
    table.calls, table.peer = calls, peer


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


def _skew_candidates(
    parent: list[int], start: list[int], end: list[int], svc: list[str], kind: list[int]
) -> list[int]:
    """Children sticking out of their parent on another service's clock: the spans the skew
    correction may move (with their subtrees)."""
    out = map(
        or_,
        map(lt, start, map(start.__getitem__, parent)),
        map(gt, end, map(end.__getitem__, parent)),
    )
    found = []
    for k in compress(range(len(parent)), out):
        p = parent[k]
        if (
            p >= 0
            and svc[k] != svc[p]
            and kind[k] in (_SERVER, _UNSPEC)
            and kind[p] != _PRODUCER
            and kind[k] != _CONSUMER
        ):
            found.append(k)
    return found


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


def _flags(spans: Sequence[Span], kind: list[int]) -> bytearray:
    """Failure flag per span; only spans that may have failed are judged in full."""
    flag = bytearray(len(spans))
    for i, s in enumerate(spans):
        if s.status == 2:
            flag[i] = failure_flag(s)
        elif kind[i] != _INTERNAL:
            # Proxies (Envoy) report 5xx in attributes and leave the status unset; a server
            # answering 4xx (the client's mistake) is unset by the rules too.
            attrs = s.attributes
            if not attrs:
                continue
            code = attrs.get(_HTTP_NEW)
            if code is None:
                code = attrs.get(_HTTP_OLD)
            if code is not None:
                if code not in _OK_CODES:
                    flag[i] = failure_flag(s)
                continue
            g = attrs.get(GRPC_CODE_KEY)
            if (g not in _GRPC_OK) if g is not None else "error" in attrs:
                flag[i] = failure_flag(s)
    return flag
