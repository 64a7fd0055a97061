"""The tools over the evidence (`incident.tools.Toolbox`): typed, capped, redacted answers that
cite evidence ids, and bad input answered as an error, never raised."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synth.scenarios import generate
from test_cli import SAMPLE
from test_leaks_end_to_end import bundle, planted  # noqa: F401  (fixtures)
from test_redact_hostile import SEED, Planted, leaks

from incident import pipeline
from incident.redact import PLACEHOLDER
from incident.tools import Toolbox, ToolSpec

_ID = re.compile(r"^[ET]\d+$")


def _toolbox(folder: Path, max_chars: int = 4000) -> tuple[Toolbox, pipeline.Run]:
    loaded = pipeline.load([str(folder)])
    run = pipeline.Run(pipeline.diagnose(loaded))
    pipeline.build_digest(run, 8000)  # the digest first, as the AI step does
    return Toolbox(loaded, run.report, run._redactor(), max_chars=max_chars), run


@pytest.fixture(scope="module")
def sample() -> tuple[Toolbox, pipeline.Run]:
    return _toolbox(SAMPLE)


def _calls(tb: Toolbox, run: pipeline.Run) -> list[tuple[str, dict[str, Any]]]:
    """Every tool, with arguments that reach every service, trace and id the report names."""
    report = run.report
    services = json.loads(tb.call("list_services", {"limit": 100}).content)["services"]
    names = [s["service"] for s in services]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_services", {}),
        ("list_operations", {"limit": 50}),
        ("critical_path", {}),
        ("search_logs", {"limit": 50}),
        ("search_logs", {"level": "ERROR"}),
        ("list_alerts", {}),
    ]
    for name in names:
        calls.append(("service_failures", {"service": name, "limit": 20}))
        calls.append(("list_operations", {"service": name}))
    ops = json.loads(tb.call("list_operations", {"limit": 50}).content)["operations"]
    calls += [
        ("compare_operation", {"service": o["service"], "operation": o["operation"]}) for o in ops
    ]
    edges: set[tuple[str, str]] = set()
    for row in report.latency_inflation:
        if row.edge and "->" in row.edge:
            caller, callee = row.edge.split("->", 1)
            edges.add((caller, callee))
    for rc in report.root_causes:
        for caller in names:
            edges.add((caller, rc.service))
    for caller, callee in sorted(edges):
        calls.append(("compare_edge", {"caller": caller, "callee": callee}))
        calls.append(("call_pattern", {"caller": caller, "callee": callee}))
    calls += [("critical_path", {"trace_id": p.trace_id}) for p in report.critical_paths]
    calls += [("get_evidence", {"id": e.id}) for e in report.evidence]
    return calls


def test_specs_are_closed_objects_with_snake_case_names(sample: tuple[Toolbox, Any]) -> None:
    """Each spec is a JSON Schema object that forbids unknown arguments and lists its required
    ones among its properties; names are unique snake_case."""
    specs = sample[0].specs()
    assert len(specs) >= 8
    assert len({s.name for s in specs}) == len(specs)
    for spec in specs:
        assert isinstance(spec, ToolSpec)
        assert re.fullmatch(r"[a-z][a-z0-9_]{2,40}", spec.name)
        assert 20 < len(spec.description) < 400
        schema = spec.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])
        json.dumps(schema)  # plain JSON, as an API or MCP client receives it


def test_every_answer_is_json_under_the_cap_and_cites_known_ids(
    sample: tuple[Toolbox, pipeline.Run],
) -> None:
    tb, run = sample
    calls = _calls(tb, run)
    assert len(calls) > 30
    for name, args in calls:
        answer = tb.call(name, args)
        assert len(answer.content) <= tb.max_chars, (name, args)
        if answer.is_error:
            assert "\n" not in answer.content
            continue
        json.loads(answer.content)
        assert set(answer.evidence_ids) <= tb.known_ids(), (name, args)
        assert all(_ID.match(e) for e in answer.evidence_ids)
    made = tb.evidence()
    assert made, "the drill-downs showed spans the report did not cite"
    assert [e.id for e in made] == [f"T{i + 1}" for i in range(len(made))]
    assert {e.id for e in made} <= tb.known_ids()
    assert {e.id for e in run.report.evidence} <= tb.known_ids()


def test_a_new_evidence_id_resolves_and_shows_the_span(sample: tuple[Toolbox, Any]) -> None:
    tb, run = sample
    failing = run.report.failures[0].service
    answer = tb.call("service_failures", {"service": failing, "limit": 2})
    body = json.loads(answer.content)
    example = body["examples"][0]
    assert example["evidence"] in answer.evidence_ids
    shown = json.loads(tb.call("get_evidence", {"id": example["evidence"]}).content)
    assert shown["ref"] == f"{example['trace_id']}/{example['span_id']}"
    assert shown["span"]["operation"] == example["operation"]


def test_the_same_span_keeps_its_report_id(sample: tuple[Toolbox, Any]) -> None:
    """A span the report already cites is shown with the report's E id, not a new T id."""
    tb, run = sample
    spans = [e for e in run.report.evidence if e.kind == "span"]
    assert spans
    trace_id = spans[0].ref.split("/")[0]
    before = len(tb.evidence())
    answer = tb.call("critical_path", {"trace_id": trace_id})
    body = json.loads(answer.content)
    cited = {s.get("span_id"): s.get("evidence") for s in body["steps"] if "evidence" in s}
    for e in spans:
        tid, sid = e.ref.split("/")
        if tid == trace_id and sid in cited:
            assert cited[sid] == e.id
    assert len(tb.evidence()) >= before


