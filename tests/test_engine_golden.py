"""The engine's whole JSON report, frozen: every synthetic fault kind (three seeds: two with
the calm part of the export as baseline, one against a fault-free baseline export), the
bundled sample, and the real exports copied into tests/fixtures.

Any change in what the engine says shows here as a diff of tests/golden/engine/*.json, to be
reviewed and explained; `UPDATE_GOLDEN=1 pytest tests/test_engine_golden.py` rewrites them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from realfiles import FIXTURES, ROOT
from synth import SCENARIOS, generate

from incident.analysis import diagnose
from incident.ingest import load
from incident.model import Bundle
from incident.render.json import render_json
from incident.report import Report

GOLDEN = Path(__file__).resolve().parent / "golden" / "engine"


def _synth(kind: str, seed: int) -> Callable[[], Report]:
    def build() -> Report:
        sc = generate(kind, seed=seed, traces=300)
        return diagnose(sc.bundle(), sc.baseline_bundle() if seed == 2 else None)

    return build


def _files(*paths: Path, baseline: Path | None = None) -> Callable[[], Report]:
    def build() -> Report:
        cwd = Path.cwd()
        os.chdir(ROOT)  # input paths in the report are relative to the checkout
        try:
            rel = [str(p.relative_to(ROOT)) for p in paths]
            base: Bundle | None = load([str(baseline.relative_to(ROOT))]) if baseline else None
            return diagnose(load(rel), base)
        finally:
            os.chdir(cwd)

    return build


NEZHA = FIXTURES / "nezha"
CASES: dict[str, Callable[[], Report]] = {
    f"synth-{kind}-{seed}": _synth(kind, seed) for kind in SCENARIOS for seed in (0, 1, 2)
}
CASES.update(
    {
        "sample-checkout-db-latency": _files(ROOT / "samples" / "checkout-db-latency"),
        **{
            f"real-{p.stem}": _files(p)
            for p in sorted((FIXTURES / "traces").glob("*.json"))
            if p.name != "README.md"
        },
        "real-nezha-online-boutique": _files(
            NEZHA / "rca_data/2022-08-22/trace/05_28_trace.csv.gz",
            baseline=NEZHA / "construct_data/2022-08-23/trace/17_00_trace.csv.gz",
        ),
        "real-nezha-train-ticket": _files(
            NEZHA / "rca_data/2023-01-30/trace/13_23_trace.csv.gz",
            baseline=NEZHA / "construct_data/2023-01-30/trace/11_39_trace.csv.gz",
        ),
        "real-nezha-train-ticket-alone": _files(
            NEZHA / "rca_data/2023-01-30/trace/13_23_trace.csv.gz"
        ),
    }
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_report_matches_golden(name: str) -> None:
    rendered = render_json(CASES[name]())
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8", newline="\n")
    assert golden.exists(), f"run UPDATE_GOLDEN=1 pytest {__file__}"
    assert rendered == golden.read_text(encoding="utf-8"), f"{name}: see git diff {golden}"


def test_every_golden_file_has_a_case() -> None:
    """A golden file whose case was removed would otherwise go stale unnoticed."""
    assert {p.stem for p in GOLDEN.glob("*.json")} <= set(CASES)
