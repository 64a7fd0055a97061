"""Alert triage: grouping, severity, duration, symptom vs cause, first actions, likely cause."""

from __future__ import annotations

import json
from typing import Any

import pytest

from incident.analysis.classify import alert_role, severity_rank
from incident.analysis.triage import triage
from incident.model import Alert
from incident.render.triage import render_triage
from incident.report import Report, RootCause, Verdict

NS = 1_000_000_000
T0 = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z


def _alert(name: str, **kw: Any) -> Alert:
    kw.setdefault("source", "alertmanager")
    kw.setdefault("status", "firing")
    return Alert(name=name, **kw)


def test_groups_by_name_and_service_with_max_severity_and_count() -> None:
    """Alerts sharing name and service form one group; the worst severity names the group."""
    alerts = [
        _alert("HighLatency", service="api", severity="warning", starts_ns=T0),
        _alert("HighLatency", service="api", severity="critical", starts_ns=T0 + 60 * NS),
        _alert("HighLatency", service="web", severity="info", starts_ns=T0),
    ]
    t = triage(alerts, now_ns=T0 + 600 * NS)
    by_key = {(g.name, g.service): g for g in t.groups}
    api = by_key[("HighLatency", "api")]
    assert api.count == 2
    assert api.severity == "critical"
    assert api.started_at == "2026-01-01T00:00:00.000Z"
    assert by_key[("HighLatency", "web")].count == 1
    assert t.firing == 3


def test_firing_duration_runs_to_now_and_resolved_to_end() -> None:
    """A firing group lasts until `now` (ignoring Alertmanager's provisional endsAt); a
    resolved one until its end."""
    alerts = [
        _alert("A", starts_ns=T0, ends_ns=T0 + 5 * 3600 * NS),
        _alert("B", status="resolved", starts_ns=T0, ends_ns=T0 + 90 * NS),
    ]
    t = triage(alerts, now_ns=T0 + 300 * NS)
    by_name = {g.name: g for g in t.groups}
    assert by_name["A"].firing_for_s == 300
    assert by_name["B"].firing_for_s == 90
    assert by_name["B"].status == "resolved"
    assert by_name["B"].ended_at == "2026-01-01T00:01:30.000Z"


def test_without_now_firing_duration_is_unknown() -> None:
    """Without `now` the result does not depend on the clock: firing durations stay None."""
    t = triage([_alert("A", starts_ns=T0)])
    assert t.groups[0].firing_for_s is None
    assert t.now is None


def test_updates_to_one_alert_keep_the_last_state() -> None:
    """Trigger, acknowledge and resolve of one dedup key count as one alert, now resolved."""
    alerts = [
        _alert("DiskFull", fingerprint="k1", starts_ns=T0),
        _alert("DiskFull", fingerprint="k1", status="acknowledged"),
        _alert("DiskFull", fingerprint="k1", status="resolved", ends_ns=T0 + 60 * NS),
        _alert("DiskFull", fingerprint="k2", starts_ns=T0),
    ]
    (group,) = triage(alerts, now_ns=T0 + 120 * NS).groups
    assert group.count == 2
    assert (group.firing, group.resolved) == (1, 1)
    assert group.status == "firing"


def test_same_input_same_document() -> None:
    """Triage is deterministic: same alerts and now give the same JSON bytes."""
    alerts = [_alert("X", severity="warning", starts_ns=T0), _alert("Y", starts_ns=T0)]
    assert triage(alerts, now_ns=T0).to_json() == triage(list(alerts), now_ns=T0).to_json()


@pytest.mark.parametrize(
    ("name", "labels", "role"),
    [
        ("HighRequestLatency", {}, "symptom"),
        ("APIErrorRateHigh", {}, "symptom"),
        ("SLOBurnRateFast", {}, "symptom"),
        ("ProbeFailure", {"job": "blackbox"}, "symptom"),
        ("HTTP5xxRatio", {}, "symptom"),
        ("KubePodCrashLooping", {}, "cause"),
        ("KubeDeploymentReplicasMismatch", {}, "cause"),
        ("NodeHighCPU", {}, "cause"),
        ("High memory usage", {}, "cause"),
        ("PostgresTooManyConnections", {}, "cause"),
        ("KafkaConsumerLag", {}, "cause"),
        ("DiskAlmostFull", {}, "cause"),
        # An internal component's own slowness or errors: users feel them elsewhere.
        ("PostgresSlowQueries", {}, "cause"),
        ("RedisLatencyHigh", {}, "cause"),
        ("DatabaseErrorRateHigh", {}, "cause"),
        ("Watchdog", {}, "heartbeat"),
        ("DeadMansSwitch", {}, "heartbeat"),
        ("EXAMPLE", {"MetricName": "NetworkOut"}, "cause"),
        ("Something odd", {}, "unknown"),
    ],
)
def test_symptom_or_cause(name: str, labels: dict[str, str], role: str) -> None:
    """Names and labels decide whether users feel an alert or it is internal state."""
    assert alert_role(_alert(name, labels=labels))[0] == role