def test_long_answers_are_cut_at_an_item_and_say_how_many_were_left_out() -> None:
    tb, _ = _toolbox(SAMPLE, max_chars=700)
    full = json.loads(_toolbox(SAMPLE)[0].call("list_operations", {"limit": 50}).content)
    answer = tb.call("list_operations", {"limit": 50})
    assert len(answer.content) <= 700
    body = json.loads(answer.content)
    assert body["omitted"] > 0
    assert len(body["operations"]) + body["omitted"] == len(full["operations"]) + full.get(
        "omitted", 0
    )
    assert body["operations"] == full["operations"][: len(body["operations"])]


def test_a_cut_drops_the_evidence_ids_of_items_not_shown() -> None:
    """Only ids that made it into the answer are registered; the next id follows on."""
    tb, run = _toolbox(SAMPLE, max_chars=600)
    failing = run.report.failures[0].service
    answer = tb.call("service_failures", {"service": failing, "limit": 20})
    body = json.loads(answer.content)
    shown = {x["evidence"] for x in body["examples"]}
    assert {e.id for e in tb.evidence()} == {e for e in shown if e.startswith("T")}
    assert body.get("omitted", 0) > 0


@pytest.mark.parametrize(
    ("name", "arguments", "says"),
    [
        ("no_such_tool", {}, "unknown tool"),
        ("compare_operation", {"service": "x"}, "'operation'"),
        ("list_operations", {"limit": "5"}, "'limit'"),
        ("list_operations", {"limit": 0}, "'limit'"),
        ("list_operations", {"limit": True}, "'limit'"),
        ("list_services", {"sort": "random"}, "'sort'"),
        ("list_services", {"surprise": 1}, "'surprise'"),
        ("search_logs", {"query": "x" * 10_000}, "'query'"),
        ("service_failures", {"service": "no-such-service"}, "no service named"),
        ("critical_path", {"trace_id": "ffffffffffffffffffffffffffffffff"}, "no trace"),
        ("get_evidence", {"id": "E999"}, "no evidence item"),
        ("search_logs", {"query": "zz-nothing-like-this-zz"}, "no log template matches"),
    ],
)
def test_bad_input_is_an_error_answer_naming_the_problem(
    sample: tuple[Toolbox, Any], name: str, arguments: dict[str, Any], says: str
) -> None:
    answer = sample[0].call(name, arguments)
    assert answer.is_error
    assert says in answer.content
    assert "\n" not in answer.content and answer.evidence_ids == ()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(
        [
            "list_services",
            "list_operations",
            "compare_operation",
            "compare_edge",
            "call_pattern",
            "critical_path",
            "service_failures",
            "search_logs",
            "list_alerts",
            "get_evidence",
        ]
    ),
    arguments=st.one_of(
        _JSON,
        st.dictionaries(
            st.sampled_from(
                [
                    "service",
                    "operation",
                    "caller",
                    "callee",
                    "trace_id",
                    "id",
                    "query",
                    "limit",
                    "level",
                    "status",
                    "sort",
                ]
            ),
            _JSON,
            max_size=4,
        ),
    ),
)
def test_no_argument_makes_a_tool_raise(
    sample: tuple[Toolbox, Any], name: str, arguments: Any
) -> None:
    answer = sample[0].call(name, arguments)
    assert len(answer.content) <= sample[0].max_chars
    if not answer.is_error:
        json.loads(answer.content)


def test_compare_against_a_baseline_file_shows_both_windows() -> None:
    sc = generate("slow-db", seed=3, traces=150, baseline_traces=100)
    loaded, base = sc.bundle(), sc.baseline_bundle()
    run = pipeline.Run(pipeline.diagnose(loaded, base))
    tb = Toolbox(loaded, run.report, run._redactor(), baseline=base)
    target = sc.truth.service
    callers = [c for c in json.loads(tb.call("list_services", {"limit": 100}).content)["services"]]
    assert any(c["service"] == target for c in callers)
    edges = [
        json.loads(a.content)
        for c in callers
        if not (a := tb.call("compare_edge", {"caller": c["service"], "callee": target})).is_error
    ]
    assert edges, "some service calls the slow database"
    grown = [e for e in edges if e["incident"] and e["before"]]
    assert grown
    e = max(grown, key=lambda e: e["incident"]["callee_time"]["p50_ms"])
    assert e["incident"]["callee_time"]["p50_ms"] > 1.5 * e["before"]["callee_time"]["p50_ms"]


