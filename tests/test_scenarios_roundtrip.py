"""Scenarios written in real export formats and read back through `incident.ingest.load` give
the same diagnosis as the structs they came from."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from synth import generate
from synth import writers as w

from incident.analysis import diagnose
from incident.ingest import load
from incident.model import Span

Writer = Callable[[Sequence[Span], Path], None]
FORMATS: list[tuple[str, Writer, str]] = [
    ("otlp.json", w.write_otlp_json, "otlp-json"),
    ("otlp.jsonl", w.write_otlp_jsonl, "otlp-jsonl"),
    ("jaeger.json", w.write_jaeger, "jaeger"),
    ("zipkin.json", w.write_zipkin, "zipkin"),
]


@pytest.mark.parametrize(("name", "writer", "fmt"), FORMATS, ids=[f[2] for f in FORMATS])
@pytest.mark.parametrize("scenario", ["timeout-cascade", "uninstrumented-dep", "client-4xx"])
def test_roundtrip_keeps_the_top_cause(
    tmp_path: Path, name: str, writer: Writer, fmt: str, scenario: str
) -> None:
    """Spans, logs and alerts survive the writers and readers; the top cause is unchanged."""
    sc = generate(scenario, seed=6, traces=200)
    writer(sc.spans, tmp_path / name)
    writer(sc.baseline, tmp_path / f"base-{name}")
    w.write_logs(sc.logs, tmp_path / "logs.jsonl")
    w.write_alertmanager(sc.alerts, tmp_path / "alerts.json")
    bundle = load(
        [str(tmp_path / name)], [str(tmp_path / "logs.jsonl")], [str(tmp_path / "alerts.json")]
    )
    assert bundle.inputs[0].format == fmt
    assert len(bundle.spans) == len(sc.spans)
    assert len(bundle.logs) == len(sc.logs) and len(bundle.alerts) == len(sc.alerts)
    direct = diagnose(sc.bundle(), sc.baseline_bundle()).root_causes[0]
    read = diagnose(bundle, load([str(tmp_path / f"base-{name}")])).root_causes[0]
    assert (read.service, read.kind, read.origin) == (direct.service, direct.kind, direct.origin)
    assert read.service == sc.truth.service


def test_deploy_version_survives_otlp_and_jaeger(tmp_path: Path) -> None:
    """service.version travels in the resource (OTLP) or process tags (Jaeger)."""
    sc = generate("bad-deploy", seed=2, traces=200)
    for name, writer in (("a.json", w.write_otlp_json), ("b.json", w.write_jaeger)):
        writer(sc.spans, tmp_path / name)
        writer(sc.baseline, tmp_path / f"base-{name}")
        rep = diagnose(load([str(tmp_path / name)]), load([str(tmp_path / f"base-{name}")]))
        assert rep.root_causes[0].version == sc.truth.version


def test_ecs_logs_and_alertmanager_shape(tmp_path: Path) -> None:
    """ECS-style logs keep trace ids; the webhook is Alertmanager version 4."""
    sc = generate("pool-wait", seed=1, traces=50)
    w.write_logs(sc.logs, tmp_path / "ecs.jsonl", style="ecs")
    back = load([], [str(tmp_path / "ecs.jsonl")])
    assert len(back.logs) == len(sc.logs)
    assert {r.trace_id for r in back.logs if r.trace_id} <= {s.trace_id for s in sc.spans}
    payload = w.alertmanager_payload(sc.alerts)
    assert payload["version"] == "4" and payload["alerts"][0]["labels"]["alertname"]
    json.dumps(payload)


def test_write_scenario_makes_a_runnable_folder(tmp_path: Path) -> None:
    """The folder holds traces, a baseline, logs and alerts that the readers accept."""
    sc = generate("slow-db", seed=4, traces=80)
    paths = w.write_scenario(sc.spans, sc.baseline, sc.logs, sc.alerts, tmp_path / "case")
    assert [p.name for p in paths] == [
        "traces.otlp.json",
        "traces.otlp.json",
        "logs.jsonl",
        "alertmanager.json",
    ]
    bundle = load([str(paths[0])], [str(paths[2])], [str(paths[3])])
    assert len(bundle.spans) == len(sc.spans) and bundle.alerts
