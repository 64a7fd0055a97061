"""Alert readers: every real payload recognised as its source, fields mapped, edge cases."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from realfiles import real_param

from incident.errors import FormatError
from incident.ingest import alerts
from incident.model import Alert

ALERT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alerts"
HANDMADE = ALERT_FIXTURES / "handmade"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def only(path: Path) -> Alert:
    bundle = alerts.read(load(path), path.name)
    assert len(bundle.alerts) == 1
    return bundle.alerts[0]


def ns(text: str) -> int:
    """Nanoseconds for an ISO time, computed independently of the reader's own parser."""
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000_000


# Every real payload in ../shared/realdata/alerts with the source it must be read as.
REAL = {
    "alertmanager/prom_post_request.json": ("alertmanager", 1),
    "alertmanager/card-grafana-inspired-payload.json": ("alertmanager", 3),
    "alertmanager/holmesgpt_10_KubeDeploymentReplicasMismatch_issue_data.json": ("alertmanager", 1),
    "alertmanager/holmesgpt_11_KubePodCrashLooping_issue_data.json": ("alertmanager", 1),
    "alertmanager/holmesgpt_13_Watchdog_issue_data.json": ("alertmanager", 1),
    "grafana/webhook-notifier-example.json": ("grafana", 2),
    "pagerduty/webhook_v3_incident.priority_updated.json": ("pagerduty", 1),
    "pagerduty/webhook_v3_service.updated.json": ("pagerduty", 0),
    "pagerduty/events_v2_trigger.json": ("pagerduty", 1),
    "pagerduty/events_v2_acknowledge.json": ("pagerduty", 1),
    "pagerduty/events_v2_resolve.json": ("pagerduty", 1),
    "cloudwatch_sns/cloudwatch-alarm-sns-payload-single-metric.json": ("cloudwatch", 1),
    "cloudwatch_sns/cloudwatch-alarm-sns-payload-multiple-metrics.json": ("cloudwatch", 1),
    "gcp_monitoring/incident_v1.2_cpu_threshold.json": ("gcp-monitoring", 1),
    "sentry/issue_alert_event_alert_triggered.json": ("sentry", 1),
}


@pytest.mark.parametrize(
    ("path", "rel", "expected"),
    [real_param(f"alerts/{rel}", rel, expected) for rel, expected in sorted(REAL.items())],
)
def test_every_real_payload_is_read_as_its_source(
    path: Path, rel: str, expected: tuple[str, int]
) -> None:
    """Each real vendor payload is sniffed as the right tool and yields the right alert count."""
    source, count = expected
    payload = load(path)
    assert alerts.sniff(payload) == source
    bundle = alerts.read(payload, rel)
    assert len(bundle.alerts) == count
    assert all(a.source == source for a in bundle.alerts)
    assert bundle.inputs[0].kind == "alerts"
    assert bundle.inputs[0].format == source
    assert bundle.inputs[0].records == count


@pytest.mark.realdata
def test_the_realdata_folder_has_no_payload_left_untested(realdata: Path) -> None:
    """A new sample dropped into realdata/alerts must be added to the table above."""
    found = {str(p.relative_to(realdata / "alerts")) for p in (realdata / "alerts").rglob("*.json")}
    assert found == set(REAL)


HANDMADE_SOURCES = {
    "alertmanager_api_v2_list.json": "alertmanager",
    "datadog_default.json": "datadog",
    "datadog_recovered.json": "datadog",
    "datadog_triggered.json": "datadog",
    "eventbridge_alarm_ok.json": "cloudwatch",
    "gcp_incident_closed.json": "gcp-monitoring",
    "generic_alerts.json": "generic",
    "grafana_legacy.json": "grafana",
    "grafana_unified_resolved.json": "grafana",
    "opsgenie_close.json": "opsgenie",
    "opsgenie_create.json": "opsgenie",
    "pagerduty_v3_incident_resolved.json": "pagerduty",
    "pagerduty_v3_pagey_ping.json": "pagerduty",
    "sentry_issue_alert.json": "sentry",
    "sentry_metric_alert_resolved.json": "sentry",
    "sns_notification_ok.json": "cloudwatch",
}


