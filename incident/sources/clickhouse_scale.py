"""The scale path of a ClickHouse store: per-window statistics computed by SQL inside the store
(per entry point, operation and RPC edge: counts, failures, duration quantiles, self time, edge
gaps, calls per request), the seeded sample of whole traces the engine reads when a window
holds more traces than it should fetch, and the adapter that makes the report's counts and
percentiles describe every trace in the store rather than the sample.

Numbers computed here agree with the engine's on the same spans within the tolerance of
ClickHouse's `quantiles` (reservoir sampling of 8,192 values: exact below that many values,
a relative rank error of about 1% above it). Two definitions differ by design and are stated:
a span fails here when its status is ERROR or its HTTP status is 400 or more or its gRPC status
is not OK (the engine's rule has a few more cases), and self time is the duration minus the
children's summed durations, floored at zero (the engine subtracts the union of the children's
intervals, so the two agree unless children overlap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from incident.sources.clickhouse import (
    MAX_WHOLE_TRACES,
    Store,
    Target,
    count_traces,
    fetch_traces,
    open_existing,
    parse,
    rows,
    time_filter,
)

if TYPE_CHECKING:
    from incident.report import Report

OpKey = tuple[str, str]
QUANTILES = (0.5, 0.95, 0.99)

# A span's failure, in SQL (see the module docstring for how it differs from the engine's).
_FAILED = (
    "(StatusCode IN ('STATUS_CODE_ERROR', 'Error') "
    "OR toUInt16OrZero(SpanAttributes['http.response.status_code']) >= 400 "
    "OR toUInt16OrZero(SpanAttributes['http.status_code']) >= 400 "
    "OR SpanAttributes['rpc.grpc.status_code'] NOT IN ('', '0'))"
)


@dataclass
class Quantiles:
    count: int = 0
    failed: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0


@dataclass
class OperationStats(Quantiles):
    self_ms_mean: float = 0.0
    self_p95_ms: float = 0.0


@dataclass
class EdgeStats:
    calls: int = 0
    gap_ms_mean: float = 0.0
    gap_p95_ms: float = 0.0
    calls_per_request: float = 0.0  # calls over the traces that made at least one


@dataclass
class StoreStats:
    """One window's statistics over every trace the store holds in it."""

    traces: int = 0
    spans: int = 0
    failed_traces: int = 0
    entries: dict[OpKey, Quantiles] = field(default_factory=dict)
    operations: dict[OpKey, OperationStats] = field(default_factory=dict)
    edges: dict[tuple[str, str], EdgeStats] = field(default_factory=dict)


def sample_ids_sql(target: Target, where: str, n: int, seed: int) -> str:
    """A subquery of `n` trace ids with a span in the window, an even sample fixed by `seed`
    (the order of a keyed hash of the id: the same store and seed give the same sample)."""
    return (
        f"SELECT TraceId FROM (SELECT DISTINCT TraceId FROM {target.traces} WHERE {where}) "
        f"ORDER BY cityHash64(TraceId, {int(seed)}) LIMIT {int(n)}"
    )


def _ms(ns: Any) -> float:
    return round(float(ns or 0) / 1e6, 3) if ns == ns else 0.0  # NaN for no values


def _spans(target: Target, where: str) -> str:
    """The window's spans: those of traces whose root starts in the window, as the engine
    splits windows by the start of each trace's root."""
    roots = f"SELECT TraceId FROM {target.traces} WHERE ParentSpanId = '' AND {where}"
    return (
        f"SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, Duration, "
        f"{_FAILED} AS failed FROM {target.traces} WHERE TraceId IN ({roots})"
    )


def _nearest_rank(column: str) -> str:
    """The engine's nearest-rank percentiles (p50, p95, p99) of `column`, exactly: the sorted
    values' element at rank ceil(q * n)."""
    ranks = ", ".join(
        f"arrayElement(v, greatest(1, least(length(v), toUInt64(ceil({q} * length(v))))))"
        for q in QUANTILES
    )
    return f"arrayMap(v -> [{ranks}], [arraySort(groupArray({column}))])[1]"


