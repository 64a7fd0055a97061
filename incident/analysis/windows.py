"""Where the incident starts inside one export: a change point in entry-point latency or error
rate over time buckets, with alert start times as hints."""

from __future__ import annotations

import math
from dataclasses import dataclass

ALERT_LAG_NS = 300 * 1_000_000_000


@dataclass(frozen=True)
class ChangePoint:
    start_ns: int
    end_ns: int | None  # when the series returned to normal, if it did
    peak_ns: int | None
    strength: float


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    return _percentile(sorted(values), q)


def find_change(
    times: list[int],
    durations: list[int],
    failed: list[bool],
    alert_starts: list[int],
    buckets: int = 40,
) -> ChangePoint | None:
    """Split the root spans at the bucket boundary that best separates a calm period from a
    worse one. None when nothing changed enough or too little came before the change."""
    n = len(times)
    if n < 20:
        return _from_alerts(times, alert_starts)
    lo, hi = min(times), max(times)
    if hi <= lo:
        return None
    b = max(8, min(buckets, n // 10))
    width = (hi - lo) / b + 1
    lat: list[list[float]] = [[] for _ in range(b)]
    err = [0] * b
    for t, d, f in zip(times, durations, failed, strict=True):
        # Clamped: over a span of years the "+ 1" in width vanishes in float precision.
        k = min(b - 1, int((t - lo) / width))
        lat[k].append(math.log1p(max(d, 0) / 1e6))
        if f:
            err[k] += 1
    counts = [len(x) for x in lat]
    sums = [sum(x) for x in lat]
    total_n = sum(counts)
    best: tuple[float, int] = (0.0, -1)
    pre_n = pre_sum = pre_err = 0.0
    min_seg = max(2, b // 10)
    all_sum, all_err = sum(sums), sum(err)
    # Spread of log latency, so the score is in "standard deviations".
    mean_all = all_sum / max(1, total_n)
    var = sum((v - mean_all) ** 2 for x in lat for v in x) / max(1, total_n)
    sd = math.sqrt(var) or 1e-3
    for k in range(1, b):
        pre_n += counts[k - 1]
        pre_sum += sums[k - 1]
        pre_err += err[k - 1]
        post_n = total_n - pre_n
        if k < min_seg or b - k < min_seg or pre_n < 5 or post_n < 5:
            continue
        d_lat = (all_sum - pre_sum) / post_n - pre_sum / pre_n
        p1, p2 = pre_err / pre_n, (all_err - pre_err) / post_n
        pooled = (all_err / total_n) * (1 - all_err / total_n) or 1e-4
        z_err = (p2 - p1) / math.sqrt(pooled * (1 / pre_n + 1 / post_n))
        z_lat = d_lat / (sd * math.sqrt(1 / pre_n + 1 / post_n))
        score = max(z_lat if d_lat > math.log(1.15) else 0.0, z_err if p2 - p1 > 0.02 else 0.0)
        if score > best[0]:
            best = (score, k)
    score, k = best
    if k < 0 or score < 3.5:
        # A weaker change still counts when an alert fired after it: alerts lag the onset.
        hinted = [a for a in alert_starts if lo < a < hi]
        if not (hinted and k >= 0 and score >= 2.5 and lo + k * width <= min(hinted)):
            return _from_alerts(times, alert_starts)
    start = int(lo + k * width)
    # Recovery: the last bucket still worse than the calm period, if later ones are calm.
    base_lat = sum(sums[:k]) / max(1, sum(counts[:k]))
    base_err = sum(err[:k]) / max(1, sum(counts[:k]))
    bad = [
        j
        for j in range(k, b)
        if counts[j]
        and (
            sums[j] / counts[j] - base_lat > math.log(1.15) or err[j] / counts[j] - base_err > 0.05
        )
    ]
    end: int | None = None
    if bad and bad[-1] < b - 2:
        end = int(lo + (bad[-1] + 1) * width)
    peak_k = max(
        range(k, b),
        key=lambda j: (
            (sums[j] / counts[j] if counts[j] else 0.0) + (err[j] / counts[j] if counts[j] else 0.0)
        ),
    )
    return ChangePoint(start, end, int(lo + (peak_k + 0.5) * width), score)


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
    return ChangePoint(first, None, None, 0.0)
