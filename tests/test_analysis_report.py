"""Every section of the report is filled consistently from one generated incident."""

from __future__ import annotations

import json
import re

import pytest
from synth import Scenario, generate

from incident.analysis import diagnose
from incident.model import LogRecord
from incident.report import Report

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, Report]:
    sc = generate("error-burst", seed=3, traces=400)
    return sc, diagnose(sc.bundle(), sc.baseline_bundle())


def test_evidence_ids_are_sequential_and_every_citation_resolves(
    case: tuple[Scenario, Report],
) -> None:
    """E1..En in order; root causes and timeline events cite only ids that exist."""
    _, rep = case
    ids = [e.id for e in rep.evidence]
    assert ids == [f"E{k}" for k in range(1, len(ids) + 1)]
    cited = {e for c in rep.root_causes for e in c.evidence}
    cited |= {e for t in rep.timeline for e in t.evidence}
    assert cited and cited <= set(ids)
    spans = [e for e in rep.evidence if e.kind == "span"]
    assert spans and all("/" in e.ref for e in spans)


def test_span_evidence_points_at_real_spans(case: tuple[Scenario, Report]) -> None:
    """A span reference is trace_id/span_id of a span in the input."""
    sc, rep = case
    known = {f"{s.trace_id}/{s.span_id}" for s in sc.spans}
    assert all(e.ref in known for e in rep.evidence if e.kind == "span")


def test_entrypoints_have_percentiles_before_and_during(case: tuple[Scenario, Report]) -> None:
    """Entry points carry p50/p95/p99 in both windows, ordered p50 <= p95 <= p99."""
    _, rep = case
    assert rep.impact.entrypoints
    for ep in rep.impact.entrypoints:
        assert 0 < ep.p50_ms <= ep.p95_ms <= ep.p99_ms
        assert 0 < ep.baseline_p50_ms <= ep.baseline_p95_ms <= ep.baseline_p99_ms
    assert rep.impact.traces_failed > 0 and rep.impact.user_facing


def test_blast_radius_counts_users_and_walks_callers(case: tuple[Scenario, Report]) -> None:
    """The cause comes first, its callers after it; users are counted, never listed."""
    sc, rep = case
    br = rep.blast_radius
    assert br.services[0] == sc.truth.service
    assert sc.topology.entry in br.services
    assert isinstance(br.users_affected, int) and br.users_affected > 0
    assert 0 < br.share_of_requests <= 1
    assert "u-" not in rep.to_json().split('"blast_radius"')[1].split("}")[0]


def test_times_are_utc_iso_with_z_and_timeline_is_sorted(case: tuple[Scenario, Report]) -> None:
    """Window and timeline use ISO 8601 UTC strings ending in Z, in time order."""
    _, rep = case
    w = rep.window
    for value in (w.start, w.end, w.incident_start, w.baseline_start):
        assert value and ISO.match(value)
    times = [t.time for t in rep.timeline]
    assert times == sorted(times) and all(ISO.match(t) for t in times)
    assert {t.source for t in rep.timeline} >= {"alert", "trace"}


def test_critical_paths_and_failures(case: tuple[Scenario, Report]) -> None:
    """A slow, a failed and a baseline path are given; failures carry the taxonomy."""
    sc, rep = case
    labels = [p.label for p in rep.critical_paths]
    assert labels[0] == "slow" and "failed" in labels and "baseline" in labels
    for p in rep.critical_paths:
        assert p.steps[0].depth == 0 and p.steps[0].start_ms == 0
        assert all(s.self_ms <= s.duration_ms + 1e-6 for s in p.steps)
    top = next(f for f in rep.failures if f.service == sc.truth.service)
    assert top.count > top.baseline_count
    assert top.category == sc.truth.category


def test_alert_roles_actions_and_json(case: tuple[Scenario, Report]) -> None:
    """The entry-point alert is a symptom; actions exist; the report is valid JSON."""
    sc, rep = case
    roles = {a.name: a.role for a in rep.alerts}
    assert roles["HighErrorRate"] == "symptom"
    assert rep.actions and all(a.action for a in rep.actions)
    data = json.loads(rep.to_json())
    assert data["schema"] == "incident.report/1"
    assert data["data_quality"]["spans"] == len(sc.spans)


def test_latency_inflation_shares_are_fractions() -> None:
    """Each hop's share of the added entry-point latency is in [0, 1]; the culprit's edge
    or operation leads the table for a slow database."""
    sc = generate("slow-db", seed=2, traces=300)
    rep = diagnose(sc.bundle(), sc.baseline_bundle())
    rows = rep.latency_inflation
    assert rows and all(0 <= r.share <= 1 for r in rows)
    assert rows[0].service == sc.truth.service and rows[0].share > 0.5
    assert rows[0].added_ms == pytest.approx(rows[0].incident_ms - rows[0].baseline_ms, abs=0.01)


def test_new_log_templates_are_flagged() -> None:
    """A message that appears only during the incident is flagged new, with evidence."""
    sc = generate("pool-wait", seed=2, traces=300)
    rep = diagnose(sc.bundle(), sc.baseline_bundle())
    pool = [t for t in rep.log_templates if "HikariPool" in t.template]
    assert pool and pool[0].new and pool[0].count == 40 and pool[0].evidence
    assert "<*>" in pool[0].template


def test_root_cause_cites_its_new_error_logs() -> None:
    """The new log template from the culprit service is among the cause's evidence."""
    sc = generate("pool-wait", seed=2, traces=300)
    rep = diagnose(sc.bundle(), sc.baseline_bundle())
    pool = next(t for t in rep.log_templates if "HikariPool" in t.template)
    assert pool.evidence in rep.root_causes[0].evidence


def test_logs_without_service_take_it_from_their_span_and_name_users() -> None:
    """A log line carrying only a span id is attributed to that span's service, and user
    ids in log fields of affected requests are counted."""
    sc = generate("error-burst", seed=4, traces=200)
    bundle = sc.bundle()
    failing = [s for s in sc.spans if s.service == sc.truth.service and s.status == 2]
    bundle.logs = [
        LogRecord(
            s.end_ns,
            "ERROR",
            f"boom {k}",
            trace_id=s.trace_id,
            span_id=s.span_id,
            fields={"customer.id": f"c{k}"},
        )
        for k, s in enumerate(failing[:25])
    ]
    rep = diagnose(bundle, sc.baseline_bundle())
    boom = next(t for t in rep.log_templates if t.template == "boom <*>")
    assert boom.services == [sc.truth.service]
    assert rep.blast_radius.users_affected is not None
    assert rep.blast_radius.users_affected >= 25
