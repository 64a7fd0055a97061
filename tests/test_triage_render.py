"""Triage of every real alert payload in ../shared/realdata/alerts, in all four formats.

Each payload is triaged twice where possible: from Alert objects built by hand in the shape
of the payload (always), and through the ingest reader `incident.ingest.alerts.read` once it
exists in this checkout. Slack output is checked against Block Kit's structural rules.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from realfiles import real_param

from incident.analysis.triage import triage
from incident.errors import UsageError
from incident.model import Alert, Bundle
from incident.render.triage import TriageFormat, render_triage
from incident.report import Report, RootCause
from incident.triage_report import Triage

NS = 1_000_000_000
NOW = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z, after every sample payload


def _ns(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * NS)


# Alert objects as a reader should map each sample (names, severities, labels, times taken
# from the payload files themselves). Notices are what a reader reports for non-incidents.
HAND_BUILT: dict[str, tuple[list[Alert], list[str]]] = {
    "alertmanager/prom_post_request.json": (
        [
            Alert(
                source="alertmanager",
                status="firing",
                name="high_memory_load",
                severity="warning",
                labels={
                    "alertname": "high_memory_load",
                    "instance": "instance-with-hyphen_and_underscore",
                    "job": "docker_nodes",
                },
                annotations={
                    "summary": "Server High Memory usage",
                    "runbook": "https://github.com/bzon/prometheus-msteams",
                },
                starts_ns=_ns("2018-03-07T11:33:21.873Z"),
                summary="Server High Memory usage",
            )
        ],
        [],
    ),
    "alertmanager/card-grafana-inspired-payload.json": (
        [
            Alert(
                source="alertmanager",
                status="firing",
                name=f"JustATestAlert_{i}",
                severity="info",
                labels={
                    "alertname": f"JustATestAlert_{i}",
                    "name": "grafana",
                    "namespace": "whatever/promstack",
                },
                starts_ns=_ns("2020-10-11T14:34:11.279Z"),
                summary="Ratio(Max(Working Set, RSS) / Reservation) [5m Avg] < 40 %",
                fingerprint=f"ff6a7a0f5f1c130{i}",
                generator_url="https://domain.com/promstack/prometheus/graph?g0.expr=x",
            )
            for i in range(1, 4)
        ],
        [],
    ),
    "alertmanager/holmesgpt_10_KubeDeploymentReplicasMismatch_issue_data.json": (
        [
            Alert(
                source="alertmanager",
                status="firing",
                name="KubeDeploymentReplicasMismatch",
                severity="info",
                service="user-profile-resources",
                labels={"namespace": "default", "deployment": "user-profile-resources"},
                starts_ns=_ns("2025-01-27T06:06:27.153Z"),
                summary="Deployment has not matched the expected number of replicas.",
                fingerprint="7de1c30ff0d0812a",
            )
        ],
        [],
    ),
    "alertmanager/holmesgpt_11_KubePodCrashLooping_issue_data.json": (
        [
            Alert(
                source="alertmanager",
                status="firing",
                name="KubePodCrashLooping",
                severity="warning",
                service="robusta-kube-state-metrics",
                labels={
                    "alertname": "KubePodCrashLooping",
                    "container": "payment-processing-container",
                    "namespace": "default",
                    "pod": "payment-processing-worker-747ccfb9db-pd6wz",
                    "reason": "CrashLoopBackOff",
                },
                annotations={
                    "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"
                },
                starts_ns=_ns("2024-11-29T08:40:57.669Z"),
                ends_ns=_ns("2024-11-29T09:16:27.669Z"),
                summary="Pod is crash looping.",
            )
        ],
        [],
    ),
    "alertmanager/holmesgpt_13_Watchdog_issue_data.json": (
        [
            Alert(
                source="alertmanager",
                status="firing",
                name="Watchdog",
                severity="none",
                runbook="https://runbooks.prometheus-operator.dev/runbooks/general/watchdog",
                starts_ns=_ns("2024-11-29T06:15:32.570Z"),
                summary="An alert that should always be firing to certify that Alertmanager "
                "is working properly.",
            )
        ],
        [],
    ),
    "grafana/webhook-notifier-example.json": (
        [
            Alert(
                source="grafana",
                status="firing",
                name=name,
                labels={"alertname": name, "team": "blue", "zone": zone},
                runbook="https://myrunbook.com/runbook/1234",
                starts_ns=_ns(start),
                summary=f"This alert was triggered for zone {zone}",
            )
            for name, zone, start in (
                ("High memory usage", "us-1", "2021-10-12T07:51:03.157Z"),
                ("High CPU usage", "eu-1", "2021-10-12T07:56:03.157Z"),
            )
        ],
        [],
    ),
    "pagerduty/events_v2_trigger.json": (
        [
            Alert(
                source="pagerduty",
                status="firing",
                name="Example alert on host1.example.com",
                severity="info",
                service="postgres",
                labels={"component": "postgres", "group": "prod-datapipe", "class": "deploy"},
                starts_ns=_ns("2015-07-17T08:42:58.315Z"),
                fingerprint="samplekeyhere",
            )
        ],
        [],
    ),
    "pagerduty/events_v2_acknowledge.json": (
        [
            Alert(
                source="pagerduty",
                status="acknowledged",
                name="dedupkeyhere",
                fingerprint="dedupkeyhere",
            )
        ],
        [],
    ),
    "pagerduty/events_v2_resolve.json": (
        [
            Alert(
                source="pagerduty",
                status="resolved",
                name="dedupkeyhere",
                fingerprint="dedupkeyhere",
            )
        ],
        [],
    ),
    "pagerduty/webhook_v3_incident.priority_updated.json": (
        [
            Alert(
                source="pagerduty",
                status="firing",
                name="A little bump in the road",
                severity="P1",
                service="API Service",
                starts_ns=_ns("2020-04-09T15:16:27Z"),
            )
        ],
        [],
    ),
    "pagerduty/webhook_v3_service.updated.json": (
        [],
        ["pagerduty service.updated (testing service updates): not an incident"],
    ),
    "cloudwatch_sns/cloudwatch-alarm-sns-payload-single-metric.json": (
        [
            Alert(
                source="cloudwatch",
                status="firing",
                name="EXAMPLE",
                labels={
                    "MetricName": "NetworkOut",
                    "Namespace": "AWS/EC2",
                    "InstanceId": "TestInstance",
                },
                starts_ns=_ns("2015-06-03T17:43:27.123Z"),
                summary="Threshold Crossed: 1 out of the last 1 datapoints "
                "[1234.0 (06/03/15 17:43:27)] was greater than the threshold (0.0)",
            )
        ],
        [],
    ),
    "cloudwatch_sns/cloudwatch-alarm-sns-payload-multiple-metrics.json": (
        [
            Alert(
                source="cloudwatch",
                status="firing",
                name="EXAMPLE",
                labels={"MetricName": "NetworkOut", "InstanceId": "TestInstance"},
                starts_ns=_ns("2015-06-03T17:43:27.123Z"),
            )
        ],
        [],
    ),
    "gcp_monitoring/incident_v1.2_cpu_threshold.json": (
        [
            Alert(
                source="gcp-monitoring",
                status="firing",
                name="VM Instance - CPU utilization",
                labels={"resource_type": "gce_instance"},
                starts_ns=1675315787 * NS,
                summary="CPU utilization for VM Instance is above the threshold of 0.500 "
                "with a value of 0.790.",
                generator_url="https://console.cloud.google.com/monitoring/alerting/incidents/0.mtdi83m6w8ao",
            )
        ],
        [],
    ),
    "sentry/issue_alert_event_alert_triggered.json": (
        [
            Alert(
                source="sentry",
                status="firing",
                name="ReferenceError: heck is not defined",
                severity="error",
                starts_ns=_ns("2019-08-19T21:06:17.677Z"),
            )
        ],
        [],
    ),
}

FORMATS: tuple[TriageFormat, ...] = ("text", "md", "json", "slack")


def _payloads(realdata: Path) -> list[str]:
    root = realdata / "alerts"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json"))


@pytest.mark.realdata
def test_every_real_payload_has_a_hand_built_case(realdata: Path) -> None:
    """No payload in realdata/alerts escapes the triage tests."""
    assert set(_payloads(realdata)) == set(HAND_BUILT)


# --- Block Kit structure ------------------------------------------------------------------


def _text_len(obj: dict[str, Any]) -> int:
    assert obj["type"] in ("plain_text", "mrkdwn")
    assert isinstance(obj["text"], str) and obj["text"]
    return len(obj["text"])


def slack_errors(doc: Any) -> list[str]:
    """Violations of Block Kit's structural rules for the block types the renderer uses."""
    errors: list[str] = []
    if not isinstance(doc, dict) or set(doc) != {"blocks"}:
        return ["top level must be {'blocks': [...]}"]
    blocks = doc["blocks"]
    if not 1 <= len(blocks) <= 50:
        errors.append(f"{len(blocks)} blocks (1..50 allowed)")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            if block["text"]["type"] != "plain_text" or _text_len(block["text"]) > 150:
                errors.append(f"block {i}: header must be plain_text <= 150")
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"block {i}: section needs text or fields")
            if "text" in block and _text_len(block["text"]) > 3000:
                errors.append(f"block {i}: section text > 3000")
            fields = block.get("fields", [])
            if len(fields) > 10:
                errors.append(f"block {i}: {len(fields)} fields > 10")
            if any(_text_len(f) > 2000 for f in fields):
                errors.append(f"block {i}: field > 2000")
            extra = set(block) - {"type", "text", "fields", "block_id", "accessory"}
            if extra:
                errors.append(f"block {i}: unknown keys {extra}")
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                errors.append(f"block {i}: context needs 1..10 elements")
            if any(_text_len(e) > 3000 for e in elements):
                errors.append(f"block {i}: context element > 3000")
        elif kind == "divider":
            if set(block) - {"type", "block_id"}:
                errors.append(f"block {i}: divider takes no content")
        else:
            errors.append(f"block {i}: unexpected type {kind!r}")
    return errors


