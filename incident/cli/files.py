"""`inspect`, `redact` and `digest`: what was read, a redacted copy, what the model sees."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Annotated

import typer

from incident import log
from incident.cli.app import app
from incident.cli.common import (
    analysis_config,
    baseline_request_for,
    check_output,
    emit,
    load_inputs,
    max_bytes,
    source_request,
    starts_with_gzip,
)
from incident.cli.options import (
    AlertsOpt,
    BaselineFromOpt,
    BaselineOpt,
    BaselineSinceOpt,
    BaselineToOpt,
    FromOpt,
    InputsArg,
    InspectFormat,
    LimitOpt,
    LogsOpt,
    MaxInputOpt,
    MaxTokensOpt,
    QueryOpt,
    ServiceOpt,
    SinceOpt,
    SlowMsOpt,
    ToOpt,
)


@app.command()
def inspect(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    fmt: Annotated[InspectFormat, typer.Option("--format")] = InspectFormat.text,
    max_input_size: MaxInputOpt = None,
    since: SinceOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    service: ServiceOpt = None,
    query: QueryOpt = None,
    limit_traces: LimitOpt = 200,
) -> None:
    """Show what was read: formats, counts, services, time range, data-quality warnings."""
    from incident.analysis.inventory import inventory

    source = source_request(since, start, end, service, query, limit_traces)
    inv = inventory(load_inputs(inputs, logs, alerts, max_bytes(max_input_size), source))
    if fmt is InspectFormat.json:
        import json

        emit(json.dumps(inv, indent=2), None)
    else:
        from incident.render.text import render_inventory

        emit(render_inventory(inv), None)


@app.command()
def redact(
    file: Annotated[str, typer.Argument(help="A trace, log or alert file, or '-'.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write here instead of stdout (gzip when the input was, or the name ends .gz).",
        ),
    ] = None,
    max_input_size: MaxInputOpt = None,
) -> None:
    """Write the same file, same format, with secrets and personal data replaced."""
    from incident.ingest.sources import read_source
    from incident.redact import Redactor, redact_file_bytes

    check_output(output)
    name, data = read_source(file, max_bytes=max_bytes(max_input_size))
    redactor = Redactor()
    out = redact_file_bytes(data, name, redactor)
    compress = starts_with_gzip(file) or (output is not None and output.suffix.lower() == ".gz")
    if compress:
        out = gzip.compress(out, mtime=0)
    if output is None:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    else:
        from incident.outfile import write_atomic

        write_atomic(output, out)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(redactor.counts.items()) if v) or "nothing"
    log.info("redact.done", f"redacted: {counts}", counts=dict(redactor.counts))


@app.command()
def digest(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    baseline: BaselineOpt = None,
    max_digest_tokens: MaxTokensOpt = 8000,
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
    slow_ms: SlowMsOpt = None,
) -> None:
    """Print exactly what would be sent to the model (after redaction), tokens on stderr."""
    from incident import pipeline

    limit = max_bytes(max_input_size)
    source = source_request(since, start, end, service, query, limit_traces)
    base_source = baseline_request_for(source, baseline_since, baseline_from, baseline_to)
    bundle = load_inputs(inputs, logs, alerts, limit, source)
    base = load_inputs(baseline, max_bytes=limit, source=base_source) if baseline else None
    run = pipeline.Run(pipeline.diagnose(bundle, base, config=analysis_config(slow_ms)))
    result = pipeline.build_digest(run, max_digest_tokens)
    emit(result.text, None)
    log.info(
        "digest.done",
        f"digest: about {result.tokens} tokens (limit {max_digest_tokens})",
        tokens=result.tokens,
        limit=max_digest_tokens,
    )
