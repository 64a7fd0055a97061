"""The engine does not contradict itself: `triage` and `diagnose` give every alert the same
role, every failing operation has the same category in `root_causes` and `failures`, and the
first actions answer what the top cause says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from realfiles import FIXTURES
from synth import SCENARIOS, generate

from incident.analysis import diagnose
from incident.analysis.triage import triage
from incident.ingest import load
from incident.model import Alert, Bundle
from incident.report import Report

ALERT_FILES = sorted(p for p in (FIXTURES / "alerts").rglob("*.json") if "README" not in p.name)


def _roles_agree(alerts: list[Alert], report: Report) -> None:
    by_triage = {
        (g.name, g.service): g.role for g in triage(alerts, report=report, now_ns=0).groups
    }
    assert by_triage
    for row in report.alerts:
        key = (row.name, next((a.service for a in alerts if a.name == row.name), None))
        if key in by_triage:
            assert row.role == by_triage[key], (row.name, row.role, by_triage[key])


@pytest.mark.parametrize("path", ALERT_FILES, ids=lambda p: p.name)
def test_triage_and_diagnose_agree_on_every_real_alert(path: Path) -> None:
    bundle = load([], alerts=[str(path)])
    if not bundle.alerts:  # a PagerDuty ping, say: a notice, no alert to give a role
        assert bundle.notices
        return
    _roles_agree(bundle.alerts, diagnose(bundle))


@pytest.mark.parametrize("kind", SCENARIOS)
def test_triage_and_diagnose_agree_on_synthetic_alerts(kind: str) -> None:
    sc = generate(kind, seed=6, traces=300)
    assert sc.alerts
    _roles_agree(list(sc.alerts), diagnose(sc.bundle()))
    _roles_agree(list(sc.alerts), diagnose(Bundle(alerts=list(sc.alerts))))


@pytest.mark.parametrize("kind", SCENARIOS)
@pytest.mark.parametrize("seed", [1, 7])
def test_a_failure_has_one_category_everywhere(kind: str, seed: int) -> None:
    """In a retry storm the cause table and the failures table once disagreed
    (transient vs partial) about the same failures."""
    sc = generate(kind, seed=seed, traces=300)
    for report in (diagnose(sc.bundle()), diagnose(sc.bundle(), sc.baseline_bundle())):
        failures = {(f.service, f.operation): f.category for f in report.failures}
        for rc in report.root_causes:
            if rc.kind == "error" and (rc.service, rc.operation) in failures:
                assert rc.category == failures[(rc.service, rc.operation)], (
                    rc.service,
                    rc.operation,
                )


@pytest.mark.parametrize("kind", SCENARIOS)
def test_a_failure_rose_exactly_when_the_ranking_found_it_new(kind: str) -> None:
    """`Failure.rose` is the ranking's own test: the error cause a report heads with rose;
    with nothing compared nothing can have risen; and every failure comes with its sample
    sizes (no more failures than calls)."""
    sc = generate(kind, seed=2, traces=300)
    against = diagnose(sc.bundle(), sc.baseline_bundle())
    by_key = {(f.service, f.operation): f for f in against.failures}
    top = against.root_causes[0] if against.root_causes else None
    if top is not None and top.kind == "error" and (top.service, top.operation) in by_key:
        assert by_key[(top.service, top.operation)].rose
    for f in against.failures:
        assert 0 < f.count <= f.calls
        assert f.baseline_count <= f.baseline_calls
    calm = diagnose(sc.baseline_bundle())  # one calm export: no change point, no comparison
    assert calm.window.baseline == "none"
    for f in calm.failures:
        assert not f.rose and f.baseline_calls == 0


def test_errors_listed_as_already_before_did_not_rise() -> None:
    """The sample's orders errors: 1 of 217 calls in the calm part, 8 of 367 after; the
    two-proportion test finds no significant rise, and the draft shows both rates."""
    from incident.render.markdown import render_markdown

    sample = Path(__file__).resolve().parents[1] / "samples" / "checkout-db-latency"
    report = diagnose(load([str(sample)]))
    orders = next(f for f in report.failures if f.service == "orders")
    assert (orders.count, orders.calls, orders.baseline_count, orders.baseline_calls) == (
        8, 367, 1, 217,
    )  # fmt: skip
    assert not orders.rose
    text = render_markdown(report)
    assert "8 of 367 calls failed (2.2%) during the incident, 1 of 217 calls failed" in text


def _actions_follow_the_cause(report: Report) -> None:
    """The first actions answer what the top cause's summary says, never another reading:
    contention -> its CPU; waits before database calls -> the connection pool; slow on its
    own side of every call -> its own pods, not one callee's path."""
    if not report.root_causes or not report.actions:
        return
    top = report.root_causes[0]
    actions = [a.action for a in report.actions]
    if "contention for CPU" in top.summary:
        assert any(a.startswith("Check CPU throttling") and top.service in a for a in actions)
    if "database connection" in top.summary or "before its database calls" in top.summary:
        assert any("connection pool" in a for a in actions), actions
    else:
        assert not any("connection pool" in a and top.service in a for a in actions), actions
    if "slow on its own side of every call" in top.summary:
        assert not any(f"network path from {top.service} to" in a for a in actions), actions


@pytest.mark.parametrize("kind", SCENARIOS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_actions_follow_the_cause(kind: str, seed: int) -> None:
    """A pooled-only starved service was once sent to raise its connection pool, and a caller
    slow on every call to one callee's network path."""
    sc = generate(kind, seed=seed, traces=300)
    for report in (diagnose(sc.bundle()), diagnose(sc.bundle(), sc.baseline_bundle())):
        _actions_follow_the_cause(report)


@pytest.mark.parametrize("kind", SCENARIOS)
def test_a_successful_span_is_never_shown_as_its_failure(kind: str) -> None:
    """A slow example span that did not fail is 'slow', not its status: a slow external API
    once read 'POST sms.gateway.example: HTTP 200 (1307 ms)' as if 200 were the fault."""
    sc = generate(kind, seed=1, traces=300)
    for report in (diagnose(sc.bundle()), diagnose(sc.bundle(), sc.baseline_bundle())):
        for e in report.evidence:
            if e.kind == "span":
                assert not re.search(r": (HTTP [23]\d\d|grpc status 0) \(", e.text), e.text
