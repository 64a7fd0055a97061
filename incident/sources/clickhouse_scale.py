"""The scale path of a ClickHouse store: per-window statistics computed by SQL inside the store
(per entry point, operation and RPC edge: counts, failures, duration quantiles, self time, edge
gaps, calls per request), the seeded sample of whole traces the engine reads when a window
holds more traces than it should fetch, and the adapter that makes the report's counts and
percentiles describe every trace in the store rather than the sample.

Entry-point numbers (requests, failures, p50/p95/p99) are exactly the engine's: a span fails
by the engine's rule (its HTTP status, else its gRPC status, else its status ERROR or an `error`
attribute), and percentiles are nearest-rank over every sorted value. Per-operation and
per-edge duration quantiles use ClickHouse's `quantiles` (reservoir sampling of 8,192 values:
exact below that many values, a relative rank error of about 1% above it); they are not put in
the report. Self time here is the duration minus the children's summed durations, floored at
zero (the engine subtracts the union of the children's intervals, so the two agree unless
children overlap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incident.sources.clickhouse import (
    Store,
    Target,
    rows,
)

if TYPE_CHECKING:
    pass

OpKey = tuple[str, str]
QUANTILES = (0.5, 0.95, 0.99)


def _code(key: str) -> str:
    return f"ifNull(toInt64OrNull(SpanAttributes['{key}']), -1)"


_ERROR_STATUS = "StatusCode IN ('STATUS_CODE_ERROR', 'Error')"
_ERROR_ATTR = "SpanAttributes['error'] IN ('true', '1')"
# A span's failure in SQL, the engine's rule (semconv.failure_flag != OK): the first status
# code present decides (HTTP 400 or more; a gRPC status other than OK), a code that is not a
# number counts as none, then status ERROR, then an `error` attribute when no code is usable.
FAILED = (
    "multiIf("
    + ", ".join(
        f"mapContains(SpanAttributes, '{key}'), {_code(key)} {test} OR {_ERROR_STATUS} "
        f"OR ({_code(key)} < 0 AND {_ERROR_ATTR})"
        for key, test in (
            ("http.response.status_code", ">= 400"),
            ("http.status_code", ">= 400"),
            ("rpc.grpc.status_code", "> 0"),
        )
    )
    + f", {_ERROR_STATUS} OR {_ERROR_ATTR})"
)
_FAILED = f"({FAILED})"


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
    start_ns: int = 0  # the first entry span's start
    end_ns: int = 0  # the last entry span's end
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


# The slowest entry spans fetched whole per entry point, and how many entry points at most.
SLOWEST_PER_ENTRY = 3
_SLOWEST_ENTRIES = 200


def failed_cap(sample: int) -> int:
    """How many traces with a failing span are fetched whole beside a sample of `sample`."""
    return max(1, sample // 2)


def bounded_ids_sql(target: Target, where: str, sample: int, seed: int) -> str:
    """A subquery of the trace ids fetched whole from a large window: those with a failing
    span (up to `failed_cap(sample)`, a seeded choice past it), the slowest few per entry
    point, the first and the last, and the seeded even sample `sample_ids_sql` gives."""
    t = target.traces
    failed = (
        f"SELECT TraceId FROM (SELECT DISTINCT TraceId FROM {t} WHERE {where} AND {_FAILED}) "
        f"ORDER BY cityHash64(TraceId, {int(seed)}) LIMIT {failed_cap(sample)}"
    )
    slowest = (
        f"SELECT TraceId FROM {t} WHERE {where} AND ParentSpanId = '' "
        f"ORDER BY Duration DESC, TraceId LIMIT {SLOWEST_PER_ENTRY} BY ServiceName, SpanName "
        f"LIMIT {SLOWEST_PER_ENTRY * _SLOWEST_ENTRIES}"
    )
    # The first and last entry spans: the engine's change-point grid spans the same time.
    ends = " UNION ALL ".join(
        f"SELECT TraceId FROM (SELECT TraceId FROM {t} WHERE {where} AND ParentSpanId = '' "
        f"ORDER BY Timestamp {order}, TraceId LIMIT 1)"
        for order in ("ASC", "DESC")
    )
    parts = (failed, slowest, ends, sample_ids_sql(target, where, sample, seed))
    return " UNION DISTINCT ".join(f"SELECT TraceId FROM ({p})" for p in parts)


def window_totals(store: Store, target: Target, where: str) -> tuple[int, int, int]:
    """(traces, spans, traces with a failing span) with a span in the window."""
    sql = (
        f"SELECT uniqExact(TraceId), count(), uniqExactIf(TraceId, {_FAILED}) "
        f"FROM {target.traces} WHERE {where}"
    )
    for row in rows(store, sql):
        return int(row[0]), int(row[1]), int(row[2])
    return 0, 0, 0


def _ms(ns: Any) -> float:
    return round(float(ns or 0) / 1e6, 3) if ns == ns else 0.0  # NaN for no values


def _spans(target: Target, where: str) -> str:
    """The window's spans: those of traces whose root starts in the window, as the engine
    splits windows by the start of each trace's root."""
    roots = f"SELECT TraceId FROM {target.traces} WHERE ParentSpanId = '' AND {where}"
    return (
        f"SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, Duration, Timestamp, "
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


def store_stats(store: Store, target: Target, where: str, *, detail: bool = True) -> StoreStats:
    """Entry points (and, with `detail`, operations and edges) of the window, computed in
    the store."""
    out = StoreStats()
    spans = _spans(target, where)
    q = _nearest_rank("Duration")
    for row in rows(
        store,
        f"SELECT count(), uniqExact(TraceId), "
        f"toInt64(minIf(toUnixTimestamp64Nano(Timestamp), ParentSpanId = '')), "
        f"toInt64(maxIf(toUnixTimestamp64Nano(Timestamp) + toInt64(Duration), "
        f"ParentSpanId = '')) FROM ({spans})",
    ):
        out.spans, out.traces = int(row[0]), int(row[1])
        out.start_ns, out.end_ns = int(row[2]), int(row[3])
    for svc, name, n, failed, qs in rows(
        store,
        f"SELECT ServiceName, SpanName, count(), countIf(failed), {q} FROM ({spans}) "
        "WHERE ParentSpanId = '' GROUP BY ServiceName, SpanName",
    ):
        p50, p95, p99 = map(_ms, qs)
        out.entries[(svc, name)] = Quantiles(int(n), int(failed), p50, p95, p99)
        out.failed_traces += int(failed)
    if detail:
        _detail(store, spans, out)
    return out


def _detail(store: Store, spans: str, out: StoreStats) -> None:
    """Per-operation and per-edge statistics of the window's spans, into `out`."""
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
