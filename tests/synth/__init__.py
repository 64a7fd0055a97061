"""Synthetic incidents for tests, benchmarks and the bundled sample: `generate(scenario, seed=...)`
returns spans, logs, alerts, a fault-free baseline and the ground truth."""

from synth.scenarios import SCENARIOS, Scenario, Truth, generate

__all__ = ["SCENARIOS", "Scenario", "Truth", "generate"]
