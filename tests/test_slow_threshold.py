"""`--slow-ms`: where no baseline tells an entry point's usual time, a request slower than the
threshold is slow; the verdict says which threshold judged it; the help's default is the
analysis' own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from synth import generate
from synth import writers as w
from test_cli import run

from incident import pipeline
from incident.analysis.config import AnalysisConfig


def _calm(tmp_path: Path) -> Path:
    """A calm export (the scenario's baseline part alone): no change point, no baseline."""
    path = tmp_path / "calm.json"
    w.write_otlp_json(list(generate("slow-db", seed=3, traces=200).baseline_bundle().spans), path)
    return path


def test_the_threshold_decides_which_requests_are_slow(tmp_path: Path) -> None:
    path = _calm(tmp_path)
    calm = json.loads(run("diagnose", str(path), "--no-ai", "--format", "json").stdout)
    assert calm["window"]["baseline"] == "none"
    assert calm["verdict"]["status"] == "no-incident"
    assert calm["impact"]["traces_slow"] < calm["impact"]["traces"] / 2
    proc = run("diagnose", str(path), "--no-ai", "--format", "json", "--slow-ms", "1")
    strict = json.loads(proc.stdout)
    assert strict["impact"]["traces_slow"] == strict["impact"]["traces"]
    # Every request over the threshold throughout, nothing to compare with: not "at rest".
    assert strict["verdict"]["status"] == "inconclusive"
    assert "took longer than 1 ms" in strict["verdict"]["reason"]


def test_the_pipeline_carries_the_threshold_to_triage_evidence() -> None:
    sc = generate("slow-db", seed=3, traces=200)
    calm = sc.baseline_bundle()
    strict = AnalysisConfig(slow_threshold_ms=1.0)
    assert pipeline.diagnose(calm, config=strict).impact.traces_slow == len(
        {s.trace_id for s in calm.spans}
    )
    report = pipeline.evidence_report(calm, list(sc.alerts), strict)
    assert report is not None and "took longer than 1 ms" in report.verdict.reason


def test_a_threshold_below_one_ms_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("diagnose", str(_calm(tmp_path)), "--no-ai", "--slow-ms", "0")
    assert proc.returncode == 2


def test_the_help_states_the_analysis_default() -> None:
    text = " ".join(run("diagnose", "--help").stdout.decode().split())
    match = re.search(r"default (\d+); an entry point", text)
    assert match and float(match.group(1)) == AnalysisConfig().slow_threshold_ms
