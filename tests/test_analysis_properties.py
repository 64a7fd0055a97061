"""Property: whatever spans, logs and alerts arrive, diagnose returns a valid report and names
a root cause whenever anything was read."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.analysis import diagnose
from incident.analysis.classify import alert_service
from incident.model import Alert, Bundle, LogRecord, Span
from incident.report import Report

T0 = 1_773_478_800_000_000_000
ids = st.sampled_from([f"{k:016x}" for k in range(12)])
services = st.sampled_from(["a", "b", "c", "db"])
attrs = st.dictionaries(
    st.sampled_from(
        [
            "http.status_code",
            "http.response.status_code",
            "rpc.grpc.status_code",
            "db.system",
            "peer.service",
            "server.address",
            "enduser.id",
            "error",
        ]
    ),
    st.one_of(st.integers(-1, 600), st.text(max_size=5), st.booleans(), st.none()),
    max_size=3,
)
spans = st.builds(
    Span,
    trace_id=st.sampled_from(["t1", "t2", "t3"]),
    span_id=ids,
    parent_id=st.one_of(st.none(), ids, st.just("")),
    service=services,
    name=st.sampled_from(["GET /", "SELECT x", "call"]),
    kind=st.integers(0, 5),
    start_ns=st.integers(T0, T0 + 10**10),
    end_ns=st.integers(T0 - 10**6, T0 + 2 * 10**10),
    status=st.integers(0, 2),
    attributes=attrs,
)
logs = st.builds(
    LogRecord,
    time_ns=st.one_of(st.none(), st.integers(T0, T0 + 10**10)),
    level=st.sampled_from([None, "INFO", "ERROR"]),
    message=st.text(max_size=30),
    service=st.one_of(st.none(), services),
    trace_id=st.one_of(st.none(), st.sampled_from(["t1", "t2"])),
)
alerts = st.builds(
    Alert,
    source=st.just("generic"),
    status=st.sampled_from(["firing", "resolved"]),
    name=st.sampled_from(["HighLatency", "DiskFull"]),
    service=st.one_of(st.none(), services),
    starts_ns=st.one_of(st.none(), st.integers(T0, T0 + 10**10)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(spans, max_size=25),
    st.lists(logs, max_size=5),
    st.lists(alerts, max_size=3),
    st.booleans(),
)
def test_any_input_gives_a_report_with_a_cause(
    span_list: list[Span], log_list: list[LogRecord], alert_list: list[Alert], with_base: bool
) -> None:
    """No crash on cycles, duplicates, reversed times or odd attributes; causes when fed
    records that name a component, unless the verdict is that nothing happened."""
    bundle = Bundle(spans=span_list, logs=log_list, alerts=alert_list)
    base = Bundle(spans=span_list[: len(span_list) // 2]) if with_base else None
    rep = diagnose(bundle, base)
    Report.model_validate_json(rep.to_json())
    if rep.verdict.status == "no-incident":
        assert rep.root_causes == [] and rep.verdict.reason
    elif span_list or any(r.service for r in log_list) or any(map(alert_service, alert_list)):
        assert rep.root_causes
    else:
        # Nothing names a component: "unknown" is not a lead, so no candidate is made up.
        assert rep.verdict.status == "inconclusive" and not rep.root_causes
        assert all(0.0 <= c.score <= 1.0 for c in rep.root_causes)
    assert 0.0 <= rep.verdict.confidence <= 1.0
    ids_known = {e.id for e in rep.evidence}
    assert all(e in ids_known for c in rep.root_causes for e in c.evidence)
