"""Trace assembly in columns: per-span parent index, trace index, failure flag and clock-skew
corrected start/end, built once in linear time without touching the input spans."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from incident.analysis.semconv import GRPC_CODE_KEY, failure_flag
from incident.model import Span, SpanKind

_SERVER, _CLIENT, _UNSPEC, _PRODUCER, _CONSUMER, _INTERNAL = (
    SpanKind.SERVER, SpanKind.CLIENT, SpanKind.UNSPECIFIED, SpanKind.PRODUCER, SpanKind.CONSUMER,
    SpanKind.INTERNAL,
)


_HTTP_NEW, _HTTP_OLD = "http.response.status_code", "http.status_code"
# A tuple, not a set: attribute values may be unhashable, and 200 is found first anyway.
_OK_CODES = (200, 204, 201, 202, 301, 302, 304, "200", "201", "204")


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


def _is_failure_candidate(span: Span) -> bool:
    a = span.attributes
    if not a:
        return False
    code = a.get(_HTTP_NEW)
    if code is None:
        code = a.get(_HTTP_OLD)
    if code is not None:
        return code not in _OK_CODES
    g = a.get(GRPC_CODE_KEY)
    if g is not None:
        return g not in (0, "0", "OK")
    return "error" in a


def build(spans: Sequence[Span]) -> SpanTable:
    """Index, link and skew-correct the spans; count what had to be repaired."""
    n = len(spans)
    tids = [s.trace_id for s in spans]
    tmap = {t: k for k, t in enumerate(dict.fromkeys(tids))}
    tix = array("l", map(tmap.__getitem__, tids))
    del tids
    ids = [s.span_id for s in spans]
    # Built back to front so that the first occurrence of a repeated id wins.
    index = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))
    dup_pairs: list[tuple[int, int]] = []
    if len(index) != n:
        dup_pairs = [(index[sid], i) for i, sid in enumerate(ids) if index[sid] != i]
    del ids
    get = index.get
    pids = [s.parent_id for s in spans]
    parent = array("q", [get(p, -1) if p else -1 for p in pids])
    del index, get
    orphans = 0
    cycles = 0
    for i, j in enumerate(parent):
        if j < 0:
            if pids[i]:
                orphans += 1
        elif j == i:
            parent[i] = -1  # a self-parent: the shortest cycle
            cycles += 1
        elif tix[j] != tix[i]:
            parent[i] = -1
            orphans += 1
    del pids
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
    end = [s.end_ns if s.end_ns >= s.start_ns else s.start_ns for s in spans]
    kind = [s.kind for s in spans]
    svc = [s.service for s in spans]
    done = bytearray(n)  # 0 new, 1 in progress, 2 done
    for i, j in enumerate(parent):
        if j < 0:
            done[i] = 2
    offs: dict[int, int] = {}  # span -> shift applied to it (only the skewed ones)
    skew_adjusted = 0
    for i in range(n):
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
    flag = bytearray(n)
    members: list[list[int]] = [[] for _ in range(len(tmap))]
    calls_out = bytearray(n)
    has_child = bytearray(n)
    for i, s in enumerate(spans):
        members[tix[i]].append(i)
        p = parent[i]
        if p >= 0:
            has_child[p] = 1
            if svc[p] != svc[i]:
                calls_out[p] = 1
        if s.status == 2:
            flag[i] = failure_flag(s)
        elif kind[i] != _INTERNAL:
            # Proxies (Envoy) report 5xx in attributes and leave the status unset; a server
            # answering 4xx (the client's mistake) is unset by the rules too. Inlined: this
            # runs once per span.
            attrs = s.attributes
            if not attrs:
                continue
            code = attrs.get(_HTTP_NEW)
            if code is None:
                code = attrs.get(_HTTP_OLD)
            if code is not None:
                if code not in _OK_CODES:
                    flag[i] = failure_flag(s)
            elif _is_failure_candidate(s):
                flag[i] = failure_flag(s)
    roots: list[int] = []
    for m in members:
        best = -1
        for i in m:
            if parent[i] < 0 and (best < 0 or start[i] < start[best]):
                best = i
        roots.append(best if best >= 0 else m[0])
    table = SpanTable(spans, list(tmap), tix, parent, start, end, flag, members, roots,
                      calls_out, svc, kind, has_child, orphans, duplicates, cycles,
                      skew_adjusted)
    if orphans:
        table.warnings.append(f"{orphans} spans reference a parent that is not in the input")
    if cycles:
        table.warnings.append(f"{cycles} parent cycles were broken")
    return table