def _check_all_formats(t: Triage, names: list[str]) -> None:
    out = {fmt: render_triage(t, fmt) for fmt in FORMATS}
    for fmt, text in out.items():
        assert text.endswith("\n") and text.strip(), fmt
    doc = json.loads(out["json"])
    assert doc["schema"] == "incident.triage/1"
    assert Triage.model_validate(doc) == t
    assert slack_errors(json.loads(out["slack"])) == []
    for name in names:
        assert name in out["text"], name
        assert name.split(" ")[0] in out["md"], name


@pytest.mark.parametrize("payload", sorted(HAND_BUILT))
def test_real_payload_shapes_triage_sensibly(payload: str) -> None:
    """Each sample's alerts triage into groups with a role, a status and at least one action;
    all four renderings are well-formed."""
    alerts, notices = HAND_BUILT[payload]
    t = triage(alerts, notices, now_ns=NOW)
    assert len(t.groups) == len({(a.name, a.service) for a in alerts})
    for g in t.groups:
        assert g.actions, g.name
        assert g.status in ("firing", "acknowledged", "resolved")
        if g.status != "resolved" and g.started_at:
            assert g.firing_for_s is not None and g.firing_for_s > 0
    # The reader's notices, then one for each group still firing after STALE_DAYS.
    stale = [g for g in t.groups if g.stale]
    assert t.notices == notices + [n for n in t.notices[len(notices) :] if "days before now" in n]
    assert len(t.notices) == len(notices) + len(stale)
    _check_all_formats(t, sorted({a.name for a in alerts}))


