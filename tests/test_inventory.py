"""`inspect`'s inventory: the DESIGN.md JSON shape from a bundle, with counts, sorted services,
alerts, a UTC time range that ignores impossible times, and warnings; and its plain-text view."""

from __future__ import annotations

import json
from pathlib import Path

from incident.analysis.inventory import inventory, iso_utc
from incident.ingest import load
from incident.model import Alert, Bundle, DataQuality, InputInfo, LogRecord, Span
from incident.render.text import render_inventory

FIXTURES = Path(__file__).resolve().parent / "fixtures"
T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z


def _bundle() -> Bundle:
    spans = [
        Span("t1", "s1", None, "web", "GET /", start_ns=T0, end_ns=T0 + 5_000_000),
        Span("t1", "s2", "s1", "db", "SELECT", start_ns=T0 + 1, end_ns=T0 + 2),
        Span("t2", "s3", None, "api", "POST", start_ns=0, end_ns=0),  # a broken exporter's zero
    ]
    logs = [LogRecord(T0 + 9_000_000_000, "ERROR", "boom"), LogRecord(None, None, "no time")]
    alerts = [
        Alert(
            "alertmanager",
            "firing",
            "HighLatency",
            severity="critical",
            service="web",
            starts_ns=T0 - 60_000_000_000,
        )
    ]
    return Bundle(
        spans=spans,
        logs=logs,
        alerts=alerts,
        inputs=[
            InputInfo("a.json", "traces", "otlp-json", 3),
            InputInfo("b.log", "logs", "text", 2, skipped=1),
            InputInfo("c.json", "alerts", "alertmanager", 1),
        ],
        quality=DataQuality(duplicates=2, warnings=["a.json: 2 spans skipped"]),
    )


def test_inventory_has_the_design_shape_and_counts() -> None:
    """Every DESIGN.md key is present with the right counts, and the result is JSON."""
    inv = inventory(_bundle())
    assert {
        "inputs",
        "spans",
        "traces",
        "services",
        "logs",
        "alerts",
        "time_range",
        "warnings",
    } <= set(inv)
    assert inv["inputs"][1] == {
        "path": "b.log",
        "kind": "logs",
        "format": "text",
        "records": 2,
        "skipped": 1,
        "notes": [],
    }
    assert (inv["spans"], inv["traces"], inv["logs"]) == (3, 2, 2)
    assert inv["services"] == ["api", "db", "web"]
    assert inv["warnings"] == ["a.json: 2 spans skipped"]
    assert inv["data_quality"]["duplicates"] == 2
    json.dumps(inv)


def test_inventory_alerts_carry_source_status_and_start() -> None:
    """Alerts are listed with their source, status, name, severity, service and UTC start."""
    (alert,) = inventory(_bundle())["alerts"]
    assert alert == {
        "source": "alertmanager",
        "status": "firing",
        "name": "HighLatency",
        "severity": "critical",
        "service": "web",
        "starts_at": "2023-11-14T22:12:20.000000Z",
    }


def test_time_range_spans_all_signals_and_ignores_zero_times() -> None:
    """The range runs from the earliest alert to the latest log; a zero start is not 1970."""
    span = inventory(_bundle())["time_range"]
    assert span == {"start": "2023-11-14T22:12:20.000000Z", "end": "2023-11-14T22:13:29.000000Z"}


def test_empty_bundle_has_no_time_range() -> None:
    """Without any timed record the range is unknown, not an error."""
    inv = inventory(Bundle())
    assert inv["time_range"] == {"start": None, "end": None}
    assert (inv["spans"], inv["services"], inv["alerts"]) == (0, [], [])


def test_iso_utc_rejects_impossible_times() -> None:
    """Times beyond year 9999 or before the epoch give None instead of crashing."""
    assert iso_utc(T0) == "2023-11-14T22:13:20.000000Z"
    assert iso_utc(10**30) is None and iso_utc(-5) is None and iso_utc(None) is None


def test_text_view_lists_formats_counts_services_range_and_warnings() -> None:
    """The plain-text view names each input's format and everything a reader scans for."""
    text = render_inventory(inventory(_bundle()))
    assert "a.json  traces (otlp-json): 3 records" in text
    assert "b.log  logs (text): 2 records, 1 skipped" in text
    assert "Traces: 2 traces, 3 spans" in text
    assert "Services (3): api, db, web" in text
    assert "[alertmanager] firing, HighLatency, severity critical, service web" in text
    assert "Time range (UTC): 2023-11-14T22:12:20.000000Z .. 2023-11-14T22:13:29.000000Z" in text
    assert "  - a.json: 2 spans skipped" in text
    assert "\x1b[" not in text, "plain text: no terminal escapes"


def test_text_view_of_nothing_is_still_readable() -> None:
    """An empty inventory renders without errors and says the range is unknown."""
    text = render_inventory(inventory(Bundle()))
    assert "(none)" in text and "Time range (UTC): unknown" in text


def test_mixed_directory_is_detected_per_file(tmp_path: Path) -> None:
    """Traces, logs and an alert payload in one folder are each recognised by content."""
    (tmp_path / "1").write_bytes((FIXTURES / "traces" / "skew.json").read_bytes())
    (tmp_path / "2").write_bytes((FIXTURES / "logs" / "opentelemetry-proto_logs.json").read_bytes())
    (tmp_path / "3").write_bytes(
        (FIXTURES / "alerts" / "handmade" / "alertmanager_api_v2_list.json").read_bytes()
    )
    inv = inventory(load([str(tmp_path)]))
    kinds = {Path(i["path"]).name: i["kind"] for i in inv["inputs"]}
    assert kinds == {"1": "traces", "2": "logs", "3": "alerts"}
    assert inv["spans"] == 4 and inv["logs"] > 0 and inv["alerts"]


def test_forced_kinds_skip_detection(tmp_path: Path) -> None:
    """--logs and --alerts paths are read as that kind even when alone."""
    logs = tmp_path / "app.log"
    logs.write_text("2024-05-01T10:00:00Z ERROR payment failed\n")
    alerts = FIXTURES / "alerts" / "handmade" / "alertmanager_api_v2_list.json"
    bundle = load([], logs=[str(logs)], alerts=[str(alerts)])
    assert len(bundle.logs) == 1 and bundle.alerts
    assert {i.kind for i in bundle.inputs} == {"logs", "alerts"}
