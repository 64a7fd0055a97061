"""bench/accuracy.py's kind measure: a right first guess counts as naming its fault's kind
only with the report kind that fault type calls for; wrong guesses are not counted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from accuracy import _kinds_named


def _row(kind: str, rank: int | None, named: str) -> dict[str, Any]:
    return {"kind": kind, "rank": rank, "top": [{"service": "s", "score": 0.9, "kind": named}]}


def test_kinds_named_counts_right_guesses_by_fault_type() -> None:
    rows = [
        _row("network_delay", 1, "network"),
        _row("network_delay", 1, "saturation"),  # right service, wrong kind
        _row("cpu_contention", 1, "saturation"),
        _row("cpu_contention", 2, "saturation"),  # a wrong first guess: not counted
        _row("exception", 1, "error"),
        _row("return", 1, "latency"),
    ]
    assert _kinds_named(rows) == (
        "3/5 (network_delay 1/2, cpu_contention 1/1, exception 1/1, return 0/1)"
    )


def test_kinds_named_is_empty_without_a_right_guess() -> None:
    assert _kinds_named([_row("return", None, "behaviour")]) == ""
    assert _kinds_named([]) == ""
