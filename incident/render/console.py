"""The terminal view of a diagnosis and the progress bar for long reads; the only module that
imports rich. Output fits the given width and carries no ANSI escapes under NO_COLOR.

Size: about 500 lines, one small function per panel of the view; keeping rich in one module
is worth more than a split.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Iterator
from typing import Literal, TextIO

from rich import box
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from incident.escape import safe_model, visible
from incident.render.formatting import (
    before_ms,
    felt_by,
    format_change,
    format_duration,
    format_ms,
    format_pct,
    representative_path,
    shown_alternatives,
    utc,
)
from incident.render.md_investigation import investigation_line
from incident.report import CriticalPath, Report

_MAX_ROWS = 12
# Report fields that hold several lines of text (model prose); every other string is one line.
_MULTILINE_FIELDS = frozenset({"explanation", "narrative", "blast_radius_review"})


def color_wanted(color: bool | None) -> bool | None:
    """False when NO_COLOR is set (any non-empty value), else the caller's choice."""
    if os.environ.get("NO_COLOR"):
        return False
    return color


def make_console(
    *,
    width: int | None = None,
    color: bool | None = None,
    file: TextIO | None = None,
    stderr: bool = False,
) -> Console:
    """A rich Console with markup and emoji off, so telemetry text is printed as written.
    (The renderers below also pass every data string as a `Text`, never as a markup string,
    and make control and invisible characters visible before rich sees them.)

    color=False (or NO_COLOR) removes every escape, bold included; color=True forces colour
    even into a pipe; None lets rich decide from the terminal.
    """
    wanted = color_wanted(color)
    if wanted is False:
        color_system: Literal["auto", "standard"] | None = None
        force_terminal: bool | None = False
    elif wanted is True:
        color_system, force_terminal = "standard", True
    else:
        color_system, force_terminal = "auto", None
    return Console(
        file=file,
        width=width,
        color_system=color_system,
        force_terminal=force_terminal,
        no_color=wanted is False,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
        stderr=stderr,
    )


# --- blocks -------------------------------------------------------------------------------