def test_sentry_alerts_are_symptoms() -> None:
    """An application error reported by Sentry is something users hit."""
    sentry = _alert("ReferenceError: heck is not defined", source="sentry")
    assert alert_role(sentry)[0] == "symptom"


def _actions(alert: Alert) -> list[str]:
    return [a.action for a in triage([alert]).groups[0].actions]


def _commands(alert: Alert) -> list[str]:
    return [a.command for a in triage([alert]).groups[0].actions if a.command]


def test_crashloop_suggests_previous_logs_for_the_pod_and_deploys() -> None:
    """CrashLooping names the pod in `kubectl logs --previous` and points at recent deploys."""
    alert = _alert(
        "KubePodCrashLooping",
        labels={"namespace": "default", "pod": "pay-7c9f", "container": "worker"},
    )
    actions = _actions(alert)
    assert "kubectl logs -n default pay-7c9f -c worker --previous" in _commands(alert)
    assert any("deploy" in a.lower() for a in actions)


def test_replicas_mismatch_suggests_rollout_and_scheduling() -> None:
    """ReplicasMismatch points at the rollout status and scheduling events."""
    alert = _alert(
        "KubeDeploymentReplicasMismatch",
        labels={"namespace": "shop", "deployment": "cart"},
    )
    commands = _commands(alert)
    assert "kubectl rollout status -n shop deployment/cart" in commands
    assert any("get events" in c for c in commands)


def test_cpu_and_db_rules() -> None:
    """High CPU points at traffic and deploys; DB connections at the pool and slow queries."""
    assert any("traffic" in a for a in _actions(_alert("HostHighCpuLoad")))
    assert any("pool" in a for a in _actions(_alert("MySQLTooManyConnections")))


def test_watchdog_is_not_an_incident() -> None:
    """Watchdog is a heartbeat: no action beyond saying so, and it does not count as firing."""
    t = triage([_alert("Watchdog", severity="none"), _alert("HighLatency", severity="warning")])
    watchdog = next(g for g in t.groups if g.name == "Watchdog")
    assert watchdog.role == "heartbeat"
    assert "heartbeat" in watchdog.actions[0].action
    assert t.firing == 1
    assert t.groups[-1].name == "Watchdog"  # heartbeats sort last


def test_only_heartbeat_headline_says_nothing_is_wrong() -> None:
    """A payload holding only Watchdog does not read as an incident."""
    t = triage([_alert("Watchdog")])
    assert "only heartbeats" in t.headline.lower()
    assert t.firing == 0


def test_acknowledged_alerts_stay_open_and_are_said() -> None:
    """Someone is on an acknowledged alert but nothing is fixed: it counts as firing, and the
    headline says how many of those are acknowledged."""
    t = triage([_alert("DiskFull", status="acknowledged"), _alert("HighLatency")])
    assert t.firing == 2
    assert t.headline.startswith("2 firing in 2 groups, 1 of them acknowledged")
    assert "acknowledged" not in triage([_alert("HighLatency")]).headline


def test_runbook_comes_first_with_its_url() -> None:
    """A runbook link from the alert becomes the first action and keeps its URL."""
    alert = _alert(
        "KubePodCrashLooping",
        annotations={"runbook_url": "https://runbooks.example/crash"},
    )
    first = triage([alert]).groups[0].actions[0]
    assert first.source == "runbook"
    assert first.url == "https://runbooks.example/crash"


def test_firing_symptoms_sort_before_causes_and_resolved_last() -> None:
    """Order: firing symptoms, firing causes, then resolved, worst severity first within."""
    alerts = [
        _alert("DiskFull", severity="critical"),
        _alert("OldLatency", status="resolved", severity="critical"),
        _alert("CheckoutLatency", severity="warning"),
    ]
    names = [g.name for g in triage(alerts).groups]
    assert names == ["CheckoutLatency", "DiskFull", "OldLatency"]


