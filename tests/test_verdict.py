"""The verdict: a system at rest is "no-incident" with no culprit, a real fault is an
"incident", and evidence that cannot decide is "inconclusive" with the candidates named."""

from __future__ import annotations

from pathlib import Path

import pytest
from realfiles import FIXTURES
from synth import SCENARIOS, generate

from incident.analysis import diagnose
from incident.analysis.candidate import Candidate
from incident.analysis.signals import WindowStats
from incident.analysis.trees import build
from incident.analysis.verdict import (
    BEHAVIOUR_CONFIDENCE,
    WEAK_SCORE,
    confidence,
    decide,
    held_score,
    holds,
)
from incident.ingest import load
from incident.model import Bundle, Span

NEZHA = FIXTURES / "nezha"
CALM = {
    "online-boutique": NEZHA / "construct_data/2022-08-23/trace/17_00_trace.csv.gz",
    "train-ticket-a": NEZHA / "construct_data/2023-01-30/trace/11_39_trace.csv.gz",
    "train-ticket-b": NEZHA / "construct_data/2023-01-29/trace/08_50_trace.csv.gz",
}


def _halves(bundle: Bundle) -> tuple[Bundle, Bundle]:
    """The earlier and the later half of an export, by trace start."""
    first: dict[str, int] = {}
    for s in bundle.spans:
        first[s.trace_id] = min(first.get(s.trace_id, s.start_ns), s.start_ns)
    cut = sorted(first.values())[len(first) // 2]
    early = Bundle(spans=[s for s in bundle.spans if first[s.trace_id] < cut])
    late = Bundle(spans=[s for s in bundle.spans if first[s.trace_id] >= cut])
    return early, late


@pytest.mark.parametrize("kind", SCENARIOS)
def test_a_healthy_synthetic_export_with_background_errors_is_no_incident(kind: str) -> None:
    """The fault-free export of every scenario (it carries a steady background error
    source), alone and its later half against its earlier half."""
    sc = generate(kind, seed=3, traces=300)
    alone = diagnose(sc.baseline_bundle())
    assert alone.verdict.status == "no-incident", alone.verdict
    assert alone.root_causes == []
    early, late = _halves(sc.baseline_bundle())
    against = diagnose(late, early)
    assert against.verdict.status == "no-incident", against.verdict
    assert against.root_causes == []


@pytest.mark.parametrize("name", sorted(CALM))
def test_a_fault_free_real_minute_alone_is_no_incident(name: str) -> None:
    report = diagnose(load([str(CALM[name])]))
    assert report.verdict.status == "no-incident", report.verdict
    assert report.root_causes == [] and report.verdict.reason


@pytest.mark.parametrize(("now", "before"), [("train-ticket-a", "train-ticket-b")])
def test_fault_free_real_minutes_against_each_other_are_no_incident(now: str, before: str) -> None:
    """Two calm minutes of different days differ a little (a few requests take another
    branch, one hop drifts by a few ms): a system at rest, either way round."""
    for a, b in ((now, before), (before, now)):
        report = diagnose(load([str(CALM[a])]), load([str(CALM[b])]))
        assert report.verdict.status == "no-incident", (a, b, report.verdict)
        assert report.root_causes == []


def test_only_the_claims_that_hold_make_a_cause_worth_a_headline() -> None:
    """A score earned mostly by a structural change too small to claim, beside a slowdown
    that holds but weighs almost nothing, is no cause to stand on."""
    c = _behaviour_led(0.02, lat_holds=True)
    c.struct_new = 1.0  # too few invocations for "what it does changed" to hold
    c.score = 1.0 - (1.0 - c.lat_score) * (1.0 - c.struct_part)
    assert holds(c) and not c.behaviour_claim_holds and c.score >= WEAK_SCORE
    assert held_score(c) == pytest.approx(0.02) and held_score(c) < WEAK_SCORE
    # Forty requests alike in both windows: the entry points did not move.
    spans = [Span(f"{k:032x}", f"{k:016x}", None, "web", "GET /", 2, k, k + 1_000_000)
             for k in range(40)]  # fmt: skip
    table = build(spans)
    now, before = WindowStats(table, list(range(40))), WindowStats(build(spans), list(range(40)))
    assert decide([c], now, before, fell_back=False, alerts_firing=0).status == "no-incident"
    c.struct_new = 50.0  # now it holds: the structural change is a claim again
    assert held_score(c) == pytest.approx(c.score)
    assert decide([c], now, before, fell_back=False, alerts_firing=0).status == "inconclusive"


@pytest.mark.parametrize("kind", SCENARIOS)
def test_a_synthetic_fault_is_an_incident_naming_the_truth(kind: str) -> None:
    sc = generate(kind, seed=4, traces=300)
    for report in (diagnose(sc.bundle()), diagnose(sc.bundle(), sc.baseline_bundle())):
        assert report.verdict.status == "incident", report.verdict
        assert report.root_causes[0].service == sc.truth.service
        assert 0.0 < report.verdict.confidence <= 0.95


def test_labelled_real_faults_are_incidents() -> None:
    report = diagnose(
        load([str(NEZHA / "rca_data/2022-08-22/trace/05_28_trace.csv.gz")]),
        load([str(CALM["online-boutique"])]),
    )
    assert report.verdict.status == "incident"
    assert report.root_causes[0].service == "currencyservice"


def test_too_few_requests_with_failures_is_inconclusive(tmp_path: Path) -> None:
    """One real trace with failures and nothing to compare with cannot decide."""
    report = diagnose(load([str(FIXTURES / "traces" / "messaging-kafka.json")]))
    assert report.verdict.status == "inconclusive", report.verdict
    assert "too few" in report.verdict.reason and report.verdict.alternatives


def _behaviour_led(lat_score: float, lat_holds: bool) -> Candidate:
    c = Candidate(
        "cart",
        compared=True,
        struct_score=0.8,
        struct_z=6.0,
        struct_new=50.0,
        lat_score=lat_score,
        kind="behaviour",
    )
    if lat_holds:
        c.lat_self, c.lat_before, c.lat_share, c.lat_samples, c.lat_z = 40.0, 10.0, 0.5, 50, 9.0
    c.score = 0.45
    return c


@pytest.mark.parametrize(
    ("lat_score", "lat_holds", "status"),
    [
        (0.0, False, "inconclusive"),  # changed calls alone
        (0.08, True, "inconclusive"),  # a slowdown that weighs less than the changed calls
        (0.45, True, "incident"),  # a slowdown that weighs more than the changed calls
    ],
)
def test_a_weak_claim_resting_mainly_on_changed_calls_names_no_culprit(
    lat_score: float, lat_holds: bool, status: str
) -> None:
    """A changed call pattern can be the data or the request mix: below
    BEHAVIOUR_CONFIDENCE it heads no incident, also when a small slowdown comes with it."""
    top = _behaviour_led(lat_score, lat_holds)
    assert top.behaviour_claim_holds and top.latency_claim_holds is lat_holds
    assert (lat_score > top.struct_part) is (status == "incident")
    runner = Candidate("web", compared=True, score=0.05)
    assert confidence(top, runner) < BEHAVIOUR_CONFIDENCE
    table = build([])
    window = WindowStats(table, traces=list(range(40)))
    verdict = decide([top, runner], window, WindowStats(table, traces=list(range(40))),
                     fell_back=False, alerts_firing=0)  # fmt: skip
    assert verdict.status == status


def _steady(slow_every: int, n: int = 60) -> Bundle:
    """`n` requests alike through the export (web calls db), every `slow_every`-th of them
    taking 1.5 s instead of 120 ms: no change point anywhere."""
    spans: list[Span] = []
    for k in range(n):
        tid, t0 = f"{k + 1:032x}", 1_700_000_000_000_000_000 + k * 2_000_000_000
        took = 1_500_000_000 if k % slow_every == 0 else 120_000_000
        root, call = f"{k + 1:08x}00000001", f"{k + 1:08x}00000002"
        spans += [
            Span(tid, root, None, "web", "GET /", 2, t0, t0 + took),
            Span(tid, call, root, "web", "SELECT", 3, t0, t0 + took - 5_000_000,
                 attributes={"db.system": "postgresql"}),
        ]  # fmt: skip
    return Bundle(spans=spans)


def test_requests_slow_throughout_an_export_with_nothing_to_compare_is_inconclusive() -> None:
    """Most requests over the fixed slow threshold from the first to the last: not a system
    at rest, though nothing changed inside the export; the candidates are named."""
    report = diagnose(_steady(slow_every=1))
    assert report.verdict.status == "inconclusive", report.verdict
    assert "60 of 60 requests took longer than 1,000 ms" in report.verdict.reason
    assert report.verdict.alternatives and report.impact.user_facing


def test_a_few_slow_requests_in_a_steady_export_are_no_incident_and_hurt_no_user() -> None:
    """A slow request in ten throughout: a system at rest, and its report says no incident
    reached users (the impact agrees with the verdict)."""
    report = diagnose(_steady(slow_every=10))
    assert report.verdict.status == "no-incident", report.verdict
    assert report.impact.traces_slow == 6
    assert report.impact.user_facing is False


def test_a_real_minute_slow_throughout_alone_is_inconclusive() -> None:
    """The real minute of a network delay, alone: most requests are slow from its first
    second, so there is no calm part to compare with."""
    report = diagnose(load([str(NEZHA / "rca_data/2022-08-22/trace/05_28_trace.csv.gz")]))
    assert report.verdict.status == "inconclusive", report.verdict
    assert "throughout the export" in report.verdict.reason
    assert report.root_causes


@pytest.mark.parametrize(("kind", "where"), [("bad-deploy", "new version"), ("bad-pod", "peer")])
def test_the_verdict_says_where_a_located_cause_fails(kind: str, where: str) -> None:
    """A bad version or a bad instance: the verdict's reason names it, not only the count."""
    sc = generate(kind, seed=5, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    assert report.verdict.status == "incident"
    located = report.root_causes[0].version or report.root_causes[0].instance
    assert located and located in report.verdict.reason and where in report.verdict.reason
