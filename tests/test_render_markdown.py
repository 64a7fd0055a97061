"""The Markdown postmortem: golden files, Mermaid validity, UTC times, escaping, templates."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import pytest

from incident.errors import UsageError
from incident.render.markdown import default_template, render_markdown
from incident.render.mermaid import mermaid_gantt, mermaid_name
from incident.report import (
    AIResult,
    CriticalPath,
    Failure,
    PathStep,
    Report,
    RootCause,
    TimelineEvent,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
REPORTS = sorted(GOLDEN.glob("*.report.json"))
SECTIONS = [
    "## Summary",
    "## Impact",
    "## Detection",
    "## Timeline",
    "## Root cause and contributing factors",
    "## Latency inflation",
    "## Failure classification",
    "## Blast radius",
    "## Suggested first actions",
    "## Action items",
    "## Data quality notes",
    "## AI analysis",
    "## Evidence appendix",
]


def _load(path: Path) -> Report:
    return Report.model_validate_json(path.read_text(encoding="utf-8"))


# --- a validator for the Mermaid subset the renderer emits --------------------------------

_KEYWORDS = {
    "title",
    "section",
    "dateformat",
    "axisformat",
    "tickinterval",
    "excludes",
    "includes",
    "todaymarker",
    "weekday",
    "weekend",
    "acctitle",
    "accdescr",
    "inclusiveenddates",
    "topaxis",
    "click",
    "gantt",
}
_TASK = re.compile(
    r"^ {4}(?P<name>[^:;#%\n]+?) :(?P<tags>(?:(?:crit|active|done|milestone), )*)"
    r"(?P<start>\d+), (?P<end>\d+)$"
)
_FORBIDDEN_IN_NAMES = set(":;#%\"'<>{}`")


def mermaid_errors(block: str) -> list[str]:
    """Problems in a gantt block: header, dateFormat x, axis, sections and task grammar."""
    lines = block.split("\n")
    errors: list[str] = []
    if lines[0] != "gantt":
        errors.append(f"first line is {lines[0]!r}, not 'gantt'")
    if "    dateFormat x" not in lines:
        errors.append("no 'dateFormat x'")
    tasks = 0
    for line in lines[1:]:
        stripped = line.strip()
        word = stripped.split(" ", 1)[0]
        if word in ("title", "section"):
            name = stripped.split(" ", 1)[1] if " " in stripped else ""
            if not name or set(name) & _FORBIDDEN_IN_NAMES:
                errors.append(f"bad {word} name: {line!r}")
            continue
        if word in ("dateFormat", "axisFormat", "todayMarker"):
            if set(stripped) & {";", "#"}:
                errors.append(f"bad directive: {line!r}")
            continue
        match = _TASK.match(line)
        if not match:
            errors.append(f"not a task line: {line!r}")
            continue
        tasks += 1
        name = match["name"]
        if set(name) & _FORBIDDEN_IN_NAMES or name.split(" ")[0].lower() in _KEYWORDS:
            errors.append(f"unsafe task name: {name!r}")
        if int(match["end"]) <= int(match["start"]):
            errors.append(f"task ends before it starts: {line!r}")
    if not tasks:
        errors.append("no tasks")
    return errors


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", markdown, re.S)


# --- golden files -------------------------------------------------------------------------


def test_golden_reports_exist() -> None:
    """There are several scenarios to compare, not a vacuous parametrisation."""
    assert len(REPORTS) >= 4


@pytest.mark.parametrize("report_path", REPORTS, ids=lambda p: p.name.split(".")[0])
def test_markdown_matches_golden(report_path: Path) -> None:
    """The rendered draft equals tests/golden/<name>.md byte for byte (UPDATE_GOLDEN=1 rewrites)."""
    rendered = render_markdown(_load(report_path))
    golden = report_path.with_name(report_path.name.replace(".report.json", ".md"))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(rendered, encoding="utf-8", newline="\n")
    assert golden.exists(), f"run UPDATE_GOLDEN=1 pytest {__file__}"
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("report_path", REPORTS, ids=lambda p: p.name.split(".")[0])
def test_markdown_has_every_section_once(report_path: Path) -> None:
    """Every postmortem section is present, in order, whatever the report holds."""
    text = render_markdown(_load(report_path))
    positions = [text.find(heading) for heading in SECTIONS]
    assert all(p >= 0 for p in positions), [
        h for h, p in zip(SECTIONS, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions)
    assert "$" not in re.sub(r"\$\d", "", text), "an unfilled template variable leaked"


@pytest.mark.parametrize("report_path", REPORTS, ids=lambda p: p.name.split(".")[0])
def test_markdown_is_deterministic(report_path: Path) -> None:
    """The same report renders to the same bytes, also after a JSON round trip."""
    report = _load(report_path)
    again = Report.model_validate_json(report.to_json())
    assert render_markdown(report) == render_markdown(again)


@pytest.mark.parametrize("report_path", REPORTS, ids=lambda p: p.name.split(".")[0])
def test_mermaid_blocks_are_valid(report_path: Path) -> None:
    """Every Mermaid block passes the gantt-subset validator."""
    for block in mermaid_blocks(render_markdown(_load(report_path))):
        assert mermaid_errors(block) == []


def test_db_latency_draws_the_slow_trace() -> None:
    """A report with a slow critical path gets exactly one gantt with one task per step."""
    report = _load(GOLDEN / "db_latency.report.json")
    blocks = mermaid_blocks(render_markdown(report))
    assert len(blocks) == 1
    tasks = [line for line in blocks[0].split("\n") if _TASK.match(line)]
    assert len(tasks) == len(report.critical_paths[0].steps)
    assert any(":crit," in t for t in tasks), "the failing step is not marked"


# --- Mermaid escaping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "GET /a:b;c#d",
        'SELECT "x" FROM t; -- %% comment',
        "section evil",
        "click here",
        "<script>alert(1)</script>",
        "",
        "x" * 300,
        "日本語 サービス",
    ],
)
def test_hostile_names_keep_mermaid_valid(hostile: str) -> None:
    """Names with Mermaid syntax, keywords, HTML or huge length still give a valid gantt."""
    path = CriticalPath(
        trace_id="ab" * 16,
        label="slow",
        entrypoint=hostile,
        duration_ms=10.0,
        steps=[
            PathStep(service=hostile, operation=hostile, start_ms=0, duration_ms=10, self_ms=5),
            PathStep(service="db", operation=hostile, start_ms=2, duration_ms=0, self_ms=0),
        ],
    )
    block = mermaid_gantt(path).removeprefix("```mermaid\n").removesuffix("\n```")
    assert mermaid_errors(block) == []


def test_mermaid_name_removes_separators() -> None:
    """Colons, semicolons and hashes never survive into a task name."""
    name = mermaid_name("a:b;c#d%e")
    assert not set(name) & set(":;#%")
    assert name == "a b c d e"


def test_validator_rejects_broken_gantt() -> None:
    """The validator is not vacuous: a colon inside a task name is caught."""
    bad = "gantt\n    dateFormat x\n    GET /a:b :0, 5"
    assert mermaid_errors(bad)


# --- times, tables, AI --------------------------------------------------------------------


def test_timestamps_are_utc() -> None:
    """Every timestamp in the draft ends with Z, including ones given with +00:00 or +02:00."""
    report = _load(GOLDEN / "crashloop.report.json")
    report.timeline.append(
        TimelineEvent(time="2026-05-02T23:20:00.5+02:00", source="log", event="offset time")
    )
    text = render_markdown(report)
    stamps = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?", text)
    assert stamps
    assert all(s.endswith("Z") for s in stamps), [s for s in stamps if not s.endswith("Z")]
    assert "2026-05-02T21:20:00.500Z" in text


def test_pipes_in_names_do_not_break_tables() -> None:
    """A `|` in a service or example is escaped, so each table row keeps its column count."""
    report = Report(
        failures=[
            Failure(
                service="a|b",
                operation="op|x",
                category="transient",
                origin="dependency",
                count=1,
                user_facing=True,
                example="x | y | z",
            )
        ]
    )
    text = render_markdown(report)
    for line in text.splitlines():
        if line.startswith("| a"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) == 9


def test_placeholders_survive_as_text() -> None:
    """Redaction placeholders like <email:1> are escaped, not read as autolinks or HTML."""
    report = Report(
        root_causes=[
            RootCause(
                service="api",
                kind="error",
                category="permanent",
                origin="user",
                score=0.5,
                summary="login failed for <email:1>",
            )
        ]
    )
    text = render_markdown(report)
    assert re.search(r"(?<!\\)<email", text) is None
    assert "\\<email:1>" in text


def test_ai_ok_is_marked_as_model_output_beside_findings() -> None:
    """AI output sits in its own marked section; the deterministic cause is still stated."""
    text = render_markdown(_load(GOLDEN / "db_latency.report.json"))
    ai_part = text.split("## AI analysis", 1)[1].split("## Evidence appendix", 1)[0]
    assert "**Model output**" in ai_part
    assert "70.0%" in ai_part  # hypothesis confidence
    assert "cites unknown E99" in ai_part
    deterministic = text.split("## AI analysis", 1)[0]
    assert "**Most likely cause:** orders-db" in deterministic
    assert "Roll back orders-api to 2.13.2" not in deterministic


def test_model_text_cannot_open_headings_or_fences() -> None:
    """Model prose with a heading and an open code fence stays inside the AI section."""
    report = _load(GOLDEN / "db_latency.report.json")
    report.ai.explanation = "## Evidence appendix\n```python\nprint(1)\n~~~\n<b>bold</b>"
    text = render_markdown(report)
    assert text.count("\n## Evidence appendix") == 1
    assert "\n```python" not in text and "\n~~~" not in text
    assert "<b>" not in text
    assert len(mermaid_blocks(text)) == 1


@pytest.mark.parametrize("status", ["skipped", "failed"])
def test_ai_absent_is_one_line_with_reason(status: Literal["skipped", "failed"]) -> None:
    """Without a model answer the AI section is one line that says why."""
    report = Report(ai=AIResult(status=status, reason="no key"))
    ai_part = render_markdown(report).split("## AI analysis", 1)[1].split("## Evidence", 1)[0]
    body = [line for line in ai_part.splitlines()[1:] if line.strip()]
    assert len(body) == 1
    assert status in body[0] and "no key" in body[0]


# --- templates ----------------------------------------------------------------------------


def test_custom_template_selects_and_orders_sections() -> None:
    """A user template gets only the blocks it names, in its own order, with $$ kept as $."""
    report = _load(GOLDEN / "db_latency.report.json")
    text = render_markdown(report, "# $title\n\n$$5 budget\n\n$timeline\n\n$summary\n")
    assert text.startswith("# orders-db saturation\n")
    assert "$5 budget" in text
    assert text.index("| Time (UTC)") < text.index("Starting at")
    assert "## Impact" not in text


def test_template_comment_header_is_dropped() -> None:
    """The documenting comment at the top of the default template is not in the output."""
    assert default_template().lstrip().startswith("<!--")
    assert "<!--" not in render_markdown(Report())


def test_default_template_documents_every_variable() -> None:
    """Each $variable the default template uses is described in its header comment."""
    template = default_template()
    header, body = template.split("-->", 1)
    used = set(re.findall(r"\$(\w+)", body))
    assert used
    for name in used:
        assert f"${name} " in header, name


def test_unknown_template_variable_is_a_usage_error() -> None:
    """A typo in a user's template is reported with the list of known variables."""
    with pytest.raises(UsageError, match=r"\$summry.*\$summary"):
        render_markdown(Report(), "$summry")