def test_real_samples_land_in_the_expected_roles() -> None:
    """The judgement calls on the real samples: what users feel versus internal causes."""
    roles = {}
    for alerts, _ in HAND_BUILT.values():
        for g in triage(alerts).groups:
            roles[g.name] = g.role
    assert roles["Watchdog"] == "heartbeat"
    assert roles["KubePodCrashLooping"] == "cause"
    assert roles["KubeDeploymentReplicasMismatch"] == "cause"
    assert roles["High CPU usage"] == "cause"
    assert roles["VM Instance - CPU utilization"] == "cause"
    assert roles["ReferenceError: heck is not defined"] == "symptom"


def test_crashloop_sample_names_its_pod_and_runbook() -> None:
    """The kube-prometheus CrashLooping sample yields its runbook and a pod-specific command."""
    alerts, _ = HAND_BUILT["alertmanager/holmesgpt_11_KubePodCrashLooping_issue_data.json"]
    group = triage(alerts, now_ns=NOW).groups[0]
    actions = [a.command or "" for a in group.actions]
    assert group.actions[0].url and "kubepodcrashlooping" in group.actions[0].url
    assert any(
        "payment-processing-worker-747ccfb9db-pd6wz" in a and "--previous" in a for a in actions
    )


def test_all_payloads_together_fit_slack_limits() -> None:
    """Everything at once (more groups than fit) still gives a valid message that says what
    it left out."""
    alerts = [a for group, _ in HAND_BUILT.values() for a in group]
    many = alerts + [
        Alert(source="generic", status="firing", name=f"Alert{i} " + "x" * 400, severity="critical")
        for i in range(40)
    ]
    report = Report(
        root_causes=[
            RootCause(
                service="orders-db",
                kind="saturation",
                category="transient",
                origin="infrastructure",
                score=0.9,
                summary="<pool> & exhausted " * 200,
            )
        ]
    )
    t = triage(many, ["notice"] * 20, report=report, now_ns=NOW)
    doc = json.loads(render_triage(t, "slack"))
    assert slack_errors(doc) == []
    footer = doc["blocks"][-1]["elements"][0]["text"]
    assert "more group(s) not shown" in footer