# -- redaction ---------------------------------------------------------------------------


@pytest.fixture
def hostile(bundle: Path, planted: list[Planted]) -> Path:  # noqa: F811
    """The end-to-end leak bundle, plus the corpus logged again inside the incident window
    (the shared fixture logs it at the first error, before the change point, where only
    the baseline counts it)."""
    logs = bundle / "app-logs.jsonl"
    records = [json.loads(line) for line in logs.read_text().splitlines()]
    last = max((r for r in records if r["level"] == "error"), key=lambda r: r["timestamp"])
    extra = [
        {**last, "event": f"refund step {i}: {p.line.replace(chr(10), ' ')}"}
        for i, p in enumerate(planted)
    ]
    logs.write_text("\n".join(json.dumps(r) for r in records + extra) + "\n")
    return bundle


def test_no_planted_secret_in_any_answer(hostile: Path, planted: list[Planted]) -> None:  # noqa: F811
    """The hostile corpus planted in span status messages, log lines and alert labels and
    annotations: every answer of every tool, and every evidence item, is clean."""
    tb, run = _toolbox(hostile)
    answers = [tb.call(n, a) for n, a in _calls(tb, run)]
    answers += [tb.call("get_evidence", {"id": e.id}) for e in tb.evidence()]
    text = "\n".join(a.content for a in answers)
    assert leaks(text, planted) == [], f"seed {SEED}"
    assert leaks(json.dumps([e.model_dump() for e in tb.evidence()]), planted) == []
    # Not vacuous: the raw report carries them, and the answers carry placeholders.
    assert len(leaks(run.report.model_dump_json(), planted)) >= len(planted) // 4
    shown = set(PLACEHOLDER.findall(text))
    assert len(shown) >= 5


def test_placeholders_agree_with_the_digest(hostile: Path) -> None:
    tb, run = _toolbox(hostile)
    assert run.digest is not None
    digest = set(PLACEHOLDER.findall(run.digest.text))
    failing = [f.service for f in run.report.failures]
    text = "".join(tb.call("service_failures", {"service": s}).content for s in failing)
    text += tb.call("search_logs", {"level": "ERROR", "limit": 50}).content
    text += tb.call("list_alerts", {}).content
    tools = set(PLACEHOLDER.findall(text))
    assert digest & tools, "the same secrets show in both, under the same placeholder"
    mapping = run._redactor().mapping
    for kind, n in tools:
        assert f"<{kind}:{n}>" in mapping


def test_log_search_cannot_probe_for_a_raw_secret(
    hostile: Path,
    planted: list[Planted],  # noqa: F811
) -> None:
    """The query is matched against the redacted text: the raw value finds nothing, the
    placeholder it was replaced with finds the line."""
    tb, run = _toolbox(hostile)
    red = run._redactor()
    probed = 0
    for p in planted:
        if len(p.value) < 8 or red.redact_text(p.value) == p.value:
            continue
        answer = tb.call("search_logs", {"query": p.value[:200]})
        assert answer.is_error or leaks(answer.content, [p]) == []
        assert answer.is_error, f"{p.kind} probed by its raw value"
        probed += 1
    assert probed >= 5
    everything = tb.call("search_logs", {"limit": 50}).content
    shown = [m.group(0) for m in PLACEHOLDER.finditer(everything)]
    assert shown
    found = tb.call("search_logs", {"query": shown[-1]})
    assert not found.is_error and shown[-1] in found.content


def test_a_run_hands_its_assessment_to_the_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools answer from the assessment the report was written from: drilling down into
    a big export must not assess it a second time (and so cannot disagree with the report)."""
    loaded = pipeline.load([str(SAMPLE)])
    run = pipeline.analyse(loaded)
    assert run.assessment is not None

    def again(*_: object, **__: object) -> None:
        raise AssertionError("the bundle was assessed a second time")

    monkeypatch.setattr("incident.tools.context.assess", again)
    tb = Toolbox(loaded, run.report, run._redactor(), assessment=run.assessment)
    for name, args in _calls(tb, run):
        assert not tb.call(name, args).content.startswith("internal"), name
    # Without the assessment the toolbox assesses once, on first use.
    with pytest.raises(AssertionError, match="second time"):
        Toolbox(loaded, run.report, run._redactor()).call("list_operations", {})
