"""Where a failing span points and what it accounts for: the component to blame (its
service, the service a client span called, or the uninstrumented peer of a leaf call),
whether the caller tried again, and the failing spans above it, following a trace context a
framework lost back into the request it belongs to."""

from __future__ import annotations

from bisect import bisect_left

from incident.analysis.semconv import (
    calls_peer,
    is_connection_failure,
    peer_in_text,
    peer_kind,
    peer_name,
)
from incident.analysis.trees import SpanTable
from incident.model import SpanKind

_CLIENT = SpanKind.CLIENT


def _callee(table: SpanTable, i: int) -> str | None:
    """The service a client-like span called: its first child in another service."""
    svc = table.spans[i].service
    parent = table.parent
    for j in table.members[table.tix[i]]:
        if parent[j] == i and table.spans[j].service != svc:
            return table.spans[j].service
    return None


def retried(table: SpanTable, i: int) -> bool:
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


def broken_context(table: SpanTable, failing: list[int], relaying: set[int]) -> dict[int, int]:
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


def failing_ancestors(table: SpanTable, i: int, relays: dict[int, int]) -> int:
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
