"""The change point of one export counts requests that got shorter as a change too: a fault
that cuts requests short (an exception, a skipped call) changes them as surely as one that
slows them down; spans per request, when given, show requests that stopped making calls."""

from __future__ import annotations

import random

from incident.analysis.windows import find_change

MS = 1_000_000


def _series(n: int, cut: int, before_ms: float, after_ms: float, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [
        int((before_ms if i < cut else after_ms) * rng.uniform(0.8, 1.2) * MS) for i in range(n)
    ]


def test_requests_that_end_early_mark_the_change() -> None:
    n = 400
    times = [i * 100 * MS for i in range(n)]
    durations = _series(n, 250, 50.0, 10.0)
    cp = find_change(times, durations, [False] * n, [])
    assert cp is not None
    assert abs(cp.start_ns - times[250]) <= 2 * (times[-1] - times[0]) // 40


def test_a_steady_export_has_no_change() -> None:
    n = 400
    times = [i * 100 * MS for i in range(n)]
    assert find_change(times, _series(n, n, 50.0, 50.0), [False] * n, []) is None