def test_a_no_incident_report_speaks_of_the_export_not_of_an_incident() -> None:
    """The whole postmortem follows the verdict: with "no-incident" there is no incident start,
    duration or incident window, in the draft and in the terminal view alike."""
    import io

    from synth import generate

    from incident.analysis import diagnose
    from incident.render.console import render_console

    report = diagnose(generate("slow-db", seed=0).baseline_bundle())
    assert report.verdict.status == "no-incident"
    assert report.window.incident_start  # the JSON keeps the window that was examined
    text = render_markdown(report)
    assert "**Incident:** none found in the window" in text
    assert "Starting at" not in text and "in the incident window" not in text
    assert "Across the export, " in text
    assert "- **Duration:** none (no incident found)" in text
    out = io.StringIO()
    render_console(report, width=120, color=False, file=out)
    assert "incident from" not in out.getvalue()


def test_records_that_name_no_service_name_no_candidate() -> None:
    """Apache error-log lines carry no service: the verdict is "inconclusive" with no
    candidate (never one called "unknown"), and the draft does not point to candidates."""
    from incident.analysis import diagnose
    from incident.ingest import logs

    text = "".join(
        f"[Sun Dec 04 04:{m:02d}:44 2005] [error] mod_jk child workerEnv in error state 6\n"
        for m in range(20)
    )
    report = diagnose(logs.read(text, "error_log"))
    assert report.verdict.status == "inconclusive"
    assert report.root_causes == [] and report.verdict.alternatives == []
    summary = render_markdown(report).split("## Impact", 1)[0]
    assert "No component can be named from the data that was read." in summary
    assert "see the candidates" not in summary


