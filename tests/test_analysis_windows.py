"""Finding the incident start inside one export."""

from __future__ import annotations

import random

import pytest

from incident.analysis.windows import find_change, find_operation_change, percentile

S = 1_000_000_000


def test_latency_step_is_found_near_where_it_happens() -> None:
    """A jump in entry-point latency two thirds of the way through is located."""
    times = [k * S for k in range(600)]
    durs = [(50 if k < 400 else 400) * 1_000_000 + (k % 7) * 1_000_000 for k in range(600)]
    cp = find_change(times, durs, [False] * 600, [])
    assert cp is not None and abs(cp.start_ns - 400 * S) <= 20 * S


def test_error_step_is_found() -> None:
    """A jump in the failing share is located even when latency stays flat."""
    times = [k * S for k in range(600)]
    failed = [k >= 300 and k % 3 == 0 for k in range(600)]
    cp = find_change(times, [10_000_000] * 600, failed, [])
    assert cp is not None and abs(cp.start_ns - 300 * S) <= 20 * S


def test_flat_series_has_no_change() -> None:
    """Without a change and without alerts there is no in-file baseline."""
    times = [k * S for k in range(600)]
    durs = [(50 + (k * 37) % 11) * 1_000_000 for k in range(600)]
    assert find_change(times, durs, [False] * 600, []) is None


def test_alert_hint_splits_a_flat_series_before_the_alert() -> None:
    """With no visible change, an alert inside the export sets the start a little before
    it fired (alert rules wait before firing)."""
    times = [k * S for k in range(1200)]
    cp = find_change(times, [10_000_000] * 1200, [False] * 1200, [900 * S])
    assert cp is not None and 500 * S <= cp.start_ns < 900 * S


def test_percentile_nearest_rank() -> None:
    """Nearest-rank percentiles on small samples."""
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.99) == 5.0
    assert percentile([], 0.5) == 0.0


def test_change_search_survives_timestamps_years_apart() -> None:
    """Exports from different years in one run (a folder of old and new files) put the
    newest span in the last bucket instead of past the end."""
    year = 365 * 24 * 3600 * 10**9
    times = [1_660_000_000 * 10**9 + i * 10**9 for i in range(30)] + [
        1_660_000_000 * 10**9 + 4 * year + i for i in range(30)
    ]
    durations = [5_000_000] * 30 + [900_000_000] * 30
    cp = find_change(times, durations, [False] * 60, [])
    assert cp is None or min(times) <= cp.start_ns <= max(times)


def _operations(
    shift_at: float | None, seed: int, factor: float = 4.0
) -> tuple[list[tuple[str, str]], list[int], list[int]]:
    """Ten minutes of spans of five operations with jittered durations; from `shift_at`
    (a share of the window) on, the rarest one runs `factor` times as long."""
    rng = random.Random(seed)
    keys: list[tuple[str, str]] = []
    starts: list[int] = []
    ends: list[int] = []
    ops = [
        ("web", "GET /"),
        ("db", "SELECT"),
        ("cache", "GET"),
        ("auth", "check"),
        ("mail", "send"),
    ]
    span = 600 * 10**9
    for k in range(6000):
        op = ops[k % 5] if k % 10 else ops[4]
        at = rng.randrange(span)
        ms = rng.lognormvariate(2.0, 0.3)
        if op == ops[4] and shift_at is not None and at >= shift_at * span:
            ms *= factor
        keys.append(op)
        starts.append(at)
        ends.append(at + int(ms * 1e6))
    return keys, starts, ends


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_operation_slowing_at_one_moment_starts_the_incident(seed: int) -> None:
    change = find_operation_change(*_operations(0.5, seed))
    assert change is not None
    assert abs(change.start_ns - 300 * 10**9) <= 40 * 10**9, change


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_operations_that_only_jitter_start_nothing(seed: int) -> None:
    assert find_operation_change(*_operations(None, seed)) is None
    # A shift smaller than OP_FACTOR is not a change of one operation.
    assert find_operation_change(*_operations(0.5, seed, factor=1.2)) is None
