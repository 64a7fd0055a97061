"""The report side of a large ClickHouse window. When a window holds more traces than are
fetched whole, the engine runs on those it got (every trace with a failing span up to a cap,
the slowest per entry point, a seeded even sample) and `StoreAdjuster`, the `ReportAdjuster`
the fetcher hands back, then puts the store's own numbers over every trace of the window into
the report: per entry point the requests, error rate and exact nearest-rank p50/p95/p99 (the
engine's definitions, computed in SQL), the impact's traces, failed traces and duration, the
data quality's trace and span counts, and a warning saying how many traces were read whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from incident.sources.clickhouse import Store, Target, open_existing, parse, time_filter
from incident.sources.clickhouse_scale import (
    SLOWEST_PER_ENTRY,
    StoreStats,
    failed_cap,
    store_stats,
)

if TYPE_CHECKING:
    from incident.report import Report, Window

# What the warning says of the percentiles: how they were computed and their tolerance.
PERCENTILES = (
    "percentiles are exact (nearest rank over every value, sorted in the store, as the "
    "engine computes them; none of ClickHouse's approximate quantile functions is used)"
)


@dataclass(frozen=True)
class Fetch:
    """One window of a store and what of it was fetched whole."""

    url: str
    start_ns: int | None
    end_ns: int | None
    traces: int  # with a span in the window
    spans: int
    failed: int  # traces with a failing span
    fetched: int  # traces fetched whole
    sample: int = 0  # the even sample's size
    seed: int = 0
    targeted: bool = True  # failed and slowest traces were fetched besides the sample


def _ns(text: str | None) -> int | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def window_stats(
    store: Store, target: Target, w: Window, start_ns: int | None, end_ns: int | None
) -> tuple[StoreStats, StoreStats | None]:
    """The store's statistics of the report's incident window and, when the engine found
    the baseline in the same data, of that baseline window (both within the read window)."""
    where = time_filter(start_ns, end_ns)
    inc_where = time_filter(_ns(w.incident_start) or start_ns, _ns(w.incident_end) or end_ns)
    inc = store_stats(store, target, f"{where} AND {inc_where}", detail=False)
    base = None
    if w.baseline == "in-file" and w.baseline_start and w.baseline_end:
        base_where = time_filter(_ns(w.baseline_start), _ns(w.baseline_end))
        base = store_stats(store, target, f"{where} AND {base_where}", detail=False)
    return inc, base


@dataclass(frozen=True)
class StoreAdjuster:
    """A `ReportAdjuster`: the store's numbers for `fetch`'s window, queried when applied (the
    incident and baseline windows are the engine's, known only once it ran)."""

    fetch: Fetch

    def __call__(self, report: Report, *, baseline: bool) -> None:
        f = self.fetch
        target = parse(f.url)
        store = open_existing(target)
        try:
            if baseline:
                where = time_filter(f.start_ns, f.end_ns)
                base = store_stats(store, target, where, detail=False)
            else:
                inc, found = window_stats(store, target, report.window, f.start_ns, f.end_ns)
        finally:
            store.close()
        if baseline:
            apply_baseline(report, base)
            report.data_quality.warnings.append(f"baseline: {whole_text(f)}")
        else:
            apply_fetch(report, f, inc, found)


def whole_text(f: Fetch) -> str:
    """The warning: what was fetched whole, and which numbers are the store's."""
    if f.targeted:
        failed = (
            f"every one of the {f.failed:,} with a failing span"
            if f.failed <= failed_cap(f.sample)
            else f"{failed_cap(f.sample):,} of the {f.failed:,} with a failing span (seed {f.seed})"
        )
        what = (
            f"{failed}, the {SLOWEST_PER_ENTRY} slowest per entry point and an even sample "
            f"of {f.sample:,} (seed {f.seed})"
        )
    else:
        what = f"an even sample (seed {f.seed})"
    return (
        f"{f.url}: {f.fetched:,} of the {f.traces:,} traces in the window were fetched whole "
        f"({what}) and the causes were found on them; requests, error rates, p50/p95/p99, "
        f"failed traces and trace and span counts are the store's own over every trace "
        f"({PERCENTILES}); slow-trace counts are scaled from the fetched traces, and failure "
        "counts, shares of requests and latency figures describe the fetched traces"
    )


def apply_fetch(report: Report, f: Fetch, inc: StoreStats, base: StoreStats | None) -> None:
    """The incident window's numbers (and an in-data baseline's) over every trace."""
    for ep in report.impact.entrypoints:
        e = inc.entries.get((ep.service, ep.operation))
        if e is not None:
            ep.requests = e.count
            ep.error_rate = round(e.failed / max(1, e.count), 4)
            ep.p50_ms, ep.p95_ms, ep.p99_ms = e.p50_ms, e.p95_ms, e.p99_ms
    report.impact.entrypoints.sort(key=lambda ep: -ep.requests)
    if base is not None:
        apply_baseline(report, base)
    imp = report.impact
    # Slow traces: the fetched traces' share, scaled to the window (an estimate; said so).
    share_slow = imp.traces_slow / max(1, imp.traces)
    imp.traces, imp.traces_failed = inc.traces, inc.failed_traces
    imp.traces_slow = round(share_slow * inc.traces)
    if inc.traces:
        imp.duration_s = round((inc.end_ns - inc.start_ns) / 1e9, 3)
    report.data_quality.traces = f.traces
    report.data_quality.spans = f.spans
    report.data_quality.warnings.append(whole_text(f))


def apply_baseline(report: Report, base: StoreStats) -> None:
    """The baseline window's numbers over every trace, per entry point."""
    for ep in report.impact.entrypoints:
        b = base.entries.get((ep.service, ep.operation))
        if b is not None:
            ep.baseline_requests = b.count
            ep.baseline_error_rate = round(b.failed / max(1, b.count), 4)
            ep.baseline_p50_ms, ep.baseline_p95_ms, ep.baseline_p99_ms = (
                b.p50_ms,
                b.p95_ms,
                b.p99_ms,
            )
