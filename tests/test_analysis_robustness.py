"""diagnose never crashes on odd input and always names a root cause when anything was read."""

from __future__ import annotations

import pytest

from incident.analysis import AnalysisConfig, diagnose
from incident.model import Alert, Bundle, LogRecord, Span, SpanKind, StatusCode

MS = 1_000_000
T0 = 1_773_478_800_000_000_000


def test_empty_bundle_gives_an_empty_report() -> None:
    """Nothing read: no causes, no crash, a valid report."""
    rep = diagnose(Bundle())
    assert rep.root_causes == []
    assert rep.window.baseline == "none"


def test_single_span() -> None:
    """One healthy span: nothing to blame (a system at rest), but its path is still shown."""
    rep = diagnose(
        Bundle(spans=[Span("t", "s", None, "solo", "GET /", SpanKind.SERVER, T0, T0 + 5 * MS)])
    )
    assert rep.verdict.status == "no-incident" and rep.verdict.confidence <= 0.3
    assert rep.root_causes == []
    assert rep.critical_paths and rep.critical_paths[0].steps[0].service == "solo"


def test_only_logs_blames_the_noisiest_error_logger() -> None:
    """Without spans, the service logging the most errors is the fallback cause."""
    logs = [
        LogRecord(T0 + k * MS, "ERROR", f"db timeout after {k} ms", service="billing")
        for k in range(5)
    ]
    logs.append(LogRecord(T0, "INFO", "started", service="web"))
    rep = diagnose(Bundle(logs=logs))
    assert rep.verdict.status == "inconclusive" and "no traces" in rep.verdict.reason
    assert rep.root_causes[0].service == "billing"
    assert rep.log_templates[0].template == "db timeout after <*> ms"
    assert rep.log_templates[0].count == 5


def test_only_alerts_blames_the_alerting_service() -> None:
    """Without spans or logs, the service an alert fires on is the fallback cause."""
    alert = Alert(
        source="alertmanager",
        status="firing",
        name="KubePodCrashLooping",
        labels={"service": "payments"},
        starts_ns=T0,
    )
    rep = diagnose(Bundle(alerts=[alert]))
    assert rep.root_causes[0].service == "payments"
    assert rep.alerts[0].role == "cause"
    assert rep.timeline and rep.timeline[0].time.endswith("Z")


def test_cycles_zero_durations_and_orphans_together() -> None:
    """A trace of loops, zero-length spans, reversed times and orphans still diagnoses."""
    spans = [
        Span("t1", "a", "b", "x", "loop", SpanKind.SERVER, T0, T0 + MS),
        Span("t1", "b", "a", "y", "loop", SpanKind.SERVER, T0, T0 + MS),
        Span("t2", "c", None, "x", "zero", SpanKind.SERVER, T0, T0),
        Span("t2", "d", "c", "y", "neg", SpanKind.CLIENT, T0 + MS, T0, StatusCode.ERROR),
        Span("t3", "e", "gone", "z", "orphan", SpanKind.SERVER, T0, T0 + 3 * MS),
    ]
    rep = diagnose(Bundle(spans=spans))
    assert rep.root_causes
    assert rep.data_quality.orphans == 1
    assert rep.data_quality.repaired >= 1  # the loop was cut


def test_config_is_frozen_and_patterns_are_configurable() -> None:
    """Business-critical patterns come from the config, which cannot be changed in place."""
    cfg = AnalysisConfig(business_critical=("refund",))
    assert cfg.is_critical("POST /api/Refund") and not cfg.is_critical("POST /checkout")
    with pytest.raises(AttributeError):
        cfg.max_evidence = 3  # type: ignore[misc]  # proving the dataclass is frozen


def test_database_call_recorded_without_kind_blames_the_database() -> None:
    """A leaf span with db.system but no span kind is a call to the database: when it slows
    down, the database is named, not the service that recorded the span."""

    def trace(k: int, db_ms: int) -> list[Span]:
        t0 = T0 + k * 1_000 * MS
        tid = f"{k:032x}"
        return [
            Span(
                tid,
                f"{k:08x}a",
                None,
                "orders",
                "GET /orders",
                SpanKind.SERVER,
                t0,
                t0 + (db_ms + 10) * MS,
            ),
            Span(
                tid,
                f"{k:08x}b",
                f"{k:08x}a",
                "orders",
                "SELECT orders",
                SpanKind.UNSPECIFIED,
                t0 + 5 * MS,
                t0 + (db_ms + 5) * MS,
                attributes={"db.system": "postgresql", "db.name": "orders-db"},
            ),
        ]

    base = Bundle(spans=[s for k in range(50) for s in trace(k, 5)])
    incident = Bundle(spans=[s for k in range(50) for s in trace(k, 300)])
    top = diagnose(incident, base).root_causes[0]
    assert (top.service, top.kind) == ("orders-db", "latency")
    assert top.component == "postgresql orders-db"


def test_odd_attribute_values_do_not_crash() -> None:
    """Status codes as lists, dicts or words are tolerated."""
    spans = [
        Span(
            "t",
            "a",
            None,
            "x",
            "op",
            SpanKind.SERVER,
            T0,
            T0 + MS,
            attributes={"http.status_code": [500]},
        ),
        Span(
            "t",
            "b",
            "a",
            "x",
            "op",
            SpanKind.CLIENT,
            T0,
            T0 + MS,
            attributes={"http.response.status_code": {"v": 1}, "rpc.grpc.status_code": "x"},
        ),
        Span(
            "t",
            "c",
            "a",
            "y",
            "op",
            SpanKind.SERVER,
            T0,
            T0 + MS,
            attributes={"rpc.grpc.status_code": "UNAVAILABLE", "error": "true"},
        ),
    ]
    assert diagnose(Bundle(spans=spans)).root_causes