def test_an_inconclusive_draft_asks_to_find_the_cause_not_to_fix_one() -> None:
    """Without a headline culprit the action item is to decide, and a candidate named only
    for its log lines gets no retry advice: nothing was seen failing or retrying."""
    from incident.analysis import diagnose
    from incident.model import Bundle, LogRecord

    records = [
        LogRecord(1_742_280_000_000_000_000 + k, "ERROR", "fetch failed", service="backend")
        for k in range(3)
    ]
    report = diagnose(Bundle(logs=records))
    assert report.verdict.status == "inconclusive" and report.root_causes
    text = render_markdown(report)
    assert "- [ ] Find the cause: the evidence is too weak to blame backend" in text
    assert "Fix or mitigate the cause" not in text
    assert "retry budget" not in text


def test_the_reach_counts_one_service_and_one_user_in_the_singular() -> None:
    cause = RootCause(
        service="cart", kind="latency", category="transient", origin="infrastructure",
        score=0.5, summary="slow",
    )  # fmt: skip
    report = Report(root_causes=[cause])
    report.blast_radius.services = ["cart"]
    report.blast_radius.users_affected = 1
    text = render_markdown(report)
    assert "It reached 1 service, " in text and "1 user;" in text
    report.blast_radius.services = ["cart", "web"]
    report.blast_radius.users_affected = 1200
    assert "It reached 2 services, " in render_markdown(report)
    assert "1,200 users" in render_markdown(report)