def test_slack_escapes_control_characters() -> None:
    """`<`, `>` and `&` in alert text cannot form Slack links or mentions."""
    t = triage([Alert(source="generic", status="firing", name="<!channel> & <@U123>")])
    text = render_triage(t, "slack")
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text


def test_markdown_table_survives_pipes() -> None:
    """A `|` in an alert name is escaped in the ticket table."""
    t = triage([Alert(source="generic", status="firing", name="a|b")])
    row = next(line for line in render_triage(t, "md").splitlines() if "a\\|b" in line)
    assert row.count("|") - row.count("\\|") == 8


def test_unknown_format_is_a_usage_error() -> None:
    """A format name outside the four is a usage error, not a crash."""
    with pytest.raises(UsageError):
        render_triage(triage([]), "xml")  # type: ignore[arg-type]  # deliberately invalid


# --- through the ingest reader ------------------------------------------------------------


def _reader() -> Any:
    try:
        return importlib.import_module("incident.ingest.alerts")
    except ImportError:
        return None


@pytest.mark.parametrize(
    ("path", "payload"), [real_param(f"alerts/{rel}", rel) for rel in sorted(HAND_BUILT)]
)
def test_real_payload_through_reader(path: Path, payload: str) -> None:
    """With the ingest reader present, each real file reads, triages and renders cleanly."""
    module = _reader()
    if module is None or not hasattr(module, "read"):
        pytest.skip("incident.ingest.alerts.read is not in this checkout yet")
    raw = json.loads(path.read_text(encoding="utf-8"))
    bundle: Bundle = module.read(raw, payload)
    t = triage(bundle.alerts, bundle.notices, now_ns=NOW)
    assert t.groups or t.notices, "a real payload produced neither alerts nor a notice"
    for g in t.groups:
        assert g.actions
    _check_all_formats(t, sorted({a.name for a in bundle.alerts}))