@pytest.mark.parametrize(("name", "source"), sorted(HANDMADE_SOURCES.items()))
def test_handmade_payloads_are_read_as_their_source(name: str, source: str) -> None:
    """Payloads written in each vendor's documented shape are recognised as that vendor."""
    payload = load(HANDMADE / name)
    assert alerts.sniff(payload) == source
    assert all(a.source == source for a in alerts.read(payload, name).alerts)


def test_alertmanager_group_maps_labels_annotations_and_times() -> None:
    """Alertmanager v4: name, severity, fingerprint, generator URL and start per alert."""
    bundle = alerts.read(load(ALERT_FIXTURES / "card-grafana-inspired-payload.json"), "am.json")
    first = bundle.alerts[0]
    assert first.status == "firing"
    assert first.name == "JustATestAlert_1"
    assert first.severity == "info"
    assert first.fingerprint == "ff6a7a0f5f1c1309"
    assert first.generator_url and first.generator_url.startswith("https://domain.com/promstack")
    assert first.summary == "Ratio(Max(Working Set, RSS) / Reservation) [5m Avg] < 40 %"
    # 2020-10-11T14:34:11.279383004Z, nanoseconds kept.
    assert first.starts_ns == ns("2020-10-11T14:34:11+00:00") + 279383004
    # "0001-01-01T00:00:00Z" is Alertmanager's "no end".
    assert first.ends_ns is None
    assert [a.fingerprint for a in bundle.alerts] == [
        "ff6a7a0f5f1c1309",
        "554664fa753a2b45",
        "911c76f0240f015b",
    ]
    assert first.source_ref == "am.json#alerts[0]"


def test_alertmanager_without_status_takes_the_group_status_and_offset_time() -> None:
    """An old capture without per-alert status uses the group's; a -05:00 offset is honoured."""
    alert = only(ALERT_FIXTURES / "prom_post_request.json")
    assert alert.status == "firing"
    assert alert.fingerprint is None
    assert alert.starts_ns == ns("2018-03-07T11:33:21+00:00") + 873077559
    # commonAnnotations' `runbook` is the runbook.
    assert alert.runbook == "https://github.com/bzon/prometheus-msteams"
    assert alert.service == "docker_nodes"


def test_kube_state_metrics_alert_names_the_workload_not_the_exporter() -> None:
    """An alert computed by kube-state-metrics is about the deployment it names."""
    alert = only(ALERT_FIXTURES / "holmesgpt_10_KubeDeploymentReplicasMismatch_issue_data.json")
    assert alert.name == "KubeDeploymentReplicasMismatch"
    assert alert.service == "user-profile-resources"
    assert alert.severity == "warning"
    assert alert.runbook == (
        "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubedeploymentreplicasmismatch"
    )
    assert alert.status == "firing"


def test_robusta_wrapped_crashloop_alert_names_the_pod_workload() -> None:
    """The pod's replica-set suffix is dropped; the non-RFC 3339 start time still parses."""
    alert = only(ALERT_FIXTURES / "holmesgpt_11_KubePodCrashLooping_issue_data.json")
    assert alert.service == "payment-processing-worker"
    assert alert.labels["pod"] == "payment-processing-worker-747ccfb9db-pd6wz"
    assert alert.starts_ns == ns("2024-11-29T08:40:57+00:00") + 669_000_000
    # Robusta's "active" means firing, and a firing alert has no end yet.
    assert alert.status == "firing"
    assert alert.ends_ns is None


def test_severity_none_means_no_severity() -> None:
    """The Watchdog's `severity: none` is not a level."""
    alert = only(ALERT_FIXTURES / "holmesgpt_13_Watchdog_issue_data.json")
    assert alert.name == "Watchdog"
    assert alert.severity is None


def test_grafana_unified_alert_keeps_links_values_and_resolved_end() -> None:
    """Grafana's extra URLs and values land in annotations; a resolved alert gets its end."""
    alert = only(HANDMADE / "grafana_unified_resolved.json")
    assert alert.status == "resolved"
    assert alert.service == "checkout"
    assert alert.severity == "critical"
    assert alert.labels["team"] == "payments"  # from commonLabels
    assert alert.annotations["dashboardURL"] == "https://grafana.example.org/d/shop"
    assert alert.annotations["values"] == "A=2.7 B=1"
    assert alert.starts_ns == ns("2026-03-02T09:15:00+00:00")
    assert alert.ends_ns == ns("2026-03-02T09:42:30+00:00") + 500_000_000
    assert alert.runbook == "https://runbooks.example.org/checkout-latency"


