"""A ClickHouse store diagnosed whole or by sample: its window's traces are fetched (every one,
or a seeded even sample when there are more than the engine should read), diagnosed, and the
report's traffic numbers replaced by the store's own when a sample was read. Orchestration on
top of the sources and the analysis, as `pipeline` is; the command line reaches a store
through `pipeline.load` instead, and the benchmark and the tests call this.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from incident.report import Report
    from incident.sources.clickhouse_scale import StoreStats


@dataclass
class StoreDiagnosis:
    """A store's window diagnosed: the report, and the store's own numbers when the
    engine read a sample."""

    report: Report
    sampled: bool
    incident: StoreStats | None = None
    baseline: StoreStats | None = None


def diagnose_store(
    url: str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    max_traces: int | None = None,
    seed: int = 0,
) -> StoreDiagnosis:
    """Diagnose the store's window: every trace when there are at most `max_traces`, else the
    engine reads a seeded even sample (an unbiased one: its rates and shares estimate the
    whole window's) and the report's traffic numbers are replaced by the store's own."""
    from incident.analysis import diagnose
    from incident.sources import clickhouse as ch
    from incident.sources import clickhouse_report as chr_
    from incident.sources import clickhouse_scale as scale

    max_traces = ch.MAX_WHOLE_TRACES if max_traces is None else max_traces
    target = ch.parse(url)
    store = ch.open_existing(target)
    try:
        where = ch.time_filter(start_ns, end_ns)
        sampled = ch.count_traces(store, target, where) > max_traces
        if sampled:
            ids = scale.sample_ids_sql(target, where, max_traces, seed)
        else:
            ids = f"SELECT DISTINCT TraceId FROM {target.traces} WHERE {where}"
        bundle = ch.fetch_traces(store, target, ids)
        report = diagnose(bundle)
        if not sampled:
            return StoreDiagnosis(report, False)
        traces, spans, failed = scale.window_totals(store, target, where)
        inc, base = chr_.window_stats(store, target, report.window, start_ns, end_ns)
    finally:
        store.close()
    fetch = chr_.Fetch(url, start_ns, end_ns, traces, spans, failed, bundle.quality.traces)
    fetch = replace(fetch, sample=max_traces, seed=seed, targeted=False)
    chr_.apply_fetch(report, fetch, inc, base)
    return StoreDiagnosis(report, True, inc, base)
