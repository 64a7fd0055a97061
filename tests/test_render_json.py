"""The JSON report: the incident.report/1 contract, byte-stable and round-trippable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from incident.render.json import render_json
from incident.report import Report

GOLDEN = Path(__file__).resolve().parent / "golden"
REPORTS = sorted(GOLDEN.glob("*.report.json"))


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name.split(".")[0])
def test_round_trip_is_byte_stable(path: Path) -> None:
    """Rendering, reading back and rendering again gives the same bytes."""
    report = Report.model_validate_json(path.read_text(encoding="utf-8"))
    first = render_json(report)
    assert render_json(Report.model_validate_json(first)) == first
    assert first.endswith("}\n")


def test_contract_top_level_fields() -> None:
    """The document names its schema and carries every DESIGN.md top-level field."""
    doc = json.loads(render_json(Report()))
    assert doc["schema"] == "incident.report/1"
    for key in (
        "window",
        "root_causes",
        "impact",
        "latency_inflation",
        "failures",
        "blast_radius",
        "timeline",
        "evidence",
        "data_quality",
        "redactions",
        "ai",
    ):
        assert key in doc, key


def test_map_order_does_not_change_bytes() -> None:
    """Redaction counters inserted in a different order still give identical output."""
    a = Report(redactions={"secret": 1, "email": 2})
    b = Report(redactions={"email": 2, "secret": 1})
    assert render_json(a) == render_json(b)
    assert list(json.loads(render_json(a))["redactions"]) == ["email", "secret"]
