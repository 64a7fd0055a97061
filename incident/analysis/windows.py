"""Where the incident starts inside one export: a change point in entry-point latency or error
rate over time buckets, with alert start times as hints; failing that, the moment one
operation's duration, one service's spans or one caller -> callee edge's call gaps rose."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

# What marked the onset: the entry points' latency or error rate, one operation's duration,
# one service's spans, the calls on one caller -> callee edge, or the first alert.
OnsetSignal = Literal["entry", "operation", "service", "edge", "alert"]
# A per-service series is keyed by the service, a per-edge one by (caller, callee).
SeriesKey = TypeVar("SeriesKey", str, tuple[str, str])

ALERT_LAG_NS = 300 * 1_000_000_000


@dataclass(frozen=True)
class ChangePoint:
    start_ns: int
    end_ns: int | None  # when the series returned to normal, if it did
    peak_ns: int | None
    strength: float
    # The service whose own change marks the onset (the per-service and per-edge fallbacks:
    # for an edge, the callee), if one does.
    where: str | None = None
    signal: OnsetSignal = "entry"


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    return _percentile(sorted(values), q)


# A series must move by this factor (either way) for its change to count.
MIN_FACTOR = 1.15
# Standard errors a change needs (less when an alert fired after it).
MIN_SCORE = 3.5
HINTED_SCORE = 2.5


class _Series:
    """One per-request quantity on a log scale, summed per time bucket."""

    def __init__(self, values: list[float], keys: list[int], b: int) -> None:
        self.sums = [0.0] * b
        for k, v in zip(keys, values, strict=True):
            self.sums[k] += v
        n = max(1, len(values))
        mean = sum(values) / n
        self.sd = math.sqrt(sum((v - mean) ** 2 for v in values) / n) or 1e-3
        self.total = sum(self.sums)

    def z(self, pre_sum: float, pre_n: float, post_n: float) -> tuple[float, float]:
        """(change of the mean after the split, its z)."""
        d = (self.total - pre_sum) / post_n - pre_sum / pre_n
        return d, d / (self.sd * math.sqrt(1 / pre_n + 1 / post_n))


@dataclass
class _Buckets:
    """Root spans counted per time bucket: requests, failures and each series' sums."""

    lo: int
    width: float
    counts: list[int]
    err: list[int]
    series: list[_Series]  # per-request series: entry-point latency

    @property
    def b(self) -> int:
        return len(self.counts)