def _table(title: str, *columns: tuple[str, JustifyMethod]) -> Table:
    """A compact table; each column is (header, justify) and folds long words."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        expand=False,
        pad_edge=False,
        show_edge=False,
    )
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")
    return table


def _header(report: Report) -> RenderableType:
    title = "incident diagnosis"
    v = report.verdict
    if v.status == "incident" and report.root_causes:
        top = report.root_causes[0]
        title += f": {top.service} {top.kind}"
    elif v.status == "no-incident":
        title += ": no incident found"
    else:
        title += ": inconclusive"
    lines = Text()
    style = {"incident": "bold red", "no-incident": "bold green", "inconclusive": "bold yellow"}
    lines.append(f"verdict: {v.status}", style=style[v.status])
    if v.status != "inconclusive" or v.confidence:
        lines.append(f" (confidence {v.confidence:.2f})")
    if v.reason:
        lines.append(f": {v.reason}")
    label, shown = shown_alternatives(v)
    for alternative in shown:
        lines.append(f"\n  {label.lower()}: {alternative}", style="dim")
    lines.append("\n")
    w = report.window
    lines.append(f"window {utc(w.start)} to {utc(w.end)} UTC", style="dim")
    if w.incident_start and v.status != "no-incident":
        lines.append(f"\nincident from {utc(w.incident_start)}", style="bold")
        if report.impact.duration_s is not None:
            lines.append(f" for {format_duration(report.impact.duration_s)}")
    lines.append(f"\nbaseline: {w.baseline}", style="dim")
    imp = report.impact
    if imp.traces:
        lines.append(
            f"\n{imp.traces:,} traces, {imp.traces_failed:,} failed, {imp.traces_slow:,} slow; "
            f"user-facing: {'yes' if imp.user_facing else 'no'}"
        )
    return Panel(lines, title=Text(title, style="bold"), title_align="left", box=box.ROUNDED)


def _root_causes(report: Report) -> RenderableType:
    if report.verdict.status == "no-incident":
        return Text("No incident: nothing to blame.", style="green")
    if not report.root_causes:
        return Text("No root cause could be ranked from the data read.", style="yellow")
    table = _table(
        "Root causes (ranked)",
        ("#", "right"),
        ("cause", "left"),
        ("class", "left"),
        ("score", "right"),
    )
    for i, rc in enumerate(report.root_causes[:_MAX_ROWS], start=1):
        cause = Text(rc.service, style="bold red" if i == 1 else "bold")
        if rc.operation:
            cause.append(f" {rc.operation}")
        cause.append(f"\n{rc.summary}", style="default")
        where = [
            f"instance {rc.instance}" if rc.instance else "",
            f"version {rc.version}" if rc.version else "",
        ]
        if any(where):
            cause.append("\n" + ", ".join(x for x in where if x), style="dim")
        if rc.evidence:
            cause.append("\nevidence " + " ".join(rc.evidence), style="cyan")
        table.add_row(
            str(i), cause, Text(f"{rc.kind}\n{rc.category}/{rc.origin}"), f"{rc.score:.2f}"
        )
    return table


def _impact(report: Report) -> RenderableType | None:
    eps = report.impact.entrypoints
    if not eps:
        return None
    table = _table(
        "Entry points",
        ("entry point", "left"),
        ("req", "right"),
        ("err", "right"),
        ("p50", "right"),
        ("p99", "right"),
        ("base p99", "right"),
        ("base req", "right"),
    )
    for ep in eps[:_MAX_ROWS]:
        name = Text(f"{ep.service} {ep.operation}")
        if ep.business_critical:
            name.append(" *", style="bold red")
        err = Text(format_pct(ep.error_rate), style="red" if ep.error_rate > 0.05 else "")
        table.add_row(
            name,
            f"{ep.requests:,}",
            err,
            format_ms(ep.p50_ms),
            format_ms(ep.p99_ms),
            format_ms(ep.baseline_p99_ms) if ep.baseline_p99_ms else "-",
            f"{ep.baseline_requests:,}" if ep.baseline_requests else "-",
        )
    if any(ep.business_critical for ep in eps):
        table.caption = "* business-critical"
        table.caption_justify = "left"
    return table


def _latency(report: Report) -> RenderableType | None:
    if not report.latency_inflation:
        return None
    # Nothing to compare with: where the time goes, not what grew.
    compared = report.window.compared
    columns = (("base", "right"), ("now", "right"), ("added", "right"))
    table = _table(
        "Latency inflation" if compared else "Critical-path time per hop (no baseline)",
        ("hop", "left"),
        ("where", "left"),
        *(columns if compared else (("per request", "right"),)),
        ("share", "right"),
    )
    for li in report.latency_inflation[:_MAX_ROWS]:
        hop = li.service + (f" {li.operation}" if li.operation else "")
        times: list[str | Text] = [format_ms(li.incident_ms)]
        if compared:
            added = Text("+" + format_ms(li.added_ms), style="yellow")
            times = [before_ms(li), *times, added]
        table.add_row(Text(hop), Text(li.edge or "self"), *times, format_pct(li.share))
    return table


def _failures(report: Report) -> RenderableType | None:
    if not report.failures:
        return None
    table = _table(
        "Failures",
        ("where", "left"),
        ("class", "left"),
        ("count", "right"),
        ("felt", "left"),
        ("example", "left"),
    )
    for f in report.failures[:_MAX_ROWS]:
        where = f.service + (f" {f.operation}" if f.operation else "")
        felt = Text(felt_by(f.user_facing, f.category), style="red" if f.user_facing else "green")
        table.add_row(
            Text(where), f"{f.category}\n{f.origin}", f"{f.count:,}", felt, Text(f.example[:120])
        )
    return table


_EIGHTHS = " ▏▎▍▌▋▊▉"


def waterfall_bar(start: float, length: float, total: float, cells: int) -> str:
    """A bar of block characters placed at `start` on a track `cells` wide, 1/8-cell precise."""
    if total <= 0 or cells <= 0:
        return " " * max(cells, 0)
    scale = cells * 8 / total
    begin = min(int(start * scale), cells * 8 - 1)
    end = max(begin + 1, min(round((start + length) * scale), cells * 8))
    track = []
    for cell in range(cells):
        lo, hi = cell * 8, cell * 8 + 8
        filled = max(0, min(hi, end) - max(lo, begin))
        if filled >= 8:
            track.append("█")
        elif filled == 0:
            track.append(" ")
        elif max(lo, begin) == lo:
            track.append(_EIGHTHS[filled])
        else:
            # The bar starts inside this cell; a right-aligned partial block has no glyph,
            # so draw the nearest left-aligned one rather than nothing.
            track.append("▐" if filled >= 4 else "▕")
    return "".join(track)


def _waterfall(path: CriticalPath, width: int) -> RenderableType:
    label_w = max(12, min(48, width * 2 // 5))
    time_w = 10
    bar_w = max(4, width - label_w - time_w - 2)
    total = max((s.start_ms + s.duration_ms for s in path.steps), default=0.0) or path.duration_ms
    heaviest = max(path.steps, key=lambda s: s.self_ms) if path.steps else None
    lines: list[Text] = [
        Text(
            f"Critical path of a {path.label} request: {path.entrypoint} "
            f"({format_ms(path.duration_ms)}, trace {path.trace_id})",
            style="bold",
        )
    ]
    for step in path.steps[:30]:
        label = Text("  " * min(step.depth, 6) + f"{step.service} {step.operation}")
        label.truncate(label_w, overflow="ellipsis", pad=True)
        style = "red" if step.error else ("yellow" if step is heaviest else "blue")
        line = Text()
        line.append_text(label)
        line.append(" ")
        line.append(waterfall_bar(step.start_ms, step.duration_ms, total, bar_w), style=style)
        line.append(" ")
        line.append(format_ms(step.duration_ms).rjust(time_w)[-time_w:])
        lines.append(line)
    if len(path.steps) > 30:
        lines.append(Text(f"... {len(path.steps) - 30} more steps", style="dim"))
    legend = Text("█ span  ", style="blue")
    legend.append("█ most self time  ", style="yellow")
    legend.append("█ error", style="red")
    lines.append(legend)
    for line in lines[1:]:
        line.no_wrap = True
        line.overflow = "crop"
    return Group(*lines)


def _timeline(report: Report) -> RenderableType | None:
    if not report.timeline:
        return None
    table = _table("Timeline (UTC)", ("time", "left"), ("source", "left"), ("event", "left"))
    for event in report.timeline[: _MAX_ROWS * 2]:
        table.add_row(Text(utc(event.time)), event.source, Text(event.event))
    return table


def _log_templates(report: Report) -> RenderableType | None:
    if not report.log_templates:
        return None
    table = _table("Top log templates", ("count", "right"), ("level", "left"), ("template", "left"))
    for t in report.log_templates[:10]:
        template = Text(t.template)
        change = format_change(t.new, t.surge)
        if change:
            template.append(f"  {change}", style="bold yellow" if t.new else "yellow")
        table.add_row(f"{t.count:,}", Text(t.level or "-"), template)
    return table


def _alerts(report: Report) -> RenderableType | None:
    if not report.alerts:
        return None
    table = _table(
        "Alerts", ("alert", "left"), ("sev", "left"), ("role", "left"), ("fired (UTC)", "left")
    )
    for a in report.alerts[:_MAX_ROWS]:
        table.add_row(
            Text(f"{a.name} ({a.status})"), Text(a.severity or "-"), a.role, Text(utc(a.starts_at))
        )
    return table


def _actions(report: Report) -> RenderableType | None:
    if not report.actions:
        return None
    text = Text("First actions", style="bold")
    for i, a in enumerate(report.actions[:10], start=1):
        text.append(f"\n{i}. ")
        text.append(a.action, style="bold")
        text.append(f" - {a.why} (risk {a.risk}, {a.source})", style="dim")
    return text


def _ai(report: Report) -> RenderableType:
    ai = report.ai
    if ai.status != "ok":
        verb = "skipped" if ai.status == "skipped" else "failed"
        line = f"AI analysis {verb}: {ai.reason or 'no reason given'}"
        if ai.investigation is not None:
            line += f" ({investigation_line(ai.investigation)})"
        return Text(line, style="dim")
    body = Text()
    if ai.explanation:
        body.append(ai.explanation.strip())
    for i, h in enumerate(ai.hypotheses, start=1):
        body.append(f"\nH{i} ({h.confidence:.0%}) ", style="bold")
        body.append(h.statement)
        if h.evidence:
            body.append(" [" + " ".join(h.evidence) + "]", style="cyan")
        if h.unknown_evidence:
            body.append(" unknown: " + " ".join(h.unknown_evidence), style="red")
    if ai.blast_radius_review:
        body.append("\nBlast radius: ", style="bold")
        body.append(ai.blast_radius_review.strip())
    for a in ai.first_actions:
        body.append(f"\n- {a.action}", style="bold")
        body.append(f" (risk {a.risk}) {a.why}".rstrip(), style="dim")
    for q in ai.open_questions:
        body.append(f"\n? {q}")
    usage = ai.usage
    subtitle = f"{ai.model or 'model'}, {usage.input_tokens:,} in / {usage.output_tokens:,} out"
    if ai.investigation is not None:
        subtitle += "; " + investigation_line(ai.investigation)
    return Panel(
        body,
        title=Text("AI analysis - model output, verify against evidence", style="bold magenta"),
        title_align="left",
        subtitle=Text(subtitle, style="dim"),
        box=box.ROUNDED,
    )


def _quality(report: Report) -> RenderableType:
    dq = report.data_quality
    text = Text(
        f"read {dq.spans:,} spans, {dq.traces:,} traces, {dq.logs:,} logs, {dq.alerts:,} alerts; "
        f"orphans {dq.orphans:,}, duplicates {dq.duplicates:,}, skipped {dq.skipped:,}, "
        f"clock skew fixed {dq.clock_skew_adjusted:,}",
        style="dim",
    )
    for warning in dq.warnings[:10]:
        text.append(f"\nwarning: {warning}", style="yellow")
    return text


def _blocks(report: Report, width: int) -> Iterator[RenderableType]:
    yield _header(report)
    yield _root_causes(report)
    path = representative_path(report)
    optional: list[RenderableType | None] = [
        _impact(report),
        _latency(report),
        _failures(report),
        _waterfall(path, width) if path is not None else None,
        _timeline(report),
        _log_templates(report),
        _alerts(report),
        _actions(report),
    ]
    for block in optional:
        if block is not None:
            yield Text("")
            yield block
    yield Text("")
    yield _ai(report)
    yield Rule(style="dim")
    yield _quality(report)


def render_console(
    report: Report,
    *,
    width: int | None = None,
    color: bool | None = None,
    file: TextIO | None = None,
) -> None:
    """Print the terminal view of `report` to `file` (stdout by default).

    Every string of the report is untrusted: control characters (ANSI escapes, CR, BS, NUL)
    and invisible or bidi characters are shown in a visible form, never sent raw."""
    report = safe_model(report, _MULTILINE_FIELDS)
    console = make_console(width=width, color=color, file=file)
    for block in _blocks(report, console.width):
        console.print(block)


# --- progress -----------------------------------------------------------------------------


class _ProgressBars:
    """One bar per label on stderr, started on first use and cleared when all are done."""

    def __init__(self, file: TextIO | None) -> None:
        console = Console(file=file, stderr=file is None, markup=False, emoji=False)
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}
        self._running = False

    def __call__(self, label: str, done: int, total: int) -> None:
        size = total if total > 0 else None
        label = visible(label)  # a file name can hold escapes too
        # One bar for the whole read: the label names the input being read now.
        key = "inputs"
        if key not in self._tasks:
            if not self._running:
                self._progress.start()
                self._running = True
                atexit.register(self.close)
            self._tasks[key] = self._progress.add_task(label, total=size)
        self._progress.update(self._tasks[key], completed=done, total=size, description=label)
        if size is not None and done >= size:
            self._progress.update(self._tasks[key], visible=False)
        if all(t.finished or not t.visible for t in self._progress.tasks):
            self.close()

    def close(self) -> None:
        if self._running:
            self._progress.stop()
            self._running = False


def _silent(label: str, done: int, total: int) -> None:
    """Progress callback that shows nothing (stderr is not a terminal, or progress is off)."""


def progress_reporter(
    enabled: bool, *, file: TextIO | None = None
) -> Callable[[str, int, int], None]:
    """A callback (label, done, total inputs; total <= 0 when unknown) for long reads.

    It draws rich progress bars on stderr (or `file`) only when enabled and that stream is a
    terminal; otherwise it does nothing, so pipes and CI logs stay clean.
    """
    stream = file if file is not None else sys.stderr
    if not enabled or not stream.isatty():
        return _silent
    return _ProgressBars(file)
