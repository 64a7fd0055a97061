"""Knobs of the diagnosis: what counts as business-critical, how much work to sample, how
much evidence to keep."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CRITICAL = (
    "checkout",
    "payment",
    "pay",
    "order",
    "login",
    "auth",
    "signin",
    "cart",
    "purchase",
)


@dataclass(frozen=True)
class AnalysisConfig:
    """Frozen so one config can be shared by concurrent runs."""

    # Substrings (case-insensitive) of entry points or operations that are business-critical.
    business_critical: tuple[str, ...] = DEFAULT_CRITICAL
    # A trace is "slow" above this percentile of the baseline entry-point latency...
    slow_percentile: float = 0.99
    # ...or, when there is no baseline, above this fixed threshold.
    slow_threshold_ms: float = 1000.0
    # Critical-path work is sampled: at most this many traces per window.
    max_path_traces: int = 2000
    max_evidence: int = 40
    max_root_causes: int = 5
    max_log_templates: int = 30
    max_latency_rows: int = 15
    max_failure_rows: int = 20
    # Time buckets used to find where the incident starts inside one export.
    change_buckets: int = 40
    # The onset searches that go past the entry points (one operation, service or edge)
    # read the spans of an even sample of traces, about this many spans.
    max_onset_spans: int = 100_000
    # Errors whose rate grew by less than this factor over the baseline are background noise.
    error_rate_growth: float = 1.5

    @classmethod
    def slow_at(cls, slow_ms: float | None) -> AnalysisConfig:
        """The defaults, with `slow_ms` (when given: `--slow-ms`) as the fixed threshold."""
        return cls() if slow_ms is None else cls(slow_threshold_ms=slow_ms)

    def is_critical(self, text: str) -> bool:
        lowered = text.lower()
        return any(p in lowered for p in self.business_critical)
