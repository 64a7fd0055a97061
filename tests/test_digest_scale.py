"""The digest stays bounded at a million spans and still names the cause."""

from __future__ import annotations

import pytest
from synth import generate

from incident.analysis import diagnose
from incident.digest import build_digest


@pytest.mark.slow
def test_million_span_digest_fits_8000_tokens_and_names_the_cause() -> None:
    """A ~1M-span incident (plus a baseline) digests within the default budget, the injected
    cause is the first candidate, and the digest says what it left out."""
    scenario = generate("slow-db", seed=11, traces=46_000, baseline_traces=4_000, logs=True)
    assert len(scenario.spans) >= 900_000
    report = diagnose(scenario.bundle(), scenario.baseline_bundle())
    digest = build_digest(report, max_tokens=8000)
    assert digest.tokens <= 8000
    assert report.root_causes[0].service == scenario.truth.service
    candidates = digest.text.split("## Root-cause candidates", 1)[1]
    first = next(line for line in candidates.splitlines() if line.startswith("- "))
    assert scenario.truth.service in first
    assert "<telemetry>" in digest.text and "</telemetry>" in digest.text
