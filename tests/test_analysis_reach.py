"""A slowdown confined to the requests that pass through one hop is sized for those
requests: a call made by one request in thirty that got 40 times slower is an incident for
the users of that request, even though the mean over every request barely moves."""

from __future__ import annotations

import random

import pytest

from incident.analysis import diagnose
from incident.model import Bundle, Span, SpanKind

MS = 1_000_000


def _request(k: int, rng: random.Random, *, checkout: bool, gap_ms: float) -> list[Span]:
    """web GET / (about 150 ms of its own work); a checkout request also calls mail, whose
    client->server gap (the network into mail) is `gap_ms`."""
    tid = f"{k + 1:032x}"
    t0 = k * 1000 * MS
    root = f"{k + 1:08x}0001"
    work = int(rng.gauss(150, 15) * MS)
    spans = [
        Span(tid, root, None, "web", "GET /", kind=SpanKind.SERVER, start_ns=t0, end_ns=t0 + work)
    ]
    if checkout:
        server_ms = rng.gauss(3, 0.3)
        gap = int(max(0.05, rng.gauss(gap_ms, gap_ms / 10)) * MS)
        start = t0 + work
        end = start + int(server_ms * MS) + gap
        spans[0] = Span(
            tid, root, None, "web", "GET /", kind=SpanKind.SERVER, start_ns=t0, end_ns=end + MS
        )
        client, server = f"{k + 1:08x}1000", f"{k + 1:08x}2000"
        spans.append(
            Span(
                tid,
                client,
                root,
                "web",
                "POST mail",
                kind=SpanKind.CLIENT,
                start_ns=start,
                end_ns=end,
            )
        )
        spans.append(
            Span(
                tid,
                server,
                client,
                "mail",
                "POST /send",
                kind=SpanKind.SERVER,
                start_ns=start + gap // 2,
                end_ns=end - gap // 2,
            )
        )
    return spans


def _bundle(gap_ms: float, seed: int) -> Bundle:
    rng = random.Random(seed)
    spans = [s for k in range(900) for s in _request(k, rng, checkout=k % 30 == 0, gap_ms=gap_ms)]
    b = Bundle(spans=spans)
    b.quality.spans = len(spans)
    return b


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rare_call_that_got_much_slower_is_named(seed: int) -> None:
    report = diagnose(_bundle(200.0, seed), _bundle(0.5, seed + 100))
    assert report.verdict.status == "incident", report.verdict
    assert report.root_causes[0].service == "mail"
    assert report.root_causes[0].kind == "network"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rare_call_that_barely_moved_is_no_incident(seed: int) -> None:
    """The same rare call a millisecond slower adds well under a tenth of a request: no
    incident, and no culprit."""
    report = diagnose(_bundle(1.5, seed), _bundle(0.5, seed + 100))
    assert report.verdict.status == "no-incident", report.verdict
    assert report.root_causes == []