def find_change(
    times: list[int],
    durations: list[int],
    failed: list[bool],
    alert_starts: list[int],
    buckets: int = 40,
) -> ChangePoint | None:
    """Split the root spans at the bucket boundary that best separates a calm period from a
    changed one. None when nothing changed enough or too little came before the change.

    Entry-point latency counts either way: requests that now end early (an exception cuts
    them short, a call is skipped) changed as surely as requests that slowed down. Failures
    count when they rise."""
    n = len(times)
    if n < 20:
        return _from_alerts(times, alert_starts)
    lo, hi = min(times), max(times)
    if hi <= lo:
        return None
    bk = _bucket(times, durations, failed, lo, hi, max(8, min(buckets, n // 10)))
    score, k = _best_split(bk, n)
    if k < 0 or score < MIN_SCORE:
        # A weaker change still counts when an alert fired after it: alerts lag the onset.
        hinted = [a for a in alert_starts if lo < a < hi]
        if not (hinted and k >= 0 and score >= HINTED_SCORE and lo + k * bk.width <= min(hinted)):
            return _from_alerts(times, alert_starts)
    return _describe_change(bk, n, k, score)


def _bucket(
    times: list[int],
    durations: list[int],
    failed: list[bool],
    lo: int,
    hi: int,
    b: int,
) -> _Buckets:
    width = (hi - lo) / b + 1
    # Clamped: over a span of years the "+ 1" in width vanishes in float precision.
    keys = [min(b - 1, int((t - lo) / width)) for t in times]
    counts = [0] * b
    err = [0] * b
    for k, f in zip(keys, failed, strict=True):
        counts[k] += 1
        if f:
            err[k] += 1
    series = [_Series([math.log1p(max(d, 0) / 1e6) for d in durations], keys, b)]
    return _Buckets(lo, width, counts, err, series)


def _best_split(bk: _Buckets, total_n: int) -> tuple[float, int]:
    """(score, bucket) of the boundary where failures rose or a series moved by the most
    standard errors; (0, -1) when no boundary leaves enough on both sides."""
    b, counts, err, series = bk.b, bk.counts, bk.err, bk.series
    best: tuple[float, int] = (0.0, -1)
    pre_n = pre_err = 0.0
    pre = [0.0] * len(series)
    min_seg = max(2, b // 10)
    all_err = sum(err)
    floor = math.log(MIN_FACTOR)
    for k in range(1, b):
        pre_n += counts[k - 1]
        pre_err += err[k - 1]
        for i, sr in enumerate(series):
            pre[i] += sr.sums[k - 1]
        post_n = total_n - pre_n
        if k < min_seg or b - k < min_seg or pre_n < 5 or post_n < 5:
            continue
        p1, p2 = pre_err / pre_n, (all_err - pre_err) / post_n
        pooled = (all_err / total_n) * (1 - all_err / total_n) or 1e-4
        z_err = (p2 - p1) / math.sqrt(pooled * (1 / pre_n + 1 / post_n))
        score = z_err if p2 - p1 > 0.02 else 0.0
        for i, sr in enumerate(series):
            d, z = sr.z(pre[i], pre_n, post_n)
            if abs(d) > floor:
                score = max(score, abs(z))
        if score > best[0]:
            best = (score, k)
    return best


def _describe_change(bk: _Buckets, total_n: int, k: int, score: float) -> ChangePoint:
    """The change point at bucket `k`: its start, when the series returned to normal (the
    last bucket still off the calm period the way it moved, if later ones are calm) and its
    peak (the slowest bucket with failures; the shortest, when requests got shorter without
    failing more)."""
    b, lo, width, counts, err, series = bk.b, bk.lo, bk.width, bk.counts, bk.err, bk.series
    floor = math.log(MIN_FACTOR)
    start = int(lo + k * width)
    # Which way each series moved at the split (0: it did not move enough to count).
    calm_n = max(1, sum(counts[:k]))
    after_n = max(1, total_n - sum(counts[:k]))
    calm = [sum(sr.sums[:k]) / calm_n for sr in series]
    moved = [
        (sr.total - sum(sr.sums[:k])) / after_n - c for sr, c in zip(series, calm, strict=True)
    ]
    signs = [(1.0 if d > 0 else -1.0) if abs(d) > floor else 0.0 for d in moved]
    base_err = sum(err[:k]) / calm_n
    bad = [
        j
        for j in range(k, b)
        if counts[j]
        and (
            any(
                sg and sg * (sr.sums[j] / counts[j] - c) > floor
                for sr, c, sg in zip(series, calm, signs, strict=True)
            )
            or err[j] / counts[j] - base_err > 0.05
        )
    ]
    end: int | None = None
    if bad and bad[-1] < b - 2:
        end = int(lo + (bad[-1] + 1) * width)
    sums = series[0].sums
    failing_more = (sum(err) - sum(err[:k])) / after_n - base_err > 0.02
    way = 1.0 if failing_more else (signs[0] or 1.0)
    peak_k = max(
        range(k, b),
        key=lambda j: (
            (way * sums[j] / counts[j] if counts[j] else 0.0)
            + (err[j] / counts[j] if counts[j] else 0.0)
        ),
    )
    return ChangePoint(start, end, int(lo + (peak_k + 0.5) * width), score)


# The per-operation fallback: time buckets, the fewest spans a bucket needs to give a mean,
# the share of buckets that must have one, how far an operation's typical duration must
# move (either way), and the t it needs against the spread of its bucket means. Calibrated
# on fault-free real and synthetic exports (none reaches 2; faults of a system whose request
# mix changes minute to minute reach 8) and on labelled faults (bench/accuracy.py).
OP_BUCKETS = 20
OP_MIN_SPANS = 3
OP_COVER = 0.75
OP_FACTOR = 1.5
OP_MIN_T = 10.0


def find_operation_change(
    keys: Sequence[Hashable], starts: Sequence[int], ends: Sequence[int]
) -> ChangePoint | None:
    """When the entry points did not move as a whole, did one operation's spans change
    duration at one moment (a slowdown of one kind of request, hidden in the mix)? Each
    operation's log duration is averaged per time bucket and split where its mean moved
    most, with a t against the spread of the bucket means (so drift between buckets counts
    as noise); the strongest operation's split, when it clears OP_MIN_T, starts the
    incident."""
    if not starts:
        return None
    lo, hi = min(starts), max(starts)
    if hi <= lo:
        return None
    width = (hi - lo) / OP_BUCKETS + 1
    sums: dict[Hashable, list[float]] = {}
    counts: dict[Hashable, list[int]] = {}
    for k, st, e in zip(keys, starts, ends, strict=True):
        b = min(OP_BUCKETS - 1, int((st - lo) / width))
        s = sums.get(k)
        if s is None:
            s = sums[k] = [0.0] * OP_BUCKETS
            counts[k] = [0] * OP_BUCKETS
        s[b] += math.log1p(max(0, e - st) / 1e6)
        counts[k][b] += 1
    best_t, best_b = 0.0, -1
    for k, s in sums.items():
        c = counts[k]
        means = [(b, s[b] / c[b]) for b in range(OP_BUCKETS) if c[b] >= OP_MIN_SPANS]
        if len(means) < OP_COVER * OP_BUCKETS:
            continue
        t, b = _operation_split([m for _, m in means])
        if t > best_t:
            best_t, best_b = t, means[b][0]
    if best_t < OP_MIN_T:
        return None
    return ChangePoint(int(lo + best_b * width), None, None, best_t, signal="operation")


def _operation_split(means: list[float]) -> tuple[float, int]:
    """(t, index) of the split of a series of bucket means where it moved most, by at least
    OP_FACTOR; (0, -1) when it never did."""
    floor = math.log(OP_FACTOR)
    best = (0.0, -1)
    n = len(means)
    for j in range(4, n - 3):
        pre, post = means[:j], means[j:]
        mp, mq = sum(pre) / len(pre), sum(post) / len(post)
        if abs(mq - mp) < floor:
            continue
        ss = sum((x - mp) ** 2 for x in pre) + sum((x - mq) ** 2 for x in post)
        sd = math.sqrt(ss / (n - 2)) or 1e-3
        t = abs(mq - mp) / (sd * math.sqrt(1 / len(pre) + 1 / len(post)))
        if t > best[0]:
            best = (t, j)
    return best


# The per-service fallback: each side of the split needs this many of the service's
# requests (and a tenth of them); its spans must have become this many times as long, each
# against its own operation, by this t. Calibrated on the development half of the labelled
# real faults and on their fault-free minutes (minutes of a system whose mix moves reach
# x3 at t 9; resource faults on a rarely used service reach x6 at t 9 and beyond).
SVC_MIN_SIDE = 4
SVC_RATIO = 4.0
SVC_MIN_T = 6.0


def find_service_change(
    services: Sequence[str],
    ops: Sequence[Hashable],
    traces: Sequence[int],
    starts: Sequence[int],
    ends: Sequence[int],
) -> ChangePoint | None:
    """When neither the entry points nor any busy operation moved, did one service's spans
    all become much longer at one moment (a starved service that few requests reach)? Each
    span's log duration less its operation's median over the export, averaged per request
    through the service, makes one series per service, split where it rose most."""
    logs = [math.log1p(max(0, e - st) / 1e6) for st, e in zip(starts, ends, strict=True)]
    by_op: dict[Hashable, list[float]] = {}
    for k, v in zip(ops, logs, strict=True):
        by_op.setdefault(k, []).append(v)
    med = {k: sorted(v)[len(v) // 2] for k, v in by_op.items()}
    per: dict[tuple[str, int], list[float]] = {}
    for sv, k, tr, st, v in zip(services, ops, traces, starts, logs, strict=True):
        row = per.get((sv, tr))
        if row is None:
            per[(sv, tr)] = [v - med[k], 1.0, float(st)]
        else:
            row[0] += v - med[k]
            row[1] += 1.0
            row[2] = min(row[2], float(st))
    series: dict[str, list[tuple[float, float]]] = {}
    for (sv, _), (total, count, first) in per.items():
        series.setdefault(sv, []).append((first, total / count))
    best = _strongest_rise(series, clear=False)
    if best is None:
        return None
    t, at, where = best
    return ChangePoint(at, None, None, t, where, "service")


def find_edge_change(
    services: Sequence[str],
    parent: Sequence[int],
    cross: Sequence[int],
    starts: Sequence[int],
    ends: Sequence[int],
    spans: Sequence[int] | None = None,
) -> ChangePoint | None:
    """Did the time between a caller's call and the callee's own span jump at one moment on
    one caller -> callee edge (a delay on the wire or at the callee's door, which neither
    side's own work shows)? Each call's gap, on a log scale, in a series per edge, split
    where it rose most; `where` is the callee. Some edges' gaps swing between two levels
    in calm traffic: a rise counts only when the typical call after it took longer than
    nine in ten calls before it. `spans` (indexes) limits it to those spans."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    callees = (
        [i for i, c in enumerate(cross) if c] if spans is None else [i for i in spans if cross[i]]
    )
    for i in callees:
        p = parent[i]
        gap = (ends[p] - starts[p]) - (ends[i] - starts[i])
        point = (float(starts[p]), math.log1p(max(0, gap) / 1e6))
        series.setdefault((services[p], services[i]), []).append(point)
    best = _strongest_rise(series, clear=True)
    if best is None:
        return None
    t, at, (_, callee) = best
    return ChangePoint(at, None, None, t, callee, "edge")


def _strongest_rise(
    series: dict[SeriesKey, list[tuple[float, float]]], *, clear: bool
) -> tuple[float, int, SeriesKey] | None:
    """(t, time, key) of the series whose split rose most clearly, if that clears SVC_MIN_T;
    with `clear`, only a rise whose typical point after it clears the tail before it."""
    best: tuple[float, int, SeriesKey] | None = None
    for key in sorted(series):
        points = sorted(series[key])
        t, at = _service_split(points)
        if t > (best[0] if best else 0.0) and (not clear or _clears_tail(points, at)):
            best = (t, at, key)
    return best if best is not None and best[0] >= SVC_MIN_T else None


def _clears_tail(points: list[tuple[float, float]], at: int) -> bool:
    """Whether the median value from `at` on is above the 90th percentile before it."""
    before = sorted(v for x, v in points if x < at)
    after = sorted(v for x, v in points if x >= at)
    return bool(before and after) and _percentile(after, 0.5) > _percentile(before, 0.9)


def _service_split(points: list[tuple[float, float]]) -> tuple[float, int]:
    """(t, time) of the split of one service's (time, value) series where its mean rose by
    SVC_RATIO or more, most clearly; (0, 0) when it never did."""
    n = len(points)
    side = max(SVC_MIN_SIDE, n // 10)
    if n < 2 * side:
        return 0.0, 0
    vals = [v for _, v in points]
    total, sq = sum(vals), sum(v * v for v in vals)
    floor = math.log(SVC_RATIO)
    best = (0.0, 0)
    pre = pre_sq = 0.0
    for j in range(1, n - side + 1):
        pre += vals[j - 1]
        pre_sq += vals[j - 1] ** 2
        if j < side:
            continue
        m1, m2 = pre / j, (total - pre) / (n - j)
        if m2 - m1 < floor:
            continue
        ss = (pre_sq - pre * m1) + (sq - pre_sq - (total - pre) * m2)
        sd = math.sqrt(max(ss, 0.0) / (n - 2)) or 1e-3
        t = (m2 - m1) / (sd * math.sqrt(1 / j + 1 / (n - j)))
        if t > best[0]:
            best = (t, int(points[j][0]))
    return best


def _from_alerts(times: list[int], alert_starts: list[int]) -> ChangePoint | None:
    """Without a visible change, the first alert inside the export splits it, if enough
    traffic came before it to serve as a baseline."""
    if not times or not alert_starts:
        return None
    lo, hi = min(times), max(times)
    inside = sorted(a for a in alert_starts if lo < a < hi)
    if not inside:
        return None
    # Alert rules wait (`for: 5m` is common) before they fire: the trouble began earlier.
    first = max(lo + (inside[0] - lo) // 2, inside[0] - ALERT_LAG_NS)
    before = sum(1 for t in times if t < first)
    if before < max(5, len(times) // 5):
        return None
    return ChangePoint(first, None, None, 0.0, signal="alert")
