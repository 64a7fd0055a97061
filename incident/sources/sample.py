"""Which traces to fetch whole when a search finds more than --limit: the failed ones first,
then the slowest, then a random share (fixed seed) so ordinary traces are there to compare.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from incident import log

# The part of the limit kept for the random share of ordinary traces.
RANDOM_SHARE = 0.25


@dataclass(frozen=True)
class Candidate:
    """One trace a search found: its id and what the search says about it."""

    trace_id: str
    duration_ns: int = 0
    failed: bool = False


def choose(found: Sequence[Candidate], limit: int, seed: int = 0) -> list[Candidate]:
    """At most `limit` of `found`: failed (slowest first), slowest, then a seeded sample.

    The same input, limit and seed always give the same choice, in a stable order.
    """
    unique = list({c.trace_id: c for c in found}.values())
    if len(unique) <= limit:
        return unique
    share = int(limit * RANDOM_SHARE)
    head = limit - share
    by_weight = sorted(unique, key=lambda c: (not c.failed, -c.duration_ns, c.trace_id))
    picked = by_weight[:head]
    taken = {c.trace_id for c in picked}
    rest = sorted((c for c in unique if c.trace_id not in taken), key=lambda c: c.trace_id)
    picked.extend(random.Random(seed).sample(rest, min(limit - len(picked), len(rest))))
    return picked


def report(source: str, chosen: Sequence[Candidate], found: int) -> None:
    """Say on stderr how many traces were fetched of how many were found, and how chosen."""
    failed = sum(c.failed for c in chosen)
    how = (
        f" (sampled: {failed} failed, then the slowest, then a random share)"
        if len(chosen) < found
        else ""
    )
    log.info(
        "source.sampled",
        f"{source}: fetching {len(chosen)} of {found} traces found{how}",
        source=source,
        fetched=len(chosen),
        found=found,
    )
