"""Claims the diagnosis makes must be backed by enough evidence: no "surge", "new", "got
slower", "one instance" or "one version" without a baseline and enough observations;
sub-millisecond work stated as such; message consumers not described as absorbed by callers;
our own services not called third-party dependencies; blast radius counted at the real
entry points."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from synth import generate

from incident.analysis import diagnose
from incident.analysis.evidence import MIN_EVIDENCE, ms_text
from incident.ingest import load
from incident.model import Bundle, Span, SpanKind, StatusCode
from incident.report import Report

TRACES = Path(__file__).resolve().parent / "fixtures" / "traces"
MS = 1_000_000
# Words that claim a change over time: they need something to compare with.
CHANGE_WORDS = re.compile(r"\b(surge|new|got slower|grew|rose)\b", re.I)


def _diagnose(name: str) -> Report:
    return diagnose(load([str(TRACES / name)]))


def _sentences(report: Report) -> list[str]:
    return [rc.summary for rc in report.root_causes] + [
        f"{a.action} {a.why}" for a in report.actions
    ]


# Every real single-trace export (the OTel Demo capture has a calm period of its own).
SINGLE_TRACE = sorted(p.name for p in TRACES.glob("*.json") if not p.name.startswith("otel-tui"))


@pytest.mark.parametrize("name", SINGLE_TRACE)
def test_without_a_baseline_no_sentence_claims_a_change(name: str) -> None:
    """Single-trace real exports have nothing to compare with, so no summary or action may
    speak of a surge, of something new, or of something that got slower or grew."""
    report = _diagnose(name)
    assert report.window.baseline == "none"
    offending = [s for s in _sentences(report) if CHANGE_WORDS.search(s)]
    assert not offending


def test_a_single_client_error_is_stated_not_called_a_surge() -> None:
    """SmartThings: one absorbed 404 is reported as the one rejected request it is, and it
    does not outrank the latency that actually dominates the trace."""
    report = _diagnose("smartthings-mobile-web-install.json")
    # One request, no failure of ours: nothing to blame, and no claim of a surge anywhere.
    assert report.verdict.status == "no-incident"
    assert not any(rc.service == "alice" for rc in report.root_causes)
    alice = next(f for f in report.failures if f.service == "alice")
    assert alice.count == 1 and alice.origin == "user"
    assert not any("throttle" in a.action for a in report.actions)


def test_one_failure_does_not_make_an_instance_bad() -> None:
    """SmartThings OAuth: a single 401 on one of auth's hosts is no evidence that the host
    misbehaves; no instance is named and no pod is to be drained."""
    report = _diagnose("smartthings-oauth-authorization.json")
    assert all(rc.instance is None for rc in report.root_causes)
    assert not any("one instance" in rc.summary for rc in report.root_causes)
    assert not any(a.action.startswith("Drain") for a in report.actions)


def _call(k: int, pod: str, *, fail: bool) -> list[Span]:
    tid = f"{k:032x}"
    return [
        Span(
            tid,
            f"{k:08x}0001",
            None,
            "web",
            "GET /",
            kind=SpanKind.SERVER,
            start_ns=k * 100 * MS,
            end_ns=(k * 100 + 20) * MS,
            attributes={"http.status_code": 500 if fail else 200},
            status=StatusCode.ERROR if fail else StatusCode.UNSET,
        ),
        Span(
            tid,
            f"{k:08x}0002",
            f"{k:08x}0001",
            "api",
            "GET /items",
            kind=SpanKind.SERVER,
            start_ns=(k * 100 + 2) * MS,
            end_ns=(k * 100 + 18) * MS,
            resource={"service.name": "api", "k8s.pod.name": pod},
            attributes={"http.status_code": 500 if fail else 200},
            status=StatusCode.ERROR if fail else StatusCode.UNSET,
            status_message="boom" if fail else "",
        ),
    ]


@pytest.mark.parametrize("bad", [MIN_EVIDENCE - 2, MIN_EVIDENCE + 10])
def test_an_instance_is_named_only_with_enough_failures_on_it(bad: int) -> None:
    """All of api's failures sit on pod api-a; the pod is named only once the failures reach
    the evidence minimum."""
    spans: list[Span] = []
    for k in range(200):
        pod = ("api-a", "api-b", "api-c")[k % 3]
        spans += _call(k, pod, fail=pod == "api-a" and k // 3 < bad)
    report = diagnose(Bundle(spans=spans))
    top = next((rc for rc in report.root_causes if rc.service == "api"), None)
    if bad >= MIN_EVIDENCE:
        # A comparison inside the export (one pod against its peers) needs no baseline.
        assert report.verdict.status == "incident"
        assert top is not None and top.instance == "api-a" and "one instance" in top.summary
        assert f"{bad} of {bad} failures on api-a" in top.summary
    else:
        assert top is None or (top.instance is None and "one instance" not in top.summary)


def test_a_surge_of_client_errors_is_still_called_one_with_a_baseline() -> None:
    """Against a fault-free baseline with many more 4xx, the interpretation is earned."""
    sc = generate("client-4xx", seed=8, traces=300)
    top = diagnose(sc.bundle(), sc.baseline_bundle()).root_causes[0]
    assert top.kind == "client-input" and "surge" in top.summary


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0.0, "0 ms"),
        (0.02, "<0.1 ms"),
        (0.4, "0.4 ms"),
        (4.26, "4.3 ms"),
        (43.2, "43 ms"),
        (1250.0, "1,250 ms"),
        (-0.4, "-0.4 ms"),
    ],
)
def test_durations_read_sensibly_below_a_millisecond(ms: float, text: str) -> None:
    """Sub-millisecond durations keep a digit instead of collapsing to 0 ms."""
    assert ms_text(ms) == text


@pytest.mark.parametrize(
    "name",
    [
        "otlp2jaeger-in.json",
        "messaging-kafka.json",
        "traceWithOverlappingChildrenLongerThanParent.json",
    ],
)
def test_sub_millisecond_causes_do_not_print_zero(name: str) -> None:
    """Real exports whose work takes under a millisecond never say "0 ms per request"."""
    report = _diagnose(name)
    text = " ".join([rc.summary for rc in report.root_causes] + [e.text for e in report.evidence])
    assert "(0 ms" not in text and " 0 ms per request" not in text


def test_a_failing_message_consumer_is_not_absorbed_by_callers() -> None:
    """Kafka: serviceb fails while consuming; nobody falls back for it. It is a failing
    consumer (not partial), not user-facing since no entry point failed, and the first action
    is about consumer lag and dead letters."""
    report = _diagnose("messaging-kafka.json")
    top = report.root_causes[0]
    assert top.service == "serviceb"
    assert "fall back" not in top.summary and "consuming messages" in top.summary
    assert top.category != "partial"
    row = next(f for f in report.failures if f.service == "serviceb")
    assert row.category != "partial"
    assert report.impact.user_facing is False
    assert "consumer lag" in report.actions[0].action


def test_our_own_proxy_is_not_a_third_party_dependency() -> None:
    """OTel Demo: frontend-proxy emits spans and cartservice is one of the demo's RPC
    services; the failures table agrees with the root causes that neither is an external
    dependency."""
    report = _diagnose("otel-tui_test_data.json")
    rows = {f.service: f for f in report.failures}
    assert rows["frontend-proxy"].origin == "infrastructure"
    assert rows["cartservice"].origin == "infrastructure"
    causes = {rc.service: rc.origin for rc in report.root_causes}
    assert all(rows[s].origin == o for s, o in causes.items() if s in rows)


def test_blast_radius_counts_requests_at_the_load_generator() -> None:
    """OTel Demo: the frontend lost the trace context, so the cart calls sit in detached
    traces; the requests users made entered at the load generator, and the blast radius
    names those entry points first."""
    report = _diagnose("otel-tui_test_data.json")
    entries = report.blast_radius.entrypoints
    assert entries[:2] == ["loadgenerator POST", "loadgenerator GET"]


def test_a_callers_view_of_a_network_delay_is_not_a_second_network_fault() -> None:
    """A network delay into one service also shows as slow outgoing calls of its callers;
    those callers are described as waiting on that path, never as a network path to
    themselves that got slower, and get no network action of their own."""
    sc = generate("network-delay", seed=11, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    truth = sc.truth.service
    assert report.root_causes[0].service == truth
    for rc in report.root_causes[1:]:
        if rc.kind == "network":
            assert f"network path to {rc.service}" not in rc.summary
            assert f"calls to {truth}" in rc.summary
    network_actions = [a.action for a in report.actions if "network path" in a.action]
    assert len(network_actions) == 1 and truth in network_actions[0]


def test_a_failing_cache_is_not_switched_off_and_users_are_not_declared_safe() -> None:
    """Cache outage: the cache's callers fall back to the database, so the summary says the
    requests still succeed (not that users are unaffected), and no action switches the cache
    off, which would send every read to the database."""
    sc = generate("cache-outage", seed=11, traces=300)
    report = diagnose(sc.bundle(), sc.baseline_bundle())
    top = report.root_causes[0]
    assert top.service == sc.truth.service
    assert "not affected" not in top.summary
    assert not any(
        a.action.startswith("Switch off") and top.service in a.action for a in report.actions
    )


def test_a_file_holding_spans_and_logs_is_listed_once() -> None:
    """OTel Demo's capture holds traces and logs in one JSON Lines file: read as two inputs,
    named once among the report's inputs."""
    report = _diagnose("otel-tui_test_data.json")
    assert report.inputs == [str(TRACES / "otel-tui_test_data.json")]