def test_an_alternative_the_reason_already_states_is_named_not_repeated() -> None:
    from incident.render.formatting import shown_alternatives
    from incident.report import Verdict

    fact = "stopped calling cart.retry: 0% of its checkout invocations make that call"
    v = Verdict(
        status="inconclusive",
        reason=f"what checkout does changed ({fact}), but nothing fails more",
        alternatives=[f"checkout: {fact}", "cart: got slower by 3 ms"],
    )
    label, shown = shown_alternatives(v)
    assert label == "Candidates still in play"
    assert shown == ["checkout (as above)", "cart: got slower by 3 ms"]
    text = render_markdown(Report(verdict=v))
    assert text.count(fact) == 1 and "checkout (as above)" in text
    assert shown_alternatives(v.model_copy(update={"status": "incident"}))[0] == "Not ruled out"


def test_a_failure_with_nothing_compared_shows_no_baseline_zero() -> None:
    """Without a baseline the failures table's Baseline cell is empty ("—"), not "0"."""
    f = Failure(
        service="pay", operation="charge", category="fatal", origin="infrastructure",
        count=12, user_facing=True, calls=40,
    )  # fmt: skip
    row = next(line for line in render_markdown(Report(failures=[f])).splitlines()
               if line.startswith("| pay |"))  # fmt: skip
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[4:6] == ["12 of 40", "—"]
    seen = f.model_copy(update={"baseline_count": 0, "baseline_calls": 35})
    row = next(line for line in render_markdown(Report(failures=[seen])).splitlines()
               if line.startswith("| pay |"))  # fmt: skip
    assert [c.strip() for c in row.split("|")[1:-1]][5] == "0 of 35"


def test_the_paging_action_item_names_what_happened() -> None:
    """Without alerts, the action item asks for a page on what the top cause is: a slow
    database is a slowdown, not a failure (whatever background errors the export holds)."""
    from synth import generate

    from incident.analysis import diagnose
    from incident.model import Bundle

    sc = generate("slow-db", seed=1, traces=300)
    report = diagnose(Bundle(spans=list(sc.bundle().spans)), sc.baseline_bundle())
    assert report.root_causes[0].kind == "latency"
    assert "alert would page for this slowdown next time" in render_markdown(report)
