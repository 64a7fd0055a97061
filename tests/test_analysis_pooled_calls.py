"""A caller that few requests reach, starved or on a slow network of its own, shows it in its
calls out: every call it makes waits longer on its own side (its client span less the
callee's server span), whichever callee it calls, while its own short spans barely move.
Pooled over its callees, that names the caller, not any callee; one callee's calls alone do
not."""

from __future__ import annotations

import random

from incident.analysis import diagnose
from incident.model import Bundle, Span, SpanKind
from incident.report import Report

MS = 1_000_000
N = 480
RARE_EVERY = 8
CALLEES = ("auth", "stock", "pay")


def _request(k: int, rng: random.Random, late_ms: dict[str, float]) -> list[Span]:
    """gw GET / calls `cart`; one request in RARE_EVERY also calls `book`, which calls each
    of CALLEES in turn: its client span around each callee's server span is `late_ms` of
    that callee longer on each side than the usual half millisecond."""
    tid = f"{k + 1:032x}"
    t0 = k * 400 * MS
    sid = iter(f"{k + 1:08x}{j:08x}" for j in range(1, 99))
    root = next(sid)
    spans: list[Span] = []

    def server(parent: str, caller: str, svc: str, name: str, at: int, ms: float) -> int:
        client, srv = next(sid), next(sid)
        pad = int((0.5 + late_ms.get(svc, 0.0) * (caller == "book")) * MS)
        d = int(max(0.3, rng.gauss(ms, ms / 5)) * MS)
        spans.append(Span(tid, srv, client, svc, name, SpanKind.SERVER, at + pad, at + pad + d))
        end = at + 2 * pad + d
        spans.append(Span(tid, client, parent, caller, f"POST {svc}", SpanKind.CLIENT, at, end))
        return end

    at = server(root, "gw", "cart", "POST /cart", t0 + 5 * MS, 6.0)
    if k % RARE_EVERY == 0:
        client, book = next(sid), next(sid)
        start = at + MS // 2
        t = start + MS // 4
        for callee in CALLEES:
            t = server(book, "book", callee, f"POST /{callee}", t, 3.0) + MS // 4
        spans.append(Span(tid, book, client, "book", "POST /book", SpanKind.SERVER, start, t))
        spans.append(Span(tid, client, root, "gw", "POST book", SpanKind.CLIENT, at, t + MS // 2))
        at = t + MS // 2
    end = at + int(rng.gauss(10, 2) * MS)
    spans.insert(0, Span(tid, root, None, "gw", "GET /", SpanKind.SERVER, t0, end))
    return spans


def _export(seed: int, late_ms: dict[str, float] | None = None) -> Bundle:
    rng = random.Random(seed)
    spans: list[Span] = []
    for k in range(N):
        spans.extend(_request(k, rng, late_ms or {}))
    return Bundle(spans=spans)


def _facts(report: Report) -> str:
    first = report.root_causes[0]
    return " ".join(e.text for e in report.evidence if e.id in first.evidence)


def test_a_caller_late_on_all_its_calls_is_named_itself() -> None:
    late = dict.fromkeys(CALLEES, 3.0)
    for seed in range(3):
        report = diagnose(_export(seed, late), _export(100 + seed))
        assert report.verdict.status == "incident", report.verdict.reason
        first = report.root_causes[0]
        # The delay sits on its side of its calls: its own network as much as its CPU.
        assert (first.service, first.kind) == ("book", "network")
        assert "all waited longer on its own side" in _facts(report)
        assert "3 other services" in _facts(report)
        # The headline and the summary say what made it the cause, not one callee's path.
        assert "all waited longer on its own side" in report.verdict.reason
        assert "slow on its own side of every call it makes" in first.summary
        # The actions follow the summary: its CPU and its own network, not one callee's path.
        actions = [a.action for a in report.actions[:2]]
        assert actions[0].startswith("Check CPU throttling") and "book's pods" in actions[0]
        assert actions[1].startswith("Check the network into and out of book's pods")
        assert not any("network path from book to" in a.action for a in report.actions)


def test_one_callee_late_is_not_the_caller() -> None:
    """Only the calls to `pay` wait longer: that is the wire to pay or its door, not book
    starving; the pooled claim is not made."""
    for seed in range(3):
        report = diagnose(_export(seed, {"pay": 6.0}), _export(100 + seed))
        for cause in report.root_causes:
            text = " ".join(e.text for e in report.evidence if e.id in cause.evidence)
            assert "waited longer on its own side" not in text


def test_calm_exports_stay_calm() -> None:
    for seed in range(3):
        assert diagnose(_export(seed), _export(50 + seed)).verdict.status == "no-incident"
