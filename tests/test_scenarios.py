"""Generated incidents: for every kind of fault the injected cause ranks first, named the way
an on-call engineer would name it, with the right kind, category and origin."""

from __future__ import annotations

from datetime import datetime

import pytest
from synth import SCENARIOS, Scenario, generate

from incident.analysis import diagnose
from incident.report import Report, RootCause


def _assert_top_is_truth(sc: Scenario, report: Report) -> RootCause:
    truth = sc.truth
    assert report.root_causes, "no root cause at all"
    top = report.root_causes[0]
    ranked = [(c.service, c.kind, round(c.score, 2)) for c in report.root_causes[:3]]
    assert top.service == truth.service, f"{sc.name}: expected {truth.service}, got {ranked}"
    assert top.kind == truth.kind, f"{sc.name}: kind {top.kind} != {truth.kind}"
    assert top.category == truth.category, f"{sc.name}: {top.category} != {truth.category}"
    assert top.origin == truth.origin, f"{sc.name}: {top.origin} != {truth.origin}"
    if truth.instance:
        assert top.instance == truth.instance
    if truth.version:
        assert top.version == truth.version
    return top


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_true_cause_ranks_first_against_a_baseline_file(scenario: str, seed: int) -> None:
    """With a separate fault-free export, each injected fault is the top root cause."""
    sc = generate(scenario, seed=seed, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    assert report.window.baseline == "file"
    _assert_top_is_truth(sc, report)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_true_cause_ranks_first_from_the_calm_part_of_one_export(scenario: str) -> None:
    """Without a baseline file, the pre-incident part of the export serves as baseline."""
    sc = generate(scenario, seed=21, traces=400)
    report = diagnose(sc.bundle())
    assert report.window.baseline == "in-file"
    _assert_top_is_truth(sc, report)
    # The change point lands near the injected onset (within a tenth of the export).
    found = report.window.incident_start
    assert found is not None
    found_ns = datetime.fromisoformat(found.replace("Z", "+00:00")).timestamp() * 1e9
    assert abs(found_ns - sc.truth.onset_ns) < 120e9


@pytest.mark.parametrize("scenario", ["error-burst", "network-delay", "slow-db", "bad-pod"])
def test_background_error_source_is_not_blamed(scenario: str) -> None:
    """Errors failing at the same rate before the incident never make the top cause."""
    sc = generate(scenario, seed=5, traces=400)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    assert sc.truth.background
    assert report.root_causes[0].service != sc.truth.background
    assert any(f.service == sc.truth.background for f in report.failures), (
        "the background errors are still listed as failures, only not blamed"
    )


def test_absorbed_failure_is_not_user_facing() -> None:
    """A dependency failing behind a fallback is partial and its failures are absorbed."""
    sc = generate("fallback", seed=3, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    top = _assert_top_is_truth(sc, report)
    assert top.category == "partial"
    row = next(f for f in report.failures if f.service == sc.truth.service)
    assert row.user_facing is False


def test_client_errors_are_the_users_mistake() -> None:
    """A surge of 4xx names the validating service with origin user, never infrastructure."""
    sc = generate("client-4xx", seed=8, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    top = _assert_top_is_truth(sc, report)
    assert top.origin == "user" and top.kind == "client-input"
    assert any("client" in a.action for a in report.actions)


def test_uninstrumented_peer_is_named_by_its_address() -> None:
    """A dependency that emits no spans is named from the client spans' peer attributes."""
    sc = generate("uninstrumented-dep", seed=4, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    assert sc.truth.service not in {s.service for s in sc.spans}
    top = _assert_top_is_truth(sc, report)
    assert top.component and "external" in top.component


def test_deploy_names_the_version_and_suggests_rollback() -> None:
    """Errors only on the new service.version: kind deploy, the version named, roll back."""
    sc = generate("bad-deploy", seed=9, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    top = _assert_top_is_truth(sc, report)
    assert any("Roll back" in a.action and (top.version or "") in a.action for a in report.actions)
    assert any(e.source == "deploy" for e in report.timeline)


def test_generator_is_deterministic_per_seed_and_varies_across_seeds() -> None:
    """The same seed gives the same incident; other seeds give other names and shapes."""
    a = generate("slow-db", seed=1, traces=50)
    b = generate("slow-db", seed=1, traces=50)
    assert [(s.trace_id, s.span_id, s.start_ns) for s in a.spans] == [
        (s.trace_id, s.span_id, s.start_ns) for s in b.spans
    ]
    names = {frozenset(generate("slow-db", seed=k, traces=20).topology.nodes) for k in range(6)}
    assert len(names) >= 5


def test_generator_mixes_protocols_and_attribute_generations() -> None:
    """Across seeds, spans carry gRPC and HTTP semconv, and old and new attribute names."""
    keys: set[str] = set()
    for seed in range(6):
        for s in generate("error-burst", seed=seed, traces=30).spans:
            keys.update(s.attributes)
    assert {
        "rpc.grpc.status_code",
        "http.status_code",
        "http.response.status_code",
        "db.system",
        "db.system.name",
    } <= keys


def test_unknown_scenario_is_refused() -> None:
    """Asking for a scenario that does not exist fails loudly with the known names."""
    with pytest.raises(ValueError, match="slow-db"):
        generate("no-such-fault", seed=1)
