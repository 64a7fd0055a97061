"""How far a shift stands out against normal variation.

A window's traces are split into a few consecutive time chunks; every per-trace quantity the
ranking compares (critical-path ms per hop, the self time of an operation, how often an
operation makes a call) is summed per chunk besides its total and sum of squares. The spread
of the chunk means beyond what the per-trace spread predicts is drift (a load mix that moves
from minute to minute, a GC cycle); it widens the standard error of a shift, so a naturally
noisy quantity needs a larger shift to count than a steady one. Everything here is a few
numbers per key: the cost stays linear in spans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# Consecutive time chunks per window.
CHUNKS = 8
# Drift never counts for more than this factor on the variance (three times the error).
MAX_DRIFT = 9.0
# The fewest items a trailing run of chunks needs to be compared on its own.
MIN_TAIL = 8
# A shift below this many standard errors has no weight; at FULL_Z and above, full weight.
MIN_Z = 1.5
FULL_Z = 4.0


def chunk_of(starts: Sequence[int], k: int = CHUNKS) -> list[int]:
    """The time chunk (0..k-1) of each item, by rank of its start: equal-count chunks, so a
    quiet stretch of the window does not leave a chunk empty."""
    n = len(starts)
    order = sorted(range(n), key=starts.__getitem__)
    out = [0] * n
    for rank, i in enumerate(order):
        out[i] = rank * k // max(1, n)
    return out


@dataclass
class Moments:
    """Per-trace values of one quantity over a window: n traces, sum, sum of squares, and the
    sum and count per time chunk."""

    total: float = 0.0
    sq: float = 0.0
    chunks: list[float] = field(default_factory=lambda: [0.0] * CHUNKS)

    def add(self, value: float, chunk: int) -> None:
        self.total += value
        self.sq += value * value
        self.chunks[chunk] += value


def drift(m: Moments | None, n: int, chunk_n: Sequence[int]) -> float:
    """Variance inflation from drift between the chunks (1 when the chunks agree as well as
    independent traces would), from the chunk means of per-trace values."""
    if m is None or n < 2 * CHUNKS:
        return 1.0
    mean = m.total / n
    var = max(m.sq / n - mean * mean, 0.0)
    if var <= 0.0:
        return 1.0
    between = 0.0
    used = 0
    for s, c in zip(m.chunks, chunk_n, strict=False):
        if c:
            between += c * (s / c - mean) ** 2
            used += 1
    if used < 2:
        return 1.0
    return min(MAX_DRIFT, max(1.0, between / (used - 1) / var))


def mean_var(m: Moments | None, n: int) -> tuple[float, float]:
    if m is None or n <= 0:
        return 0.0, 0.0
    mean = m.total / n
    return mean, max(m.sq / n - mean * mean, 0.0)


def welch_z(
    inc: Moments | None,
    n_inc: int,
    base: Moments | None,
    n_base: int,
    base_chunks: Sequence[int],
    floor: float = 0.0,
    inc_chunks: Sequence[int] | None = None,
) -> float:
    """Standard errors by which the incident mean exceeds the baseline mean (negative when
    it fell), the baseline's drift widening the error. `floor` is the smallest error worth
    believing in the quantity's own unit (a timer's resolution, say).

    With `inc_chunks` (the incident window's count per chunk), the incident's later part
    counts too: a fault that began inside the window shows its full size only after its
    onset, so the largest z of any trailing run of chunks is taken (the whole window is
    one of them)."""
    m1, v1 = mean_var(inc, n_inc)
    m0, v0 = mean_var(base, n_base)
    if n_inc <= 0 or n_base <= 0:
        return 0.0
    phi = drift(base, n_base, base_chunks)

    def z_of(mean: float, n: int) -> float:
        se = max(math.sqrt(phi * (v0 / n_base + v1 / n)), floor)
        if se <= 0.0:
            return math.inf if mean > m0 else (-math.inf if mean < m0 else 0.0)
        return (mean - m0) / se

    best = z_of(m1, n_inc)
    if inc is None or inc_chunks is None:
        return best
    tail_s = 0.0
    tail_n = 0
    for s, c in zip(reversed(inc.chunks), reversed(inc_chunks), strict=False):
        tail_s += s
        tail_n += c
        if MIN_TAIL <= tail_n < n_inc:
            best = max(best, z_of(tail_s / tail_n, tail_n))
    return best


def rate_z(
    k_inc: int,
    n_inc: int,
    k_base: int,
    n_base: int,
    phi: float = 1.0,
) -> float:
    """Two-proportion z of a rate (k events in n trials) against the baseline's, the variance
    widened by `phi` for drift. The pooled rate is kept off 0 and 1 so that a call made in
    every invocation before and in none now scores by the counts, not infinitely."""
    if n_inc <= 0 or n_base <= 0:
        return 0.0
    p1, p0 = k_inc / n_inc, k_base / n_base
    pooled = (k_inc + k_base + 0.5) / (n_inc + n_base + 1.0)
    pooled = min(max(pooled, 0.5 / (n_inc + n_base)), 1.0 - 0.5 / (n_inc + n_base))
    se = math.sqrt(phi * pooled * (1.0 - pooled) * (1.0 / n_inc + 1.0 / n_base))
    return (p1 - p0) / se if se > 0 else 0.0


def rate_drift(chunk_k: Sequence[int], chunk_n: Sequence[int]) -> float:
    """Over-dispersion of a rate across the baseline's chunks (chi-square over its degrees
    of freedom, at least 1): a call whose share moves with the load mix counts less."""
    k = sum(chunk_k)
    n = sum(chunk_n)
    if n < 2 * CHUNKS or k <= 0 or k >= n:
        return 1.0
    p = k / n
    chi = 0.0
    used = 0
    for a, b in zip(chunk_k, chunk_n, strict=False):
        if b:
            chi += (a - b * p) ** 2 / (b * p * (1.0 - p))
            used += 1
    if used < 2:
        return 1.0
    return min(MAX_DRIFT, max(1.0, chi / (used - 1)))


def step_z(m: Moments | None, n: int, chunk_n: Sequence[int]) -> float:
    """How clearly a quantity stepped up inside one window: the largest z, over the chunk
    boundaries, of the later chunks' mean against the earlier ones'. A shift that was
    already there at the window's start scores about 0."""
    if m is None or n < 2 * CHUNKS:
        return 0.0
    _, var = mean_var(m, n)
    if var <= 0.0:
        return 0.0
    best = 0.0
    pre_s = 0.0
    pre_n = 0
    total, count = m.total, n
    for s, c in zip(m.chunks[:-1], chunk_n[:-1], strict=False):
        pre_s += s
        pre_n += c
        post_n = count - pre_n
        if pre_n < 5 or post_n < 5:
            continue
        d = (total - pre_s) / post_n - pre_s / pre_n
        z = d / math.sqrt(var * (1.0 / pre_n + 1.0 / post_n))
        if z > best:
            best = z
    return best


def rate_step_z(chunk_k: Sequence[int], chunk_n: Sequence[int], sign: float) -> float:
    """`step_z` for a rate (k events in n trials per chunk): the largest z of a move in the
    direction of `sign` (+1 a rise, -1 a fall) between the earlier and the later chunks."""
    k_all, n_all = sum(chunk_k), sum(chunk_n)
    if n_all < 2 * CHUNKS:
        return 0.0
    best = 0.0
    pre_k = pre_n = 0
    for a, b in zip(chunk_k[:-1], chunk_n[:-1], strict=False):
        pre_k += a
        pre_n += b
        if pre_n < 3 or n_all - pre_n < 3:
            continue
        z = sign * rate_z(k_all - pre_k, n_all - pre_n, pre_k, pre_n)
        if z > best:
            best = z
    return best


def weight(z: float) -> float:
    """The weight of a shift of `z` standard errors: none below MIN_Z, full from FULL_Z."""
    if z <= MIN_Z:
        return 0.0
    return min(1.0, (z - MIN_Z) / (FULL_Z - MIN_Z))
