"""The receiver's counters and the latency histogram, written in the Prometheus text format
(version 0.0.4) for `/metrics`. Counters live in the process (they restart at zero, as
Prometheus expects); the queue depth is read from the queue itself at scrape time.
"""

from __future__ import annotations

import threading
from collections import defaultdict

PREFIX = "incident_serve"
# Seconds from a payload's arrival to its post: webhook hops are sub-second, retries minutes.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
_HELP = {
    "received_total": "Payloads accepted and queued, by alert source.",
    "rejected_total": "Requests refused before queueing, by reason.",
    "processed_total": "Queued payloads whose processing finished (posted or nothing to post).",
    "failed_total": "Processing attempts that failed and were retried or dead-lettered.",
    "dead_lettered_total": "Payloads moved to the dead-letter table.",
    "posted_total": "Triage posts that reached a destination, by destination.",
    "deduplicated_total": "Group posts skipped because the same status was already posted.",
}


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs
    )
    return "{" + inner + "}"


class Metrics:
    """Thread-safe counters plus one histogram (`post_latency_seconds`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self._buckets = [0] * len(BUCKETS)
        self._sum = 0.0
        self._n = 0

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counts[name]
            series[key] = series.get(key, 0.0) + value

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            series = self._counts.get(name, {})
            if labels:
                return series.get(tuple(sorted(labels.items())), 0.0)
            return sum(series.values())

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._sum += seconds
            self._n += 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1

    def render(self, depth: dict[str, int]) -> str:
        """Everything in the text exposition format; `depth` is the queue's items per state."""
        lines: list[str] = []
        with self._lock:
            for name, help_text in _HELP.items():
                full = f"{PREFIX}_{name}"
                lines += [f"# HELP {full} {help_text}", f"# TYPE {full} counter"]
                series = self._counts.get(name) or {(): 0.0}
                for key, value in sorted(series.items()):
                    lines.append(f"{full}{_labels(key)} {value:g}")
            hist = f"{PREFIX}_post_latency_seconds"
            lines += [
                f"# HELP {hist} Seconds from a payload's arrival to its triage being posted.",
                f"# TYPE {hist} histogram",
            ]
            for bound, count in zip(BUCKETS, self._buckets, strict=True):
                lines.append(f'{hist}_bucket{{le="{bound:g}"}} {count}')
            lines += [
                f'{hist}_bucket{{le="+Inf"}} {self._n}',
                f"{hist}_sum {self._sum:.6f}",
                f"{hist}_count {self._n}",
            ]
        gauge = f"{PREFIX}_queue_depth"
        lines += [f"# HELP {gauge} Queue items by state.", f"# TYPE {gauge} gauge"]
        for state, n in sorted(depth.items()):
            lines.append(f'{gauge}{{state="{state}"}} {n}')
        return "\n".join(lines) + "\n"
