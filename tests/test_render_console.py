"""The terminal view: fits 80 and 160 columns, honours NO_COLOR, draws a scaled waterfall."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from incident.render.console import progress_reporter, render_console, waterfall_bar
from incident.report import CriticalPath, PathStep, Report, RootCause

GOLDEN = Path(__file__).resolve().parent / "golden"
REPORTS = sorted(GOLDEN.glob("*.report.json"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _load(path: Path) -> Report:
    return Report.model_validate_json(path.read_text(encoding="utf-8"))


def _render(report: Report, width: int, color: bool | None) -> str:
    out = io.StringIO()
    render_console(report, width=width, color=color, file=out)
    return out.getvalue()


def _hostile() -> Report:
    """A report whose strings try to break layout: huge tokens, markup, emoji codes, tabs."""
    base = _load(GOLDEN / "db_latency.report.json")
    base.root_causes.insert(
        0,
        RootCause(
            service="svc-" + "x" * 300,
            operation="[bold red]GET[/] /a/:id :smile: \t tab",
            kind="latency",
            category="transient",
            origin="dependency",
            score=0.99,
            summary="token" * 80,
        ),
    )
    return base


CASES = [*REPORTS, "hostile"]


def _case(case: Path | str) -> Report:
    return _hostile() if case == "hostile" else _load(Path(case))


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("color", [True, False, None])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c if isinstance(c, str) else c.stem)
def test_no_line_exceeds_width(case: Path | str, width: int, color: bool | None) -> None:
    """At 80 and 160 columns, with and without forced colour, every line fits the width."""
    text = ANSI.sub("", _render(_case(case), width, color))
    assert text.strip()
    too_long = [line for line in text.splitlines() if cell_len(line) > width]
    assert too_long == []


@pytest.mark.parametrize("width", [80, 160])
def test_color_false_emits_no_ansi(width: int) -> None:
    """color=False gives plain text: no escape sequence at all, bold included."""
    assert "\x1b" not in _render(_hostile(), width, color=False)


def test_no_color_env_wins_over_forced_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR set in the environment removes escapes even when colour is requested."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in _render(_load(GOLDEN / "db_latency.report.json"), 80, color=True)


def test_forced_color_does_emit_ansi(monkeypatch: pytest.MonkeyPatch) -> None:
    """The escape checks are meaningful: color=True without NO_COLOR does produce escapes."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[" in _render(_load(GOLDEN / "db_latency.report.json"), 80, color=True)


def test_telemetry_text_is_not_read_as_markup() -> None:
    """Square brackets and :emoji: codes in names are printed as written."""
    text = _render(_hostile(), 160, color=False)
    assert "[bold red]GET[/]" in text
    assert ":smile:" in text


def test_view_contains_the_findings() -> None:
    """The view shows the top cause, an entry point, the waterfall, the timeline and AI output."""
    text = _render(_load(GOLDEN / "db_latency.report.json"), 160, color=False)
    for needle in (
        "orders-db SELECT orders: by customer_id",
        "frontend POST /checkout",
        "Critical path of a slow request",
        "2026-03-14T09:24:00.000Z",
        "pool timeout after <*> ms",
        "AI analysis - model output",
        "Check orders-db connections",
    ):
        assert needle in text, needle


def test_skipped_ai_is_one_line() -> None:
    """A skipped AI step prints one dim line with the reason, not a panel."""
    text = _render(_load(GOLDEN / "alerts_only.report.json"), 80, color=False)
    assert "AI analysis skipped: ANTHROPIC_API_KEY is not set" in text
    assert "model output" not in text


def _bar_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "█" in line and "most self time" not in line]


@pytest.mark.parametrize("width", [80, 160])
def test_waterfall_bars_scale_with_width(width: int) -> None:
    """The root span's bar fills the track, which is wider at 160 than at 80 columns."""
    text = _render(_load(GOLDEN / "db_latency.report.json"), width, color=False)
    bars = _bar_lines(text)
    assert len(bars) == 4
    root = bars[0].count("█")
    assert root >= width // 3
    assert root > bars[2].count("█")  # the 1.2 s database call is shorter than the 1.8 s root


def test_waterfall_bar_positions() -> None:
    """Bars are placed in proportion: the second half of a span lands in the right half."""
    assert waterfall_bar(0, 100, 100, 10) == "█" * 10
    assert waterfall_bar(50, 50, 100, 10) == " " * 5 + "█" * 5
    assert waterfall_bar(0, 0, 100, 10)[0] != " "  # zero-length spans stay visible
    assert len(waterfall_bar(99, 50, 100, 7)) == 7  # children outliving the parent are clipped
    assert waterfall_bar(0, 1, 0, 5) == "     "


def test_long_critical_path_is_capped() -> None:
    """A path of hundreds of spans shows a bounded number of rows and says how many are hidden."""
    steps = [
        PathStep(service="s", operation=f"op{i}", start_ms=i, duration_ms=1, self_ms=1, depth=i)
        for i in range(200)
    ]
    report = Report(
        critical_paths=[
            CriticalPath(trace_id="t", label="slow", entrypoint="e", duration_ms=200, steps=steps)
        ]
    )
    text = _render(report, 80, color=False)
    assert "170 more steps" in text
    assert all(cell_len(line) <= 80 for line in text.splitlines())


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_silent_when_not_a_terminal() -> None:
    """Into a pipe or file the progress callback writes nothing."""
    out = io.StringIO()
    report = progress_reporter(True, file=out)
    report("traces.json", 50, 100)
    report("traces.json", 100, 100)
    assert out.getvalue() == ""


def test_progress_disabled_writes_nothing_even_on_a_terminal() -> None:
    """enabled=False silences the bar on a terminal too (--quiet)."""
    out = _FakeTTY()
    report = progress_reporter(False, file=out)
    report("traces.json", 50, 100)
    assert out.getvalue() == ""


def test_progress_draws_on_a_terminal_and_stops() -> None:
    """On a terminal a bar with the label appears, and completing every task stops it."""
    out = _FakeTTY()
    report = progress_reporter(True, file=out)
    report("big-export.json", 10, 1000)
    report("big-export.json", 1000, 1000)
    assert "big-export.json" in ANSI.sub("", out.getvalue())
    assert getattr(report, "_running", None) is False
