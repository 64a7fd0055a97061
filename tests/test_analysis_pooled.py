"""A service that few requests reach, whose every operation became several times as long at
one moment, is resource contention on that service: found in one export (the per-service
change point) and against a baseline (its operations' self time pooled), although each of its
operations ran only a handful of times and the entry points barely moved."""

from __future__ import annotations

import random

from incident.analysis import diagnose
from incident.analysis.windows import find_service_change
from incident.model import Bundle, Span, SpanKind
from incident.report import Report, RootCause

MS = 1_000_000
N = 400
RARE_EVERY = 12


LEDGER = frozenset({"POST /entry", "validate", "write"})


def _request(k: int, rng: random.Random, slow: float, slowed: frozenset[str]) -> list[Span]:
    """gw GET / with a busy call to `cart`; one request in RARE_EVERY also calls `ledger`,
    whose operations named in `slowed` take `slow` times their usual time."""
    tid = f"{k + 1:032x}"
    t0 = k * 500 * MS
    sid = iter(f"{k + 1:08x}{j:08x}" for j in range(1, 99))
    root = next(sid)
    at = t0 + int(rng.gauss(40, 12) * MS)
    spans: list[Span] = []

    def call(parent: str, svc: str, ops: list[tuple[str, float]], at: int) -> int:
        """A client span in gw, a server span in svc and its internal children in turn."""
        client, server = next(sid), next(sid)
        t = at + MS // 2
        kids: list[Span] = []
        for name, ms in ops[1:]:
            factor = slow if svc == "ledger" and name in slowed else 1.0
            d = int(max(0.2, rng.gauss(ms, ms / 5)) * factor * MS)
            kids.append(Span(tid, next(sid), server, svc, name, SpanKind.INTERNAL, t, t + d))
            t += d
        own = ops[0][1] * (slow if svc == "ledger" and ops[0][0] in slowed else 1.0)
        end = t + int(max(0.2, rng.gauss(own, own / 5)) * MS)
        spans.append(Span(tid, server, client, svc, ops[0][0], SpanKind.SERVER, at, end))
        spans.extend(kids)
        spans.append(Span(tid, client, parent, "gw", f"POST {svc}", SpanKind.CLIENT, at, end))
        return end + MS // 2

    at = call(root, "cart", [("POST /cart", 5.0), ("load cart", 4.0), ("price cart", 3.0)], at)
    if k % RARE_EVERY == 0:
        at = call(root, "ledger", [("POST /entry", 2.0), ("validate", 2.0), ("write", 3.0)], at)
    end = at + int(rng.gauss(30, 10) * MS)
    spans.insert(0, Span(tid, root, None, "gw", "GET /", SpanKind.SERVER, t0, end))
    return spans


def _export(
    seed: int,
    slow: float = 1.0,
    onset: int = N // 2,
    slowed: frozenset[str] = LEDGER,
    n: int = N,
) -> Bundle:
    rng = random.Random(seed)
    spans: list[Span] = []
    for k in range(n):
        spans.extend(_request(k, rng, slow if k >= onset else 1.0, slowed))
    return Bundle(spans=spans)


def _facts(report: Report, cause: RootCause) -> str:
    return " ".join(e.text for e in report.evidence if e.id in cause.evidence)


def _first(report: object) -> tuple[str, str]:
    causes = report.root_causes  # type: ignore[attr-defined]
    return (causes[0].service, causes[0].kind) if causes else ("", "")


def test_starved_rare_service_found_in_one_export() -> None:
    for seed in range(3):
        report = diagnose(_export(seed, slow=6.0))
        assert report.verdict.status == "incident", report.verdict.reason
        assert _first(report) == ("ledger", "saturation")
        assert report.window.baseline == "in-file"
        facts = _facts(report, report.root_causes[0])
        assert "taken together" in facts or "slowed alike" in facts
        # The headline says what made it the cause, not a share of the requests' time.
        assert "taken together" in report.verdict.reason or "alike" in report.verdict.reason
        assert "however few requests reach it" in report.root_causes[0].summary


def test_starved_rare_service_found_against_a_baseline() -> None:
    for seed in range(3):
        baseline = _export(100 + seed)
        incident = _export(seed, slow=6.0, onset=0)
        report = diagnose(incident, baseline)
        assert report.verdict.status == "incident", report.verdict.reason
        assert _first(report) == ("ledger", "saturation")


def test_a_starved_service_seen_only_pooled_gets_the_starved_actions() -> None:
    """48 requests: ledger's operations ran 4 times each, too few to compare one by one,
    so only its pooled own time shows the contention. The first action answers what the
    cause says (starved), not a queue before database calls it does not make."""
    for seed in range(3):
        report = diagnose(_export(seed, slow=6.0, onset=0, n=48), _export(100 + seed, n=48))
        assert _first(report) == ("ledger", "saturation")
        assert "taken together" in report.root_causes[0].summary
        assert "database" not in report.root_causes[0].summary
        first = report.actions[0]
        assert first.action.startswith("Check CPU throttling") and "ledger" in first.action
        assert "rose as a whole" in first.why
        assert not any("connection pool" in a.action for a in report.actions)


def test_calm_exports_stay_calm() -> None:
    for seed in range(3):
        assert diagnose(_export(seed)).verdict.status == "no-incident"
        assert diagnose(_export(seed), _export(50 + seed)).verdict.status == "no-incident"


def test_one_slow_operation_is_not_the_whole_service() -> None:
    """Only `validate` slowed, 30 times: its pooled average rises past the ratio, but one
    operation of three is not the service: no contention claimed."""
    for seed in range(3):
        one = frozenset({"validate"})
        report = diagnose(_export(seed, slow=30.0, onset=0, slowed=one), _export(100 + seed))
        for cause in report.root_causes:
            assert "taken together" not in _facts(report, cause)


def test_service_change_point_needs_a_large_clear_rise() -> None:
    rng = random.Random(7)
    n = 60
    starts = [i * 10 * MS for i in range(n)]
    services = ["a"] * n
    ops = [("a", "op")] * n
    traces = list(range(n))

    def ends(factor: float) -> list[int]:
        return [
            s + int(rng.gauss(5, 1) * (factor if i >= n // 2 else 1.0) * MS)
            for i, s in enumerate(starts)
        ]

    found = find_service_change(services, ops, traces, starts, ends(8.0))
    assert found is not None
    assert abs(found.start_ns - starts[n // 2]) <= 2 * 10 * MS
    assert find_service_change(services, ops, traces, starts, ends(2.0)) is None
    assert find_service_change(services, ops, traces, starts, ends(1.0)) is None


def test_a_clear_onset_inside_the_export_beats_a_capture_that_barely_holds_it() -> None:
    """With --baseline given, an export whose rare service starves half-way is compared with
    its own calm first half when that half holds more of the service than the baseline
    capture does (a short capture from another time), and the report says so; a capture
    with more of it stays the comparison."""
    short = _export(100, n=N // 4)
    report = diagnose(_export(0, slow=6.0), short)
    assert report.window.baseline == "in-file"
    assert any("not the --baseline" in w for w in report.data_quality.warnings)
    assert _first(report) == ("ledger", "saturation")
    assert diagnose(_export(0), short).window.baseline == "file"
    full = diagnose(_export(0, slow=6.0), _export(100))
    assert full.window.baseline == "file"
    assert not any("not the --baseline" in w for w in full.data_quality.warnings)