@pytest.mark.realdata
def test_grafana_real_sample_maps_fields(realdata: Path) -> None:
    """The documented Grafana webhook: names from alertname, runbook from the annotation."""
    bundle = alerts.read(load(realdata / "alerts/grafana/webhook-notifier-example.json"), "g")
    names = [a.name for a in bundle.alerts]
    assert names == ["High memory usage", "High CPU usage"]
    assert bundle.alerts[0].runbook == "https://myrunbook.com/runbook/1234"
    assert bundle.alerts[0].starts_ns == ns("2021-10-12T07:51:03+00:00") + 157_076_000


def test_grafana_legacy_webhook_is_one_alert() -> None:
    """The pre-8 webhook (ruleName/state/evalMatches) maps to one alert with tags as labels."""
    alert = only(HANDMADE / "grafana_legacy.json")
    assert alert.name == "Orders DB CPU"
    assert alert.status == "firing"
    assert alert.service == "orders-db"
    assert "97.5" in alert.annotations["evalMatches"]


def test_alertmanager_api_v2_list_reads_state_objects() -> None:
    """GET /api/v2/alerts: `status.state` active/suppressed, and `page` severity is critical."""
    bundle = alerts.read(load(HANDMADE / "alertmanager_api_v2_list.json"), "v2.json")
    assert [a.status for a in bundle.alerts] == ["firing", "suppressed"]
    assert bundle.alerts[0].severity == "critical"
    assert [a.service for a in bundle.alerts] == ["cart", "search"]
    assert bundle.alerts[0].source_ref == "v2.json[0]"


@pytest.mark.realdata
def test_pagerduty_v3_priority_update_is_still_an_incident(realdata: Path) -> None:
    """priority_updated is about an incident: service summary, P1 -> critical, created time."""
    payload = load(realdata / "alerts/pagerduty/webhook_v3_incident.priority_updated.json")
    bundle = alerts.read(payload, "pd.json")
    assert bundle.notices == []
    alert = bundle.alerts[0]
    assert alert.name == "A little bump in the road"
    assert alert.status == "firing"
    assert alert.service == "API Service"
    assert alert.severity == "critical"
    assert alert.fingerprint == "d3640fbd41094207a1c11e58e46b1662"
    assert alert.starts_ns == ns("2020-04-09T15:16:27+00:00")
    assert alert.generator_url == "https://acme.pagerduty.com/incidents/PGR0VU2"


@pytest.mark.realdata
def test_pagerduty_service_update_is_a_notice_not_an_alert(realdata: Path) -> None:
    """A non-incident event is recognised, yields no alert and says why."""
    payload = load(realdata / "alerts/pagerduty/webhook_v3_service.updated.json")
    bundle = alerts.read(payload, "svc.json")
    assert bundle.alerts == []
    assert bundle.notices == ["svc.json: PagerDuty service.updated event: not an incident"]
    assert bundle.inputs[0].records == 0


def test_pagerduty_resolved_incident_ends_when_the_event_occurred() -> None:
    """incident.resolved without resolved_at ends at occurred_at; P3 -> warning."""
    alert = only(HANDMADE / "pagerduty_v3_incident_resolved.json")
    assert alert.status == "resolved"
    assert alert.ends_ns == ns("2026-03-02T09:45:00+00:00")
    assert alert.severity == "warning"


