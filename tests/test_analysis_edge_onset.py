"""A delay on the wire to a service few requests reach: neither side's own work changes, only
the time between the caller's call and the callee's span. Found in one export by the per-edge
change point, which a calm edge whose gaps swing between two levels does not trip."""

from __future__ import annotations

import random

from incident.analysis import diagnose
from incident.analysis.windows import find_edge_change
from incident.model import Bundle, Span, SpanKind

MS = 1_000_000
N = 480
RARE_EVERY = 12


def _request(k: int, rng: random.Random, delay_ms: float) -> list[Span]:
    """gw GET / calls `cart` every time and `mail` one time in RARE_EVERY; a call to `mail`
    spends `delay_ms` on the wire (half each way) besides the work mail does."""
    tid = f"{k + 1:032x}"
    t0 = k * 500 * MS
    sid = iter(f"{k + 1:08x}{j:08x}" for j in range(1, 99))
    root = next(sid)
    spans: list[Span] = []

    def call(svc: str, own_ms: float, wire_ms: float, at: int) -> int:
        client, server = next(sid), next(sid)
        half = int((0.5 + wire_ms / 2) * MS)
        start = at + half
        end = start + int(max(0.3, rng.gauss(own_ms, own_ms / 5)) * MS)
        spans.append(Span(tid, server, client, svc, f"POST /{svc}", SpanKind.SERVER, start, end))
        spans.append(Span(tid, client, root, "gw", f"POST {svc}", SpanKind.CLIENT, at, end + half))
        return end + half

    at = call("cart", 8.0, 0.0, t0 + int(rng.gauss(40, 12) * MS))
    if k % RARE_EVERY == 0:
        at = call("mail", 4.0, delay_ms, at)
    end = at + int(max(1.0, rng.gauss(60, 25)) * MS)
    spans.insert(0, Span(tid, root, None, "gw", "GET /", SpanKind.SERVER, t0, end))
    return spans


def _export(seed: int, delay_ms: float = 0.0, onset: int = 3 * N // 4) -> Bundle:
    rng = random.Random(seed)
    spans: list[Span] = []
    for k in range(N):
        spans.extend(_request(k, rng, delay_ms if k >= onset else 0.0))
    return Bundle(spans=spans)


def test_a_delay_to_a_rarely_called_service_is_found_in_one_export() -> None:
    for seed in range(3):
        report = diagnose(_export(seed, delay_ms=80.0))
        assert report.verdict.status == "incident", report.verdict.reason
        assert report.window.baseline == "in-file"
        first = report.root_causes[0]
        assert (first.service, first.kind) == ("mail", "network")
        # The timeline says what marked the onset, not that the entry points moved.
        onset = [e.event for e in report.timeline if e.event.startswith("First anomaly")]
        assert onset == [
            "First anomaly: calls into mail start taking several times as long between the "
            "caller's call and its own span"
        ]


def test_the_same_export_without_the_delay_is_calm() -> None:
    for seed in range(3):
        assert diagnose(_export(seed)).verdict.status == "no-incident"


Columns = tuple[list[str], list[int], list[int], list[int], list[int]]


def _edge_series(gaps_ms: list[float]) -> Columns:
    """One caller span and one callee span per call, the callee nested with `gap` around it."""
    services: list[str] = []
    parent: list[int] = []
    cross: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for k, gap in enumerate(gaps_ms):
        at = k * 100 * MS
        services += ["a", "b"]
        parent += [-1, 2 * k]
        cross += [0, 1]
        starts += [at, at + int(gap * MS / 2)]
        ends += [at + int((gap + 5) * MS), at + int((gap / 2 + 5) * MS)]
    return services, parent, cross, starts, ends


def test_edge_change_point_finds_a_jump_and_names_the_callee() -> None:
    rng = random.Random(3)
    gaps = [rng.uniform(0.5, 2.0) for _ in range(60)] + [rng.uniform(150, 250) for _ in range(20)]
    found = find_edge_change(*_edge_series(gaps))
    assert found is not None
    assert found.where == "b"
    assert found.start_ns == 60 * 100 * MS


def test_edge_change_point_ignores_gaps_that_swing_between_two_levels() -> None:
    """A calm edge whose gaps are 5 ms or 90 ms at random, a run of 90s at the end: the
    median after is not above the 90th percentile before, so no onset."""
    rng = random.Random(5)
    gaps = [rng.choice((5.0, 90.0)) * rng.uniform(0.9, 1.1) for _ in range(120)]
    gaps += [90.0 * rng.uniform(0.9, 1.1) for _ in range(15)]
    assert find_edge_change(*_edge_series(gaps)) is None
    # A small rise (x2) is not an onset either.
    steady = [rng.uniform(4, 6) for _ in range(60)] + [rng.uniform(8, 12) for _ in range(20)]
    assert find_edge_change(*_edge_series(steady)) is None


def test_the_onset_searches_read_a_sample_of_a_big_export_and_still_find_it() -> None:
    """Past `max_onset_spans` the per-operation, per-service and per-edge searches read the
    spans of an even sample of whole traces; two thirds of this export still shows the onset."""
    from incident.analysis.assess import _onset_sample
    from incident.analysis.config import AnalysisConfig
    from incident.analysis.diagnose import assessed

    for seed in range(3):
        bundle = _export(seed, delay_ms=80.0)
        a, report = assessed(bundle, None, AnalysisConfig(max_onset_spans=1_000))
        sample = _onset_sample(a.table, 1_000)
        assert sample is not None and 900 <= len(sample) <= 1_100 < len(bundle.spans)
        # Whole traces only: every span of a sampled trace, none of the others.
        picked = {a.table.tix[i] for i in sample}
        assert sorted(sample) == sorted(i for k in picked for i in a.table.members[k])
        assert a.change is not None and a.change.signal == "edge"
        assert report.root_causes[0].service == "mail"
        assert _onset_sample(a.table, len(bundle.spans)) is None
