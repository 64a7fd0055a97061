"""Latency claims in the ranking are honest: the same added time is charged to one candidate
only (retry backoff belongs to the failing callee, not to the caller that waited), shares of
distinct candidates never add up past the whole, and a hop that barely grew is not called a
cause that "got slower"."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth import Scenario, generate

from incident.analysis import diagnose
from incident.analysis.candidate import Candidate
from incident.analysis.config import AnalysisConfig
from incident.analysis.evidence import MIN_LATENCY_GROWTH, MIN_LATENCY_SHARE
from incident.analysis.rank import rank
from incident.analysis.signals import collect
from incident.analysis.trees import build
from incident.ingest import load
from incident.model import Bundle, Span, SpanKind, StatusCode

MS = 1_000_000
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "checkout-db-latency"


def _request(k: int, *, retried: bool) -> list[Span]:
    """web GET / calls pay once; when `retried`, the first call fails with a 503, web waits
    100 ms (backoff) and calls again, which succeeds."""
    tid = f"{k:032x}"
    t0 = k * 1000 * MS
    root = f"{k:08x}0001"
    attempts = [(False, t0 + 2 * MS)]
    if retried:
        attempts = [(True, t0 + 2 * MS), (False, t0 + 109 * MS)]
    spans: list[Span] = []
    end = t0
    for n, (fail, start) in enumerate(attempts):
        client, server = f"{k:08x}1{n:03x}", f"{k:08x}2{n:03x}"
        code = 503 if fail else 200
        status = StatusCode.ERROR if fail else StatusCode.UNSET
        spans.append(
            Span(
                tid,
                client,
                root,
                "web",
                "POST pay",
                kind=SpanKind.CLIENT,
                start_ns=start,
                end_ns=start + 7 * MS,
                status=status,
                attributes={"http.status_code": code},
            )
        )
        spans.append(
            Span(
                tid,
                server,
                client,
                "pay",
                "POST /charge",
                kind=SpanKind.SERVER,
                start_ns=start + 1 * MS,
                end_ns=start + 6 * MS,
                status=status,
                attributes={"http.status_code": code},
                status_message="503 Service Unavailable" if fail else "",
            )
        )
        end = start + 7 * MS
    spans.insert(
        0,
        Span(
            tid,
            root,
            None,
            "web",
            "GET /",
            kind=SpanKind.SERVER,
            start_ns=t0,
            end_ns=end + 1 * MS,
            attributes={"http.status_code": 200},
        ),
    )
    return spans


def _ranked(spans: list[Span], base_spans: list[Span]) -> list[Candidate]:
    config = AnalysisConfig()
    inc_t, base_t = build(spans), build(base_spans)
    inc = collect(inc_t, list(range(len(inc_t.members))), config.max_path_traces)
    base = collect(base_t, list(range(len(base_t.members))), config.max_path_traces)
    return rank(inc, base, config)[0]


def test_retry_backoff_is_charged_to_the_failing_callee_not_the_caller() -> None:
    """Half the requests retry a failed call after 100 ms of backoff: those ~50 ms per request
    are pay's (whose failures caused them), and web, whose own work did not change, is neither
    charged with them nor listed as a cause that got slower."""
    spans = [s for k in range(200) for s in _request(k, retried=k % 2 == 0)]
    base_spans = [s for k in range(200) for s in _request(k, retried=False)]
    report = diagnose(load_spans(spans), load_spans(base_spans))
    assert report.root_causes[0].service == "pay"
    assert not any(
        rc.service == "web" and "got slower" in rc.summary for rc in report.root_causes
    ), [rc.summary for rc in report.root_causes]

    cands = {c.component: c for c in _ranked(spans, base_spans)}
    assert cands["pay"].lat_retry == pytest.approx(50.0, rel=0.05)
    assert cands["web"].lat_self < 1.0
    assert sum(c.lat_share for c in cands.values()) <= 1.0 + 1e-9


def load_spans(spans: list[Span]) -> Bundle:
    """A bundle of hand-built spans, as a reader would hand them over."""
    b = Bundle(spans=list(spans))
    b.quality.spans = len(spans)
    return b


@pytest.mark.parametrize("seed", [0, 11])
def test_retry_storm_shares_do_not_count_the_same_time_twice(seed: int) -> None:
    """In a generated retry storm the retried service ranks first, the shares of all
    candidates add up to at most the whole added latency, and no caller of the flaky service
    claims the retry time as its own slowdown."""
    sc = generate("retry-storm", seed=seed, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    assert report.root_causes[0].service == sc.truth.service
    callers = {a for a, b in _graph(sc) if b == sc.truth.service}
    assert not any(
        rc.service in callers and "got slower" in rc.summary for rc in report.root_causes[1:]
    ), [rc.summary for rc in report.root_causes]

    config = AnalysisConfig()
    inc_t, base_t = build(sc.bundle().spans), build(sc.baseline_bundle().spans)
    inc = collect(inc_t, list(range(len(inc_t.members))), config.max_path_traces)
    base = collect(base_t, list(range(len(base_t.members))), config.max_path_traces)
    ordered, _ = rank(inc, base, config)
    assert sum(c.lat_share for c in ordered) <= 1.0 + 1e-9
    top = ordered[0]
    assert top.component == sc.truth.service and top.lat_retry > 0


def _graph(sc: Scenario) -> set[tuple[str, str]]:
    t = build(sc.bundle().spans)
    return {
        (t.service[t.parent[i]], t.service[i])
        for i in range(t.n)
        if t.parent[i] >= 0 and t.service[t.parent[i]] != t.service[i]
    }


def test_a_hop_that_barely_grew_is_not_a_contributing_cause() -> None:
    """In the shipped sample, shipping-db explains the slowdown; maps.partner.example went
    from about 89 to 98 ms (+10%, 2% of the added time) and is not listed as a cause."""
    report = diagnose(load([str(SAMPLE)]))
    names = [rc.service for rc in report.root_causes]
    assert names[0] == "shipping-db"
    assert "maps.partner.example" not in names


@pytest.mark.parametrize(
    ("share", "before", "after", "holds"),
    [
        (0.02, 89.0, 98.0, False),  # small share, small rise: jitter
        (0.20, 1000.0, 1100.0, False),  # a fifth of the added time, the hop rose only 10%
        (0.60, 1000.0, 1100.0, True),  # a big hop's 10% rise that is most of the incident
        (0.03, 10.0, 40.0, False),  # quadrupled, but too small a part of the added time
        (MIN_LATENCY_SHARE, 100.0, 100.0 * (1 + MIN_LATENCY_GROWTH), True),  # at both minimums
        (0.40, 0.0, 30.0, True),  # a hop that did not exist before
    ],
)
def test_latency_claim_needs_share_and_growth(
    share: float, before: float, after: float, holds: bool
) -> None:
    """ "Got slower" needs a real share of the added latency and a real rise of the hop
    (or a share so large that a small rise of a big hop is the incident), with enough spans
    behind it; below those thresholds the claim is not made."""
    c = Candidate(
        "svc",
        lat_self=after - before,
        lat_before=before,
        lat_share=share,
        compared=True,
        lat_samples=50,
    )
    assert c.latency_claim_holds is holds
    c.lat_samples = 2
    assert c.latency_claim_holds is False
