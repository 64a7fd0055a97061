"""Assessment: everything the report says, decided once, before any section is written.

`assess(bundle, baseline, config)` assembles the trace trees, splits the baseline from the
incident (a baseline export, or the calm period before a change point), ranks the root-cause
candidates, falls back to a low-score guess when nothing stands out, gives the verdict, and
marks which requests were slow. The result is frozen: the section writers
(`analysis/sections.py`, `analysis/context.py`) only read it, so no two sections can decide
the same fact differently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TypeVar

from incident.analysis.candidate import Candidate
from incident.analysis.classify import alert_service
from incident.analysis.config import AnalysisConfig
from incident.analysis.evidence import ms_text
from incident.analysis.rank import rank
from incident.analysis.semconv import ERROR, classify
from incident.analysis.signals import WindowStats, collect, collect_pair
from incident.analysis.trees import SpanTable, build
from incident.analysis.verdict import decide, holds
from incident.analysis.windows import (
    ChangePoint,
    find_change,
    find_edge_change,
    find_operation_change,
    find_service_change,
    percentile,
)
from incident.model import Bundle
from incident.report import Verdict, Window, format_time

T = TypeVar("T")

PathKey = tuple[str, str, str]


def iso(ns: int | None) -> str | None:
    return None if ns is None else format_time(ns)


def percentile_sorted(values: list[int], q: float) -> float:
    return percentile([float(v) for v in values], q) if values else 0.0


@dataclass(frozen=True)
class Assessment:
    """One diagnosis, decided: the inputs, the windows, the ranked causes and the verdict.

    `base` is the comparison window (None without a baseline file or a change point);
    `compared` is the base the verdict used (None also when the change starts with the
    export, so nothing lies before it). `causes` are the report's root causes, best first
    (empty for "no-incident"); `ordered` every ranked candidate; `added` the added
    critical-path ms per hop; `slow` which incident traces were slow.
    """

    bundle: Bundle
    baseline: Bundle | None
    config: AnalysisConfig
    table: SpanTable
    inc: WindowStats
    base: WindowStats | None
    compared: WindowStats | None
    change: ChangePoint | None
    window: Window
    ordered: list[Candidate]
    causes: list[Candidate]
    fell_back: bool
    added: dict[PathKey, float]
    verdict: Verdict
    slow: dict[int, bool] = field(default_factory=dict)


def assess(bundle: Bundle, baseline: Bundle | None, config: AnalysisConfig) -> Assessment:
    """Decide everything the report will say about this bundle (and baseline)."""
    table = build(bundle.spans)
    btable = build(baseline.spans) if baseline is not None and baseline.spans else None
    window = Window()
    inc, base, change = _split(bundle, table, btable, config, window)
    ordered, added = rank(inc, base, config)
    causes, fell_back = _causes(bundle, inc, ordered, config)
    compared = base if base is not None and base.n_traces else None
    if base is not None and compared is None:
        # The change starts where the export starts: nothing before it to compare with.
        window.baseline = "none"
    firing = sum(1 for alert in bundle.alerts if alert.status == "firing")
    error_logs = sum(1 for r in bundle.logs if r.level in ("ERROR", "FATAL"))
    slow = _slow_traces(inc, base, config)
    verdict = decide(
        causes,
        inc,
        compared,
        fell_back=fell_back,
        alerts_firing=firing,
        error_logs=error_logs,
        slow=(sum(slow.values()), config.slow_threshold_ms),
    )
    if verdict.status == "no-incident":
        causes = []  # no culprit on a system at rest
    _frame(window, bundle, inc, base)
    return Assessment(
        bundle=bundle,
        baseline=baseline,
        config=config,
        table=table,
        inc=inc,
        base=base,
        compared=compared,
        change=change,
        window=window,
        ordered=ordered,
        causes=causes,
        fell_back=fell_back,
        added=added,
        verdict=verdict,
        slow=slow,
    )


def _split(
    bundle: Bundle,
    t: SpanTable,
    btable: SpanTable | None,
    config: AnalysisConfig,
    w: Window,
) -> tuple[WindowStats, WindowStats | None, ChangePoint | None]:
    """The incident window and its comparison: a baseline export, else the calm period
    before the change point found in the data (alerts as hints), else nothing."""
    all_traces = list(range(len(t.members)))
    cap = config.max_path_traces
    sample = _onset_sample(t, config.max_onset_spans)
    onset = _clear_onset(t, sample) if btable is not None else None
    if btable is not None and onset is not None and _calm_part_holds_more(t, btable, onset):
        # Same data, same request mix, minutes apart: the export's own calm part is the
        # closer comparison than a capture from another time that barely holds the service.
        bundle.quality.warn(
            "one service's spans all became several times as long at one moment inside the "
            "export, and the part before that moment holds more of that service than the "
            "--baseline does: that part is the comparison, not the --baseline"
        )
        btable = None
    if btable is not None:
        inc = collect(t, all_traces, cap)
        base = collect(btable, list(range(len(btable.members))), cap)
        w.baseline = "file"
        w.baseline_start, w.baseline_end = iso(base.start_ns), iso(base.end_ns)
        w.incident_start = iso(inc.start_ns) if all_traces else None
        return inc, base, None
    roots = t.roots
    times = [t.start[r] for r in roots]
    durs = [t.end[r] - t.start[r] for r in roots]
    # Any failing span counts: failures absorbed before the entry point still mark the onset.
    failed = [False] * len(roots)
    for i, f in enumerate(t.flag):
        if f:
            failed[t.tix[i]] = True
    alert_starts = [alert.starts_ns for alert in bundle.alerts if alert.starts_ns]
    change = find_change(times, durs, failed, alert_starts, config.change_buckets)
    if change is None:
        # (With a --baseline set aside, the onset that set it aside is known already.)
        change = (
            find_operation_change(_pick(t.op, sample), _pick(t.start, sample), _pick(t.end, sample))
            or onset
            or _clear_onset(t, sample)
            or find_edge_change(t.service, t.parent, t.cross, t.start, t.end, sample)
        )
    if change is None:
        inc = collect(t, all_traces, cap)
        w.baseline = "none"
        if all_traces:
            w.incident_start = iso(inc.start_ns)
        return inc, None, None
    before = [k for k in all_traces if times[k] < change.start_ns]
    during = [
        k
        for k in all_traces
        if times[k] >= change.start_ns and (change.end_ns is None or times[k] < change.end_ns)
    ]
    inc, base = collect_pair(t, during, before, cap)
    w.baseline = "in-file"
    w.incident_start = iso(change.start_ns)
    w.incident_end = iso(change.end_ns)
    w.baseline_start, w.baseline_end = iso(base.start_ns), iso(change.start_ns)
    return inc, base, change


def _calm_part_holds_more(t: SpanTable, btable: SpanTable, onset: ChangePoint) -> bool:
    """Does the export hold more of the changed service's spans before its onset than the
    baseline capture does?"""
    if onset.where is None:
        return False
    where, at = onset.where, onset.start_ns
    calm = sum(1 for sv, st in zip(t.service, t.start, strict=True) if sv == where and st < at)
    return calm > btable.service.count(where)


def _clear_onset(t: SpanTable, sample: list[int] | None) -> ChangePoint | None:
    """The moment one service's spans all became several times as long, if one did."""
    return find_service_change(
        _pick(t.service, sample),
        _pick(t.op, sample),
        _pick(t.tix, sample),
        _pick(t.start, sample),
        _pick(t.end, sample),
    )