def test_report_points_at_likely_cause() -> None:
    """With a diagnosis, the top root cause is attached, and alerts on it are flagged."""
    report = Report(
        verdict=Verdict(status="incident", confidence=0.8, reason="orders-db stands out"),
        root_causes=[
            RootCause(
                service="orders-db",
                kind="saturation",
                category="transient",
                origin="infrastructure",
                score=0.9,
                summary="pool exhausted",
                evidence=["E1"],
            )
        ],
    )
    alerts = [
        _alert("PostgresTooManyConnections", service="orders-db"),
        _alert("CheckoutLatency", service="frontend"),
    ]
    t = triage(alerts, report=report)
    assert t.likely_cause is not None and t.likely_cause.service == "orders-db"
    flagged = {g.name for g in t.groups if g.matches_likely_cause}
    assert flagged == {"PostgresTooManyConnections"}
    assert all(g.actions[0].source == "report" for g in t.groups)
    # No headline culprit without an incident verdict: the same causes, inconclusive.
    undecided = report.model_copy(update={"verdict": Verdict(status="inconclusive")})
    assert triage(alerts, report=undecided).likely_cause is None


def test_notices_are_kept() -> None:
    """Payloads that are not incidents (notices) are reported, not dropped."""
    t = triage([], notices=["pagerduty service.updated: not an incident"])
    assert t.notices == ["pagerduty service.updated: not an incident"]
    assert t.headline == "No alerts in the input"


def test_severity_ranks() -> None:
    """Severity words from different tools land on one scale."""
    """The readers' vocabulary is ranked (they map P1, sev1, high ... onto it)."""
    assert severity_rank("critical") > severity_rank("error") > severity_rank("warning")
    assert severity_rank("warning") > severity_rank("info") > -1
    assert severity_rank(None) == severity_rank("bogus") == -1


def test_schema_name() -> None:
    """The JSON document carries its schema name."""
    assert json.loads(triage([]).to_json())["schema"] == "incident.triage/1"


def test_documentation_text_is_not_shown_as_a_link() -> None:
    """A runbook field holding prose (GCP documentation) becomes a note, not a fake URL."""
    first = triage([_alert("VM CPU", runbook="Server High CPU Usage")]).groups[0].actions[0]
    assert first.url is None
    assert first.action == "Read the alert's documentation: Server High CPU Usage"


def test_heartbeat_advice_comes_before_its_runbook() -> None:
    """For Watchdog the first thing said is that it needs no action."""
    alert = _alert("Watchdog", runbook="https://runbooks.example/watchdog")
    actions = triage([alert]).groups[0].actions
    assert actions[0].action.startswith("No action")
    assert actions[1].url == "https://runbooks.example/watchdog"


def test_unmatched_alert_points_at_its_source() -> None:
    """An alert no rule knows still gets a first step, linking its source when there is one."""
    alert = _alert("A little bump in the road", generator_url="https://pd.example/incidents/1")
    (action,) = triage([alert]).groups[0].actions
    assert action.url == "https://pd.example/incidents/1"


def test_an_alert_firing_for_weeks_is_flagged_stale_not_timed() -> None:
    """Past STALE_DAYS a firing alert is more likely forgotten or replayed than news: the
    group says since when, a notice says how long; a resolved one and a recent one do not."""
    day = 86_400 * NS
    alerts = [
        _alert("Old", starts_ns=T0),
        _alert("Recent", starts_ns=T0 + 39 * day),
        _alert("Done", status="resolved", starts_ns=T0, ends_ns=T0 + 35 * day),
    ]
    t = triage(alerts, now_ns=T0 + 40 * day)
    by_name = {g.name: g for g in t.groups}
    assert by_name["Old"].stale and not by_name["Recent"].stale and not by_name["Done"].stale
    assert t.notices == [
        "Old has been firing since 2026-01-01T00:00:00.000Z, 40 days before now: "
        "a forgotten alert, or an old payload replayed?"
    ]
    text = render_triage(t, "text")
    assert "Old, since 2026-01-01T00:00:00.000Z (stale?)" in text
    assert "for 40d" not in text and "Recent, for 1d 0h" in text


def test_no_advice_to_diagnose_traces_that_were_diagnosed() -> None:
    """A latency alert alone is told to run the engine on its traces; given traces whose
    diagnosis names a cause, that advice is moot and the pointer to the cause leads."""
    alert = _alert("CheckoutLatencyHigh", service="frontend")
    alone = [a.action for a in triage([alert]).groups[0].actions]
    assert any(a.startswith("Run `incident diagnose`") for a in alone)
    report = Report(
        verdict=Verdict(status="incident", confidence=0.8, reason="orders-db stands out"),
        root_causes=[
            RootCause(service="orders-db", kind="latency", category="transient",
                      origin="infrastructure", score=0.9, summary="slow queries")
        ],
    )  # fmt: skip
    given = [a.action for a in triage([alert], report=report).groups[0].actions]
    assert given[0].startswith("Look at orders-db first")
    assert not any(a.startswith("Run `incident diagnose`") for a in given)
