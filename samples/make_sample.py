"""Regenerate the bundled sample incident from the scenario generator.

    python samples/make_sample.py

Writes samples/checkout-db-latency/: OTLP JSON traces, structlog JSON Lines logs and an
Alertmanager webhook payload of a database that turned slow under a checkout service.
The files are committed; this script documents how they were made.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The scenario generator is test support (tests/synth), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from synth import generate
from synth.writers import write_alertmanager, write_logs, write_otlp_json

OUT = Path(__file__).resolve().parent / "checkout-db-latency"


def main() -> None:
    scenario = generate("slow-db", seed=7, traces=160)
    OUT.mkdir(parents=True, exist_ok=True)
    write_otlp_json(scenario.spans, OUT / "traces.otlp.json")
    write_logs(scenario.logs, OUT / "app-logs.jsonl")
    write_alertmanager(scenario.alerts, OUT / "alertmanager-webhook.json")
    print(
        f"{len(scenario.spans)} spans, {len(scenario.logs)} log lines, "
        f"{len(scenario.alerts)} alerts; injected: {scenario.truth}"
    )


if __name__ == "__main__":
    main()