def _onset_sample(t: SpanTable, spans: int) -> list[int] | None:
    """The spans of an even sample of traces, about `spans` of them (None: all): the onset
    searches past the entry points are per-span loops, and a few thousand requests on each
    side of an onset show it as well as a hundred thousand."""
    n, traces = len(t.start), len(t.members)
    if n <= spans or traces < 2:
        return None
    most = max(1, traces * spans // n)
    step = traces / most
    return list(chain.from_iterable(t.members[int(k * step)] for k in range(most)))


def _pick(column: Sequence[T], sample: list[int] | None) -> Sequence[T]:
    return column if sample is None else list(map(column.__getitem__, sample))


def _causes(
    bundle: Bundle, inc: WindowStats, ordered: list[Candidate], config: AnalysisConfig
) -> tuple[list[Candidate], bool]:
    """The candidates worth a responder's look (and whether they are the fallback's guess)."""
    scored = [c for c in ordered if c.score > 0.0]
    # A candidate that adds no new failures and whose latency claim does not hold (too
    # small a share of the added time, or a hop that barely grew) explains nothing a
    # responder should look at; keep one only if nothing else is left.
    top = [c for c in scored if holds(c)] or scored[:1]
    top = top[: config.max_root_causes]
    if top:
        return top, False
    return _fallback(bundle, inc), True


def _fallback(bundle: Bundle, inc: WindowStats) -> list[Candidate]:
    """Nothing stood out against the baseline: name the most error-heavy or slowest
    service, else the noisiest logger, else the alerting service, with a low score."""
    if inc.origins:
        name, o = max(inc.origins.items(), key=lambda kv: (kv[1].errors + kv[1].user_errors, kv[0]))
        c = Candidate(
            name,
            inc.peer_kind.get(name, "service"),
            kind="error",
            score=0.1,
            examples=list(o.examples),
        )
        c.errors = o.errors + o.user_errors
        c.facts.append(f"{c.errors} failures originate here; none stands out against the baseline")
        cats = Counter(classify(inc.table.spans[i], ERROR)[0] for i in c.examples)
        c.category = cats.most_common(1)[0][0] if cats else "transient"
        return [c]
    if inc.path:
        best = max(inc.path.items(), key=lambda kv: (kv[1], kv[0]))
        what, a, b = best[0]
        name = a if what == "self" else b
        c = Candidate(name, inc.peer_kind.get(name, "service"), kind="latency", score=0.05)
        c.operation = b if what == "self" else None
        c.facts.append(
            f"largest share of critical-path time "
            f"({ms_text(inc.mean_path_ms(best[0]))} per request)"
        )
        return [c]
    svc_errors: Counter[str] = Counter()
    for rec in bundle.logs:
        if rec.service and rec.level in ("ERROR", "FATAL", "WARN"):
            svc_errors[rec.service] += 1
    if not svc_errors:
        for rec in bundle.logs:
            if rec.service:
                svc_errors[rec.service] += 1
    if svc_errors:
        name, count = max(svc_errors.items(), key=lambda kv: (kv[1], kv[0]))
        c = Candidate(name, kind="error", score=0.05)
        c.facts.append(f"{count} warning or error log lines, the most of any service")
        return [c]
    for alert in bundle.alerts:
        svc = alert_service(alert)
        if svc:
            c = Candidate(svc, kind="error", score=0.05)
            c.facts.append(f"alert {alert.name} fires on it")
            return [c]
    if bundle.spans:
        c = Candidate(bundle.spans[0].service, kind="latency", score=0.01)
        c.facts.append("the only service seen; nothing anomalous was found")
        return [c]
    # Records that name no service name no candidate either: "unknown" is not a lead.
    return []


def _slow_traces(
    inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> dict[int, bool]:
    """Which incident traces were slow: beyond the baseline's percentile for their entry
    point (with at least 20 baseline requests), else beyond the fixed threshold."""
    t = inc.table
    slow_cut: dict[tuple[str, str], float] = {}
    for key in inc.entries:
        b = base.entries.get(key) if base else None
        bd = sorted(b.durations) if b else []
        if len(bd) >= 20:
            slow_cut[key] = percentile_sorted(bd, config.slow_percentile)
        else:
            slow_cut[key] = config.slow_threshold_ms * 1e6
    slow: dict[int, bool] = {}
    for k in inc.traces:
        r = t.roots[k]
        s = t.spans[r]
        slow[k] = (t.end[r] - t.start[r]) > slow_cut.get((s.service, s.name), 1e18)
    return slow


def _frame(w: Window, bundle: Bundle, inc: WindowStats, base: WindowStats | None) -> None:
    """The window's start and end: the data's actual span (traces, logs, alerts)."""
    times = [ns for ns in (inc.start_ns or None, inc.end_ns or None) if ns]
    # Every timed record: logs read from several files, or with untimed lines, are not in
    # time order.
    logged = [r.time_ns for r in bundle.logs if r.time_ns]
    if logged:
        times += [min(logged), max(logged)]
    times += [alert.starts_ns for alert in bundle.alerts if alert.starts_ns]
    if base is not None and w.baseline == "in-file":
        times.append(base.start_ns)
    if times:
        w.start, w.end = iso(min(times)), iso(max(times))
