"""Numbered evidence (E1..En) that root causes, timeline events and the model's answer cite,
and the thresholds and number wording every claim made from that evidence follows."""

from __future__ import annotations

from typing import Literal

from incident.report import Evidence
from incident.text import clip

Kind = Literal["span", "log", "alert", "stat"]

# Fewest observations behind a claim of change or concentration ("a surge", "one instance",
# "one version"); below it a summary states the count instead of an interpretation.
MIN_EVIDENCE = 5

# A claim that a hop "got slower" and explains the incident's added latency needs both: a
# share of the added time a responder would chase, and a rise of that hop itself that is not
# run-to-run jitter (89 -> 98 ms is +10%: noise, even if it is 2% of the added time).
MIN_LATENCY_SHARE = 0.05
MIN_LATENCY_GROWTH = 0.25
# ...unless the hop carries so much of the added time that a small relative rise of a big
# hop is the incident (a 1 s query growing 10% adds 100 ms to every request).
MAJOR_LATENCY_SHARE = 0.30


def ms_text(ms: float) -> str:
    """A duration for a sentence: "<0.1 ms", "0.4 ms", "4.2 ms", "43 ms", "1,250 ms"; sub-
    millisecond work is common in real traces and must not read as "0 ms"."""
    a = abs(ms)
    sign = "-" if ms < 0 else ""
    if a == 0:
        return "0 ms"
    if a < 0.1:
        return f"{sign}<0.1 ms"
    if a < 9.95:
        return f"{sign}{a:.1f} ms"
    return f"{sign}{a:,.0f} ms"


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 failure", "3 failures"."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


class EvidenceLog:
    """Hands out ids in order of first mention; the same reference gets the same id."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[Evidence] = []
        self._by_ref: dict[tuple[str, str], str] = {}

    def add(self, kind: Kind, ref: str, text: str) -> str | None:
        """The id for this reference, or None once the limit is reached."""
        key = (kind, ref if kind != "stat" else text)
        found = self._by_ref.get(key)
        if found:
            return found
        if len(self.items) >= self.limit:
            return None
        eid = f"E{len(self.items) + 1}"
        self.items.append(Evidence(id=eid, kind=kind, ref=ref, text=clip(text, 300)))
        self._by_ref[key] = eid
        return eid
