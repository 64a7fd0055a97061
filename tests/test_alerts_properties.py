"""Property tests: whatever JSON value arrives, the alert readers either read it or raise an
InputError subclass (exit 2) — never anything that would surface as a crash.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.errors import InputError
from incident.ingest import alerts

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Keys the readers look for, so generated objects often take the interesting branches.
KEYS = st.sampled_from(
    [
        "alerts",
        "labels",
        "annotations",
        "status",
        "startsAt",
        "endsAt",
        "version",
        "receiver",
        "orgId",
        "event",
        "event_type",
        "resource_type",
        "data",
        "event_action",
        "payload",
        "routing_key",
        "dedup_key",
        "action",
        "alert",
        "Records",
        "Sns",
        "Message",
        "Type",
        "AlarmName",
        "NewStateValue",
        "Trigger",
        "incident",
        "incident_id",
        "policy_name",
        "triggered_rule",
        "metric_alert",
        "issue",
        "alert_transition",
        "alert_type",
        "tags",
        "title",
        "severity",
        "service",
        "name",
        "alertname",
        "raw",
        "aggregation_key",
        "messages",
        "ruleName",
        "state",
        "evalMatches",
        "source",
        "detail",
        "project_slug",
        "msg",
        "level",
        "time",
        "ts",
        "timestamp",
        "trace_id",
        "span_id",
        "resourceLogs",
        "scopeLogs",
        "logRecords",
        "body",
        "line",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["firing", "resolved", "incident.triggered", "ALARM", "P1", "0001-01-01T00:00:00Z"]
    )
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


@SETTINGS
@given(JSON_VALUES)
def test_alert_sniff_and_read_raise_only_input_errors(value: Any) -> None:
    """sniff never raises; read either returns a bundle or raises an InputError."""
    source = alerts.sniff(value)
    assert source is None or source in alerts.SOURCES
    try:
        bundle = alerts.read(value, "payload.json")
    except InputError:
        assert source is None
        return
    if source is None:  # an empty alert list: "nothing is firing", said as a notice
        assert bundle.inputs[0].format == "empty" and not bundle.alerts and bundle.notices
    else:
        assert bundle.inputs[0].format == source
    assert bundle.inputs[0].records == len(bundle.alerts)
