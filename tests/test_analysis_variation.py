"""Shifts are weighed against normal variation: the drift between a window's time chunks
widens the error of a noisy quantity, a step inside the incident window is told from a shift
that was there from its start, and the trailing part of a window shows a change that began
inside it."""

from __future__ import annotations

import random

from incident.analysis.variation import (
    CHUNKS,
    Moments,
    chunk_of,
    drift,
    rate_drift,
    rate_step_z,
    rate_z,
    step_z,
    weight,
    welch_z,
)


def _moments(values: list[float]) -> tuple[Moments, list[int]]:
    """Moments of values in time order, chunked by rank as a window does."""
    m = Moments()
    counts = [0] * CHUNKS
    for v, ch in zip(values, chunk_of(list(range(len(values)))), strict=True):
        m.add(v, ch)
        counts[ch] += 1
    return m, counts


def test_chunks_hold_equal_counts_in_time_order() -> None:
    starts = [50, 10, 40, 20, 30, 70, 60, 80] * 10
    chunks = chunk_of(starts)
    order = sorted(range(len(starts)), key=starts.__getitem__)
    assert [chunks[i] for i in order] == sorted(chunks)
    assert all(chunks.count(k) == len(starts) // CHUNKS for k in range(CHUNKS))


def test_drift_between_chunks_widens_the_error() -> None:
    """The same per-trace spread, but the mean wandering from chunk to chunk (a moving load
    mix): the same shift stands out less."""
    rng = random.Random(1)
    steady = [10 + rng.gauss(0, 1) for _ in range(400)]
    wander = [10 + (3 if (i // 50) % 2 else -3) + rng.gauss(0, 1) for i in range(400)]
    shifted = [12 + rng.gauss(0, 1) for _ in range(400)]
    inc, _ = _moments(shifted)
    base_s, chunks_s = _moments(steady)
    base_w, chunks_w = _moments(wander)
    assert drift(base_s, 400, chunks_s) < 2.5  # chance alone: about 1
    assert drift(base_w, 400, chunks_w) > 3
    z_steady = welch_z(inc, 400, base_s, 400, chunks_s)
    z_wander = welch_z(inc, 400, base_w, 400, chunks_w)
    assert z_steady > 10
    assert z_wander < z_steady / 1.5


def test_a_change_late_in_the_window_shows_in_its_tail() -> None:
    """A fault that began three quarters into the window: the whole window's mean barely
    moved, its trailing chunks did."""
    rng = random.Random(2)
    base, chunks = _moments([5 + rng.gauss(0, 2) for _ in range(400)])
    values = [5 + rng.gauss(0, 2) + (8 if i >= 300 else 0) for i in range(400)]
    inc, inc_chunks = _moments(values)
    whole = welch_z(inc, 400, base, 400, chunks)
    tail = welch_z(inc, 400, base, 400, chunks, inc_chunks=inc_chunks)
    assert tail > 2 * whole
    assert step_z(inc, 400, inc_chunks) > 10


def test_a_shift_present_from_the_start_has_no_step() -> None:
    rng = random.Random(3)
    inc, inc_chunks = _moments([20 + rng.gauss(0, 2) for _ in range(400)])
    assert step_z(inc, 400, inc_chunks) < 3


def test_rates_compare_by_counts_and_keep_their_sign() -> None:
    assert rate_z(0, 40, 40, 40) < -5  # stopped entirely
    assert rate_z(40, 40, 0, 40) > 5  # started
    assert abs(rate_z(20, 40, 21, 40)) < 1
    # A handful either way is weak evidence.
    assert abs(rate_z(0, 3, 3, 3)) < abs(rate_z(0, 30, 30, 30))


def test_a_rate_that_moves_between_chunks_is_over_dispersed() -> None:
    steady = rate_drift([5] * CHUNKS, [10] * CHUNKS)
    wandering = rate_drift([0, 10] * (CHUNKS // 2), [10] * CHUNKS)
    assert steady == 1.0
    assert wandering > 5


def test_a_rate_step_is_found_in_its_direction_only() -> None:
    k = [10, 10, 10, 10, 10, 0, 0, 0]
    n = [10] * CHUNKS
    assert rate_step_z(k, n, -1.0) > 5
    assert rate_step_z(k, n, +1.0) == 0.0


def test_weight_grows_from_nothing_to_full() -> None:
    zs = [0.0, 1.5, 2.0, 3.0, 4.0, 10.0]
    ws = [weight(z) for z in zs]
    assert ws[0] == ws[1] == 0.0
    assert ws == sorted(ws)
    assert ws[-1] == ws[-2] == 1.0