@pytest.mark.realdata
def test_pagerduty_events_v2_trigger_and_follow_ups(realdata: Path) -> None:
    """Events API v2: payload fields map; ack/resolve carry only the dedup key."""
    folder = realdata / "alerts/pagerduty"
    trigger = alerts.read(load(folder / "events_v2_trigger.json"), "t").alerts[0]
    assert trigger.status == "firing"
    assert trigger.name == "Example alert on host1.example.com"
    assert trigger.severity == "info"
    assert trigger.service == "postgres"
    assert trigger.fingerprint == "samplekeyhere"
    assert trigger.starts_ns == ns("2015-07-17T08:42:58+00:00") + 315_000_000
    assert trigger.annotations["ping time"] == "1500ms"
    # The integration key is a credential and must not travel with the alert.
    assert "samplekeyhere" not in json.dumps(trigger.labels)
    ack = alerts.read(load(folder / "events_v2_acknowledge.json"), "a").alerts[0]
    resolve = alerts.read(load(folder / "events_v2_resolve.json"), "r").alerts[0]
    assert (ack.status, resolve.status) == ("acknowledged", "resolved")
    assert ack.fingerprint == resolve.fingerprint == "dedupkeyhere"


def test_cloudwatch_alarm_inside_sns_string_is_decoded() -> None:
    """Records[].Sns.Message is a JSON string holding the alarm: state, time and metric."""
    for name in (
        "cloudwatch-alarm-sns-payload-single-metric.json",
        "cloudwatch-alarm-sns-payload-multiple-metrics.json",
    ):
        alert = only(ALERT_FIXTURES / name)
        assert alert.status == "firing"
        assert alert.name == "EXAMPLE"
        assert alert.severity is None
        assert alert.starts_ns == ns("2015-06-03T17:43:27+00:00") + 123_000_000
        assert alert.labels["MetricName"] == "NetworkOut"
        assert alert.labels["InstanceId"] == "TestInstance"
        assert alert.fingerprint == "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE"


def test_bare_sns_notification_ok_resolves_with_service_from_dimension() -> None:
    """An OK transition is resolved at the state change; the RDS instance names the service."""
    alert = only(HANDMADE / "sns_notification_ok.json")
    assert alert.status == "resolved"
    assert alert.service == "orders-db"
    assert alert.starts_ns is None
    assert alert.ends_ns == ns("2026-03-02T09:50:00+00:00")


def test_bare_alarm_json_is_cloudwatch() -> None:
    """The alarm object on its own, as copied from the console, is read too."""
    envelope = load(ALERT_FIXTURES / "cloudwatch-alarm-sns-payload-single-metric.json")
    alarm = json.loads(envelope["Records"][0]["Sns"]["Message"])
    assert alerts.sniff(alarm) == "cloudwatch"
    assert alerts.read(alarm, "alarm.json").alerts[0].name == "EXAMPLE"


@pytest.mark.realdata
def test_gcp_incident_maps_policy_times_and_documentation(realdata: Path) -> None:
    """Cloud Monitoring: policy name, open -> firing, epoch-second start, documentation."""
    payload = load(realdata / "alerts/gcp_monitoring/incident_v1.2_cpu_threshold.json")
    alert = alerts.read(payload, "gcp").alerts[0]
    assert alert.name == "choonho-server-cpu-alert-policy-test"
    assert alert.status == "firing"
    assert alert.starts_ns == 1675315787 * 1_000_000_000
    assert alert.ends_ns is None
    assert alert.fingerprint == "0.mtdi83m6w8ao"
    assert alert.runbook == "Server High CPU Usage"
    assert alert.labels["condition_name"] == "VM Instance - CPU utilization"


def test_gcp_closed_incident_prefers_documentation_link_and_display_name() -> None:
    """A closed incident is resolved with its end; the resource display name is the service."""
    alert = only(HANDMADE / "gcp_incident_closed.json")
    assert alert.status == "resolved"
    assert alert.ends_ns == 1772443800 * 1_000_000_000
    assert alert.service == "checkout"
    assert alert.severity == "critical"
    assert alert.runbook == "https://runbooks.example.org/checkout"


@pytest.mark.realdata
def test_sentry_issue_alert_maps_rule_project_and_tags(realdata: Path) -> None:
    """Sentry issue alert: the rule names it, the project slug is the service, tags are labels."""
    payload = load(realdata / "alerts/sentry/issue_alert_event_alert_triggered.json")
    alert = alerts.read(payload, "sentry").alerts[0]
    assert alert.name == "Very Important Alert Rule!"
    assert alert.summary == "ReferenceError: heck is not defined"
    assert alert.service == "front-end"
    assert alert.severity == "error"
    assert alert.fingerprint == "1117540176"
    assert alert.labels["browser.name"] == "Chrome"
    assert alert.starts_ns == ns("2019-08-19T21:06:17+00:00") + 677_000_000


