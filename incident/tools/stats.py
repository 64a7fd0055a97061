"""Per-operation and per-edge aggregates of one assessed window, for the tools: durations,
failures, instances and versions per operation; calls, gaps, callee times and the operation
pairs per caller -> callee edge (an instrumented service, or an uninstrumented peer named by
a leaf client span). One pass over the window's spans, done once per window on first use.

The assessment's own `WindowStats` keep what the ranking needs (entry points, origins, mean
critical-path time per hop); these keep the distributions a question about one operation or
one edge is answered with.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from incident.analysis.semconv import ERROR, USER_ERROR, calls_peer, peer_of_attributes
from incident.analysis.signals import WindowStats
from incident.analysis.windows import percentile
from incident.model import SpanKind

OpKey = tuple[str, str]
EdgeKey = tuple[str, str]


@dataclass
class OpAgg:
    durations: list[int] = field(default_factory=list)
    errors: int = 0
    user_errors: int = 0
    instances: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)


@dataclass
class EdgeAgg:
    """Calls from one service into another (or into a named peer)."""

    peer: bool = False
    calls: int = 0
    errors: int = 0
    gaps: list[int] = field(default_factory=list)  # caller span minus callee span, ns
    callee: list[int] = field(default_factory=list)  # the callee's (or the call's) duration
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    pair_errors: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class Aggregates:
    traces: int = 0
    ops: dict[OpKey, OpAgg] = field(default_factory=dict)
    edges: dict[EdgeKey, EdgeAgg] = field(default_factory=dict)
    services: Counter[str] = field(default_factory=Counter)

    def service_ops(self, service: str) -> list[OpKey]:
        return sorted(k for k in self.ops if k[0] == service)


def aggregate(ws: WindowStats) -> Aggregates:
    """One pass over the spans of the window's traces."""
    t = ws.table
    out = Aggregates(traces=ws.n_traces)
    spans, parent, flag, svc = t.spans, t.parent, t.flag, t.service
    start, end, has_child, kind = t.start, t.end, t.has_child, t.kind
    for k in ws.traces:
        for i in t.members[k]:
            s = spans[i]
            key = (svc[i], s.name)
            op = out.ops.get(key)
            if op is None:
                op = out.ops[key] = OpAgg()
            d = end[i] - start[i]
            op.durations.append(d)
            f = flag[i]
            if f == ERROR:
                op.errors += 1
            elif f == USER_ERROR:
                op.user_errors += 1
            if s.instance:
                op.instances[s.instance] += 1
            if s.version:
                op.versions[s.version] += 1
            out.services[svc[i]] += 1
            p = parent[i]
            if p >= 0 and svc[p] != svc[i]:
                e = _edge(out, (svc[p], svc[i]), peer=False)
                e.gaps.append(max(0, (end[p] - start[p]) - d))
                e.callee.append(d)
                _pair(e, (spans[p].name, s.name), f == ERROR)
            elif not has_child[i] and kind[i] != SpanKind.SERVER and calls_peer(s):
                peer = peer_of_attributes(s.attributes) if s.attributes else None
                if peer and peer != svc[i]:
                    e = _edge(out, (svc[i], peer), peer=True)
                    e.callee.append(d)
                    _pair(e, (s.name, s.name), f == ERROR)
    return out


def _edge(out: Aggregates, key: EdgeKey, *, peer: bool) -> EdgeAgg:
    e = out.edges.get(key)
    if e is None:
        e = out.edges[key] = EdgeAgg(peer=peer)
    return e


def _pair(e: EdgeAgg, pair: tuple[str, str], failed: bool) -> None:
    e.calls += 1
    e.pairs[pair] += 1
    if failed:
        e.errors += 1
        e.pair_errors[pair] += 1


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def distribution(values: list[int]) -> dict[str, Any]:
    """Count, percentiles, mean, spread (standard deviation) and max, in ms."""
    n = len(values)
    if not n:
        return {"n": 0}
    as_float = sorted(float(v) for v in values)
    mean = sum(as_float) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in as_float) / n)
    return {
        "n": n,
        "p50_ms": ms(percentile(as_float, 0.5)),
        "p95_ms": ms(percentile(as_float, 0.95)),
        "p99_ms": ms(percentile(as_float, 0.99)),
        "mean_ms": ms(mean),
        "stdev_ms": ms(sd),
        "max_ms": ms(as_float[-1]),
    }