def store_stats(store: Store, target: Target, where: str) -> StoreStats:
    """Entry points, operations and edges of the window, computed in the store."""
    out = StoreStats()
    spans = _spans(target, where)
    q = _nearest_rank("Duration")
    for row in rows(
        store,
        f"SELECT count(), uniqExact(TraceId) FROM ({spans})",
    ):
        out.spans, out.traces = int(row[0]), int(row[1])
    for svc, name, n, failed, qs in rows(
        store,
        f"SELECT ServiceName, SpanName, count(), countIf(failed), {q} FROM ({spans}) "
        "WHERE ParentSpanId = '' GROUP BY ServiceName, SpanName",
    ):
        p50, p95, p99 = map(_ms, qs)
        out.entries[(svc, name)] = Quantiles(int(n), int(failed), p50, p95, p99)
        out.failed_traces += int(failed)
    self_sql = (
        f"SELECT p.ServiceName, p.SpanName, count(), countIf(p.failed), "
        f"quantiles(0.5, 0.95, 0.99)(p.Duration), "
        f"avg(greatest(toInt64(p.Duration) - toInt64(k.kids), 0)), "
        f"quantile(0.95)(greatest(toInt64(p.Duration) - toInt64(k.kids), 0)) "
        f"FROM ({spans}) AS p LEFT JOIN (SELECT TraceId, ParentSpanId AS SpanId, "
        f"sum(Duration) AS kids FROM ({spans}) WHERE ParentSpanId != '' "
        f"GROUP BY TraceId, ParentSpanId) AS k ON p.TraceId = k.TraceId AND p.SpanId = k.SpanId "
        f"GROUP BY p.ServiceName, p.SpanName SETTINGS join_use_nulls = 0"
    )
    for svc, name, n, failed, qs, self_mean, self_p95 in rows(store, self_sql):
        p50, p95, p99 = map(_ms, qs)
        out.operations[(svc, name)] = OperationStats(
            int(n), int(failed), p50, p95, p99, _ms(self_mean), _ms(self_p95)
        )
    edge_sql = (
        f"SELECT p.ServiceName, c.ServiceName, count(), "
        f"avg(greatest(toInt64(p.Duration) - toInt64(c.Duration), 0)), "
        f"quantile(0.95)(greatest(toInt64(p.Duration) - toInt64(c.Duration), 0)), "
        f"uniqExact(c.TraceId) "
        f"FROM ({spans}) AS c INNER JOIN ({spans}) AS p "
        f"ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId "
        f"WHERE c.ServiceName != p.ServiceName GROUP BY p.ServiceName, c.ServiceName"
    )
    for caller, callee, n, gap_mean, gap_p95, traces in rows(store, edge_sql):
        out.edges[(caller, callee)] = EdgeStats(
            int(n), _ms(gap_mean), _ms(gap_p95), round(int(n) / max(1, int(traces)), 3)
        )
    return out


def _ns(text: str | None) -> int | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


@dataclass
class StoreDiagnosis:
    report: Report
    sampled: bool
    incident: StoreStats | None = None
    baseline: StoreStats | None = None


def diagnose_store(
    url: str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    max_traces: int = MAX_WHOLE_TRACES,
    seed: int = 0,
) -> StoreDiagnosis:
    """Diagnose the store's window: every trace when there are at most `max_traces`, else the
    engine reads a seeded even sample (an unbiased one: its rates and shares estimate the
    whole window's) and the report's traffic numbers are replaced by the store's own."""
    from incident.analysis import diagnose

    target = parse(url)
    store = open_existing(target)
    try:
        where = time_filter(start_ns, end_ns)
        found = count_traces(store, target, where)
        sampled = found > max_traces
        if sampled:
            ids = sample_ids_sql(target, where, max_traces, seed)
        else:
            ids = f"SELECT DISTINCT TraceId FROM {target.traces} WHERE {where}"
        bundle = fetch_traces(store, target, ids)
        report = diagnose(bundle)
        if not sampled:
            return StoreDiagnosis(report, False)
        w = report.window
        inc_where = time_filter(_ns(w.incident_start) or start_ns, _ns(w.incident_end) or end_ns)
        inc = store_stats(store, target, f"{where} AND {inc_where}")
        base = None
        if w.baseline == "in-file" and w.baseline_start and w.baseline_end:
            base_where = time_filter(_ns(w.baseline_start), _ns(w.baseline_end))
            base = store_stats(store, target, f"{where} AND {base_where}")
    finally:
        store.close()
    apply_stats(report, inc, base, found)
    return StoreDiagnosis(report, True, inc, base)


def apply_stats(report: Report, inc: StoreStats, base: StoreStats | None, traces: int) -> None:
    """Make the report's counts and percentiles those of every trace in the store."""
    for ep in report.impact.entrypoints:
        key = (ep.service, ep.operation)
        e = inc.entries.get(key)
        if e is not None:
            ep.requests = e.count
            ep.error_rate = round(e.failed / max(1, e.count), 4)
            ep.p50_ms, ep.p95_ms, ep.p99_ms = e.p50_ms, e.p95_ms, e.p99_ms
        b = base.entries.get(key) if base else None
        if b is not None:
            ep.baseline_requests = b.count
            ep.baseline_error_rate = round(b.failed / max(1, b.count), 4)
            ep.baseline_p50_ms, ep.baseline_p95_ms, ep.baseline_p99_ms = (
                b.p50_ms,
                b.p95_ms,
                b.p99_ms,
            )
    imp = report.impact
    # Slow traces: the sample's share, scaled to the window (an estimate; said so).
    share_slow = imp.traces_slow / max(1, imp.traces)
    imp.traces, imp.traces_failed = inc.traces, inc.failed_traces
    imp.traces_slow = round(share_slow * inc.traces)
    report.data_quality.traces = traces
    report.data_quality.warnings.append(
        f"the store holds {traces:,} traces in the window: the causes were found on an even "
        "sample of them; request counts, error rates and percentiles are the store's own"
    )