def test_sentry_fatal_is_critical_and_metric_alert_resolves() -> None:
    """Sentry `fatal` maps to critical; a resolved metric alert carries its close time."""
    issue = only(HANDMADE / "sentry_issue_alert.json")
    assert issue.severity == "critical"
    assert issue.service == "checkout-api"
    metric = only(HANDMADE / "sentry_metric_alert_resolved.json")
    assert metric.status == "resolved"
    assert metric.name == "Checkout error rate"
    assert metric.ends_ns == ns("2026-03-02T09:30:00+00:00")


def test_opsgenie_create_and_close() -> None:
    """Opsgenie: P1 -> critical, service from a `service:` tag, runbook from details."""
    created = only(HANDMADE / "opsgenie_create.json")
    assert created.status == "firing"
    assert created.severity == "critical"
    assert created.service == "orders-db"
    assert created.runbook == "https://runbooks.example.org/orders-db-connections"
    assert created.starts_ns == 1772442000000 * 1_000_000
    assert created.fingerprint == "orders-db-connections"
    closed = only(HANDMADE / "opsgenie_close.json")
    assert closed.status == "resolved"
    # Opsgenie's updatedAt is in nanoseconds, createdAt in milliseconds.
    assert closed.ends_ns == 1772445600000000000


def test_datadog_transition_type_tags_and_title_prefix() -> None:
    """Datadog: title prefixes dropped, `service:` tag, P2 -> error, ms epoch date."""
    triggered = only(HANDMADE / "datadog_triggered.json")
    assert triggered.name == "Payment API error rate above 5%"
    assert triggered.status == "firing"
    assert triggered.severity == "error"
    assert triggered.service == "payment-api"
    assert triggered.labels["team"] == "payments"
    assert triggered.starts_ns == 1772442180000 * 1_000_000
    assert triggered.summary == "Error rate on payment-api is 7.3% over the last 5m."
    recovered = only(HANDMADE / "datadog_recovered.json")
    assert recovered.status == "resolved"
    assert recovered.fingerprint == triggered.fingerprint
    default = only(HANDMADE / "datadog_default.json")
    assert default.name == "Disk usage high on db-3"


def test_generic_alert_list() -> None:
    """A plain `{"alerts": [...]}` of title/severity/service objects is the generic source."""
    bundle = alerts.read(load(HANDMADE / "generic_alerts.json"), "g.json")
    assert [a.status for a in bundle.alerts] == ["firing", "resolved"]
    assert bundle.alerts[0].severity == "warning"
    assert bundle.alerts[0].service == "billing-worker"
    assert bundle.alerts[1].ends_ns == ns("2026-03-02T08:20:00+00:00")


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        None,
        "firing",
        42,
        {"resourceSpans": []},
        {"traceId": "abc", "name": "GET /", "severity": "high"},
        {"level": "error", "message": "boom", "service": "x", "name": "app"},
        {"data": [{"traceID": "1", "spans": []}]},
        [{"ts": 1, "msg": "x"}],
    ],
)
def test_non_alert_values_are_not_sniffed(value: object) -> None:
    """Spans, log records and odd JSON values are never mistaken for alerts."""
    assert alerts.sniff(value) is None


def test_forcing_a_non_alert_raises_format_error_naming_the_file() -> None:
    """`--alerts` on something else: a FormatError naming the input."""
    with pytest.raises(FormatError) as err:
        alerts.read({"hello": "world"}, "notes.json")
    assert err.value.path == "notes.json"
    assert "not an alert payload" in str(err.value)


def test_a_list_of_payloads_reads_each_and_counts_the_rest() -> None:
    """A file holding several webhook bodies reads every one; the first names the format."""
    payloads = [load(HANDMADE / "opsgenie_create.json"), load(HANDMADE / "opsgenie_close.json")]
    bundle = alerts.read(payloads, "many.json")
    assert [a.status for a in bundle.alerts] == ["firing", "resolved"]
    assert bundle.inputs[0].format == "opsgenie"
