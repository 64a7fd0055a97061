"""`diagnose` and `ask`: the report, and questions about it answered through the tools."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from incident import log
from incident.cli.app import app
from incident.cli.common import (
    ai_options,
    analysis_config,
    baseline_request_for,
    check_output,
    emit,
    hold_until_exit,
    load_inputs,
    max_bytes,
    read_template,
    source_request,
)
from incident.cli.options import (
    SUFFIX_FORMATS,
    AIOpt,
    AITimeoutOpt,
    AlertsOpt,
    BaselineFromOpt,
    BaselineOpt,
    BaselineSinceOpt,
    BaselineToOpt,
    DiagnoseFormat,
    FromOpt,
    InputsArg,
    LimitOpt,
    LogsOpt,
    MaxAITokensOpt,
    MaxCostOpt,
    MaxInputOpt,
    MaxTokensOpt,
    MaxTurnsOpt,
    ModelOpt,
    NoCacheOpt,
    NoRedactOpt,
    OutputOpt,
    QueryOpt,
    RequireAIOpt,
    ServiceOpt,
    SinceOpt,
    SlowMsOpt,
    ToOpt,
)
from incident.errors import AIError, UsageError

if TYPE_CHECKING:
    from incident.report import Report
    from incident.sources import ReportAdjuster


def _diagnose_format(fmt: DiagnoseFormat | None, output: Path | None) -> DiagnoseFormat:
    if fmt is not None:
        return fmt
    if output is not None:
        suffixes = [s.lower() for s in output.suffixes if s.lower() != ".gz"]
        chosen = SUFFIX_FORMATS.get(suffixes[-1] if suffixes else "")
        return DiagnoseFormat(chosen) if chosen else DiagnoseFormat.md
    return DiagnoseFormat.md if not sys.stdout.isatty() else DiagnoseFormat.text


@app.command()
def diagnose(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    baseline: BaselineOpt = None,
    output: OutputOpt = None,
    fmt: Annotated[
        DiagnoseFormat | None,
        typer.Option(
            "--format",
            help="md (default with -o, or when piped), json, or text (default on a terminal); "
            "with -o and no --format, the file's suffix (.json, .md, .txt) decides.",
        ),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option("--template", metavar="FILE", help="A Markdown template to render with."),
    ] = None,
    ai: AIOpt = None,
    model: ModelOpt = None,
    ai_timeout: AITimeoutOpt = 60.0,
    max_digest_tokens: MaxTokensOpt = 8000,
    no_cache: NoCacheOpt = False,
    require_ai: RequireAIOpt = False,
    no_redact: NoRedactOpt = False,
    max_input_size: MaxInputOpt = None,
    since: SinceOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    service: ServiceOpt = None,
    query: QueryOpt = None,
    limit_traces: LimitOpt = 200,
    baseline_since: BaselineSinceOpt = None,
    baseline_from: BaselineFromOpt = None,
    baseline_to: BaselineToOpt = None,
    investigate: Annotated[
        bool,
        typer.Option(
            "--investigate",
            help="Let Claude drill down through the tools before it explains (bounded by "
            "--max-turns, --max-ai-tokens and --max-cost).",
        ),
    ] = False,
    max_turns: MaxTurnsOpt = 8,
    max_ai_tokens: MaxAITokensOpt = 200_000,
    max_cost: MaxCostOpt = 1.0,
    slow_ms: SlowMsOpt = None,
) -> None:
    """Diagnose an incident: root cause, impact, timeline, and a postmortem draft."""
    from incident import pipeline

    fmt = _diagnose_format(fmt, output)
    check_output(output)
    template_text = read_template(template)
    limit = max_bytes(max_input_size)
    source = source_request(since, start, end, service, query, limit_traces)
    base_source = baseline_request_for(source, baseline_since, baseline_from, baseline_to)
    started = time.monotonic()
    # Store-wide numbers a source hands back (it may fetch whole only what the report shows).
    fix: list[ReportAdjuster] = []
    fix_base: list[ReportAdjuster] = []
    bundle = load_inputs(inputs, logs, alerts, limit, source, fix)
    base = load_inputs(baseline, None, None, limit, base_source, fix_base) if baseline else None
    config = analysis_config(slow_ms)
    run = pipeline.analyse(bundle, base, adjust=fix, adjust_baseline=fix_base, config=config)
    limits = (max_turns, max_ai_tokens, max_cost)
    options = ai_options(ai, model, ai_timeout, max_digest_tokens, no_cache, limits)
    (pipeline.investigate if investigate else pipeline.explain)(run, options)
    elapsed = time.monotonic() - started
    log.info("diagnose.done", f"diagnosed in {elapsed:.1f}s", seconds=round(elapsed, 3))
    # The terminal view is for the person at it; files and pipes may be shared.
    shared = fmt is not DiagnoseFormat.text and not no_redact
    report = run.shareable() if shared else run.local()
    _write(report, fmt, output, template_text)
    hold_until_exit(run, bundle, base)
    if require_ai and report.ai.status != "ok":
        raise AIError(
            f"the AI step did not succeed ({report.ai.reason}) and --require-ai was given"
        )


def _write(report: Report, fmt: DiagnoseFormat, output: Path | None, template: str | None) -> None:
    """The report in the chosen format, to stdout or atomically to `output` (.gz: gzip)."""
    compress = output is not None and output.suffix.lower() == ".gz"
    if fmt is DiagnoseFormat.json:
        from incident.render.json import render_json

        emit(render_json(report), output, compress=compress)
    elif fmt is DiagnoseFormat.md:
        from incident.render.markdown import render_markdown

        emit(render_markdown(report, template), output, compress=compress)
    else:
        _render_text(report, output)


def _render_text(report: Report, output: Path | None) -> None:
    """The terminal view, or the same view without colour into `output`."""
    from incident.render.console import render_console

    if output is None:
        render_console(report)
        return
    import io

    buffer = io.StringIO()
    render_console(report, file=buffer, color=False)
    emit(buffer.getvalue(), output)


class AskFormat(StrEnum):
    text = "text"
    md = "md"
    json = "json"


@app.command()
def ask(
    question: Annotated[
        str, typer.Argument(help="The question, in quotes.", metavar="QUESTION", show_default=False)
    ],
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    baseline: BaselineOpt = None,
    output: OutputOpt = None,
    fmt: Annotated[AskFormat, typer.Option("--format")] = AskFormat.text,
    ai: AIOpt = None,
    model: ModelOpt = None,
    ai_timeout: AITimeoutOpt = 180.0,
    max_digest_tokens: MaxTokensOpt = 8000,
    no_cache: NoCacheOpt = False,
    require_ai: RequireAIOpt = False,
    no_redact: NoRedactOpt = False,
    max_input_size: MaxInputOpt = None,
    max_turns: MaxTurnsOpt = 8,
    max_ai_tokens: MaxAITokensOpt = 200_000,
    max_cost: MaxCostOpt = 1.0,
    slow_ms: SlowMsOpt = None,
) -> None:
    """A question about the incident, answered by Claude through the tools."""
    from incident import pipeline
    from incident.render.answer import render_answer

    if not question.strip():
        raise UsageError("ask: the question is empty")
    check_output(output)
    limit = max_bytes(max_input_size)
    bundle = load_inputs(inputs, logs, alerts, limit)
    base = load_inputs(baseline, max_bytes=limit) if baseline else None
    run = pipeline.analyse(bundle, base, config=analysis_config(slow_ms))
    limits = (max_turns, max_ai_tokens, max_cost)
    options = ai_options(ai, model, ai_timeout, max_digest_tokens, no_cache, limits)
    pipeline.investigate(run, options, question=question)
    # The terminal text is local (placeholders mapped back); md and json may be shared.
    shared = fmt is not AskFormat.text and not no_redact
    report = run.shareable() if shared else run.local()
    shown = run._redactor().redact_text(question) if shared else question
    emit(render_answer(report, shown, fmt.value), output)
    if require_ai and report.ai.status != "ok":
        raise AIError(
            f"the AI step did not succeed ({report.ai.reason}) and --require-ai was given"
        )
