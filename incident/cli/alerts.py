"""`triage` and `serve`: alert payloads from a shell, or as webhooks from on-call tooling."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from incident import log
from incident.cli.app import app
from incident.cli.common import (
    ai_options,
    analysis_config,
    check_output,
    emit,
    load_inputs,
    max_bytes,
    source_request,
)
from incident.cli.options import (
    AIOpt,
    AITimeoutOpt,
    FromOpt,
    LimitOpt,
    LogsOpt,
    MaxInputOpt,
    MaxTokensOpt,
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
    TriageFormat,
)
from incident.errors import AIError, UsageError


@app.command()
def triage(
    payload: Annotated[
        str,
        typer.Argument(
            help="An alert payload file, or '-' for stdin (the default).", metavar="[FILE|-]"
        ),
    ] = "-",
    traces: Annotated[
        list[str] | None,
        typer.Option(
            "--traces", metavar="FILE", help="Traces to point at the likely cause (optional)."
        ),
    ] = None,
    logs: LogsOpt = None,
    fmt: Annotated[TriageFormat, typer.Option("--format")] = TriageFormat.text,
    output: OutputOpt = None,
    no_redact: NoRedactOpt = False,
    max_input_size: MaxInputOpt = None,
    since: SinceOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    service: ServiceOpt = None,
    query: QueryOpt = None,
    limit_traces: LimitOpt = 200,
    ai: AIOpt = None,
    model: ModelOpt = None,
    ai_timeout: AITimeoutOpt = 60.0,
    max_digest_tokens: MaxTokensOpt = 8000,
    no_cache: NoCacheOpt = False,
    require_ai: RequireAIOpt = False,
    slow_ms: SlowMsOpt = None,
) -> None:
    """Alert payloads (stdin by default) -> what fires, symptom or cause, first actions."""
    from incident import pipeline
    from incident.render.triage import render_triage

    if payload == "-" and sys.stdin.isatty():
        raise UsageError(
            "triage reads an alert payload from standard input, and none is piped: pipe one "
            "(curl .../api/v2/alerts | incident triage) or name a file"
        )
    check_output(output)
    limit = max_bytes(max_input_size)
    source = source_request(since, start, end, service, query, limit_traces)
    bundle = load_inputs([], None, [payload], limit, source)
    evidence = load_inputs(traces or [], logs, [], limit, source) if traces or logs else None
    config = analysis_config(slow_ms)
    result = pipeline.triage(bundle.alerts, bundle.notices, evidence, config=config)
    from incident.redact import Redactor

    redactor = Redactor()  # one per run: the review's placeholders are the output's
    options = ai_options(ai, model, ai_timeout, max_digest_tokens, no_cache)
    review = pipeline.review_triage(result, options, redactor)
    # A skipped review leaves the document as it was (no `ai` field to read).
    attached = None if review.status == "skipped" else review
    if no_redact:
        local = pipeline.restore_triage_ai(review, redactor) if attached else None
        result = result.model_copy(update={"ai": local})
    else:
        result = pipeline.shareable_triage(result.model_copy(update={"ai": attached}), redactor)
    emit(render_triage(result, fmt.value), output)
    if require_ai and review.status != "ok":
        raise AIError(f"the AI step did not succeed ({review.reason}) and --require-ai was given")


@app.command()
def serve(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen", metavar="HOST:PORT", help="Where to listen (default 127.0.0.1:9095)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="TOML: sources, destinations, limits."),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option("--folder", metavar="DIR", help="Write one triage file per alert group here."),
    ] = None,
    queue: Annotated[
        Path | None,
        typer.Option(
            "--queue", metavar="FILE", help="The SQLite queue (default ./incident-queue.sqlite3)."
        ),
    ] = None,
    traces: Annotated[
        list[str] | None,
        typer.Option("--traces", metavar="FILE_OR_URL", help="Evidence for the likely cause."),
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Put the dead letters back in the queue and exit.")
    ] = False,
) -> None:
    """Webhook receiver: alert payloads in, triage out to Slack, webhooks or a folder."""
    from incident import serve as receiver

    settings = receiver.load_settings(
        config, listen=listen, folder=folder, queue=queue, traces=tuple(traces or ())
    )
    if replay:
        count = receiver.replay(settings)
        log.info("serve.replayed", f"{count} dead letter(s) back in {settings.queue}", count=count)
        return
    receiver.run(settings)
