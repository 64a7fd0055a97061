"""Trace assembly in columns: per-span parent index, trace index, failure flag and clock-skew
corrected start/end, built once in linear time without touching the input spans."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, eq, ge, gt, lt, methodcaller, ne, or_

from incident.analysis.semconv import GRPC_CODE_KEY, failure_flag
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


def build(spans: Sequence[Span]) -> SpanTable:
    """Index, link and skew-correct the spans; count what had to be repaired."""
    # Columns are plain lists while they are built (reading an array boxes every int) and
    # packed into arrays at the end; exceptions (cut links, skew, cycles) are found in bulk
    # passes so that the Python loops run over them only.
    n = len(spans)
    tids = [s.trace_id for s in spans]
    tmap = {t: k for k, t in enumerate(dict.fromkeys(tids))}
    tix = list(map(tmap.__getitem__, tids))
    del tids
    ids = [s.span_id for s in spans]
    # Built back to front so that the first occurrence of a repeated id wins.
    index: dict[str | None, int] = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))
    dup_pairs: list[tuple[int, int]] = []
    if len(index) != n:
        dup_pairs = [(index[sid], i) for i, sid in enumerate(ids) if index[sid] != i]
    del ids
    pids = [s.parent_id for s in spans]
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

    # Lists here: their ints are the spans' own objects, so they cost only a pointer each.
    start = [s.start_ns for s in spans]
    end = [s.end_ns for s in spans]
    if any(map(lt, end, start)):
        end = [e if e >= s else s for e, s in zip(end, start, strict=True)]
    kind = [s.kind for s in spans]
    svc = [s.service for s in spans]
    members: list[list[int]] = [[] for _ in range(len(tmap))]
    for i, t in enumerate(tix):
        members[t].append(i)
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

    has_child = bytearray(n)
    calls_out = bytearray(n)
    for i, p in enumerate(parent):
        if p >= 0:
            has_child[p] = 1
            if svc[p] != svc[i]:
                calls_out[p] = 1
    flag = _flags(spans, kind)
    roots = [-1] * len(members)
    for i in compress(range(n), map(_NEG.__eq__, parent)):
        t = tix[i]
        best = roots[t]
        if best < 0 or start[i] < start[best]:
            roots[t] = i
    for t, r in enumerate(roots):
        if r < 0:
            roots[t] = members[t][0]  # nothing but a cycle: its first span stands in
    # Arrays to keep: 8 bytes a span instead of a pointer and an int object.
    table = SpanTable(
        spans,
        list(tmap),
        array("l", tix),
        array("q", parent),
        start,
        end,
        flag,
        members,
        roots,
        calls_out,
        svc,
        kind,
        has_child,
        orphans,
        duplicates,
        cycles,
        skew_adjusted,
    )
    if orphans:
        table.warnings.append(f"{orphans} spans reference a parent that is not in the input")
    if cycles:
        table.warnings.append(f"{cycles} parent cycles were broken")
    return table


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
