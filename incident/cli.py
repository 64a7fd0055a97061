"""The `incident` command line: thin typer commands that parse arguments, call
`incident.pipeline`, and turn errors into exit codes. Nothing is decided here.

Heavy modules (the engine, rich, the Anthropic SDK) are imported inside the commands that
need them so `incident --help` stays instant.

Size: a little over 500 lines, because each command's options are declared beside it (the
shared ones as Annotated aliases at the top), so a command's interface reads in one place.
"""

from __future__ import annotations

import gzip
import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from incident import log
from incident.errors import AIError, IncidentError, UsageError

if TYPE_CHECKING:
    from incident.model import Bundle
    from incident.pipeline import AIOptions, Progress
    from incident.report import Report

app = typer.Typer(
    name="incident",
    help="Turn exported traces, logs and alerts from an incident into a diagnosis and a "
    "postmortem draft.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state = {"debug": False}


class DiagnoseFormat(StrEnum):
    md = "md"
    json = "json"
    text = "text"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class InspectFormat(StrEnum):
    json = "json"
    text = "text"


class TriageFormat(StrEnum):
    md = "md"
    json = "json"
    text = "text"
    slack = "slack"


# The output file's suffix picks the format when --format is not given.
_SUFFIX_FORMATS = {".json": "json", ".md": "md", ".markdown": "md", ".txt": "text"}

InputsArg = Annotated[
    list[str],
    typer.Argument(
        help="Trace, log or alert files, directories, '-' for stdin, or .gz of any of these.",
        show_default=False,
        metavar="INPUT...",
    ),
]
LogsOpt = Annotated[
    list[str] | None,
    typer.Option("--logs", metavar="FILE", help="A log file (JSON Lines, OTLP, text)."),
]
AlertsOpt = Annotated[
    list[str] | None,
    typer.Option("--alerts", metavar="FILE", help="An alert payload (any supported tool)."),
]
BaselineOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--baseline", metavar="FILE", help="A fault-free export to compare the incident against."
    ),
]
MaxTokensOpt = Annotated[
    int,
    typer.Option(
        "--max-digest-tokens", min=500, metavar="N", help="Upper bound on the digest size."
    ),
]
MaxInputOpt = Annotated[
    str | None,
    typer.Option(
        "--max-input-size",
        metavar="SIZE",
        help="Largest input read, after decompression (e.g. 4G, 500M; default 4G, "
        "env INCIDENT_MAX_INPUT_SIZE).",
        show_default=False,
    ),
]
NoRedactOpt = Annotated[
    bool,
    typer.Option(
        "--no-redact", help="Keep raw values in this local output (it is redacted by default)."
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", metavar="FILE", help="Write the result here (atomically)."),
]
AIOpt = Annotated[
    bool | None,
    typer.Option("--ai/--no-ai", help="Ask Claude (default: on when ANTHROPIC_API_KEY is set)."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", envvar="INCIDENT_MODEL", metavar="MODEL", help="Claude model id."),
]
AITimeoutOpt = Annotated[
    float,
    typer.Option(
        "--ai-timeout",
        min=1.0,
        metavar="SECONDS",
        help="Seconds the whole AI step may take, retries included.",
    ),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not reuse cached answers.")]
RequireAIOpt = Annotated[bool, typer.Option("--require-ai", help="Exit 3 when the AI step fails.")]


def _interactive() -> bool:
    """Progress only for a person watching: both streams on a terminal, not in pipes or CI."""
    return sys.stderr.isatty() and sys.stdout.isatty()


def _progress() -> Progress | None:
    if not _interactive():
        return None
    from incident.render.console import progress_reporter

    return progress_reporter(True)


def _max_bytes(size: str | None) -> int | None:
    """The --max-input-size in bytes (None: the environment's or the default)."""
    if size is None:
        return None
    from incident.ingest.sources import parse_size

    try:
        return parse_size(size)
    except ValueError as exc:
        raise UsageError(
            f"--max-input-size {size!r} is not a size: give bytes, or a number with K, M or G"
        ) from exc


def _load(
    inputs: list[str],
    logs: list[str] | None = None,
    alerts: list[str] | None = None,
    max_bytes: int | None = None,
) -> Bundle:
    from incident import pipeline

    return pipeline.load(
        inputs,
        logs or (),
        alerts or (),
        progress=_progress(),
        announce=_interactive(),
        max_bytes=max_bytes,
    )


def _starts_with_gzip(path: str) -> bool:
    """Whether a file (already read, so known to be regular) is gzip-compressed."""
    from incident.ingest.sources import GZIP_MAGIC

    if path == "-":
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return False


def _check_output(output: Path | None) -> None:
    if output is not None:
        from incident.outfile import check_target

        check_target(output)


def _emit(text: str, output: Path | None, *, compress: bool = False) -> None:
    """The result to stdout, or atomically to `output`."""
    data = text if text.endswith("\n") else text + "\n"
    if output is None:
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    from incident.outfile import write_atomic

    raw = data.encode("utf-8")
    write_atomic(output, gzip.compress(raw, mtime=0) if compress else raw)


def _print_version(value: bool) -> None:
    if value:
        from incident import __version__

        print(f"incident {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for errors.", envvar="INCIDENT_DEBUG")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", callback=_print_version, is_eager=True
        ),
    ] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            envvar="INCIDENT_LOG_FORMAT",
            help="How the tool's own diagnostics on stderr look: text (default) or json lines.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Also show debug diagnostics.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Only warnings and errors on stderr.")
    ] = False,
) -> None:
    _state["debug"] = debug
    level = "debug" if verbose or debug else "warning" if quiet else "info"
    log.configure(log_format.value if log_format else None, level)


def _ai_options(
    ai: bool | None, model: str | None, timeout: float, max_tokens: int, no_cache: bool
) -> AIOptions:
    from incident.pipeline import AIOptions

    return AIOptions(
        enabled=ai,
        model=model,
        timeout=timeout,
        max_digest_tokens=max_tokens,
        use_cache=not no_cache,
    )


def _diagnose_format(fmt: DiagnoseFormat | None, output: Path | None) -> DiagnoseFormat:
    if fmt is not None:
        return fmt
    if output is not None:
        suffixes = [s.lower() for s in output.suffixes if s.lower() != ".gz"]
        chosen = _SUFFIX_FORMATS.get(suffixes[-1] if suffixes else "")
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
) -> None:
    """Diagnose an incident: root cause, impact, timeline, and a postmortem draft."""
    from incident import pipeline

    fmt = _diagnose_format(fmt, output)
    _check_output(output)
    template_text = _read_template(template)
    limit = _max_bytes(max_input_size)
    started = time.monotonic()
    bundle = _load(inputs, logs, alerts, limit)
    base = _load(baseline, max_bytes=limit) if baseline else None
    run = pipeline.Run(pipeline.diagnose(bundle, base))
    pipeline.explain(run, _ai_options(ai, model, ai_timeout, max_digest_tokens, no_cache))
    elapsed = time.monotonic() - started
    log.info("diagnose.done", f"diagnosed in {elapsed:.1f}s", seconds=round(elapsed, 3))
    # The terminal view is for the person at it; files and pipes may be shared.
    shared = fmt is not DiagnoseFormat.text and not no_redact
    report = run.shareable() if shared else run.local()
    compress = output is not None and output.suffix.lower() == ".gz"
    if fmt is DiagnoseFormat.json:
        from incident.render.json import render_json

        _emit(render_json(report), output, compress=compress)
    elif fmt is DiagnoseFormat.md:
        from incident.render.markdown import render_markdown

        _emit(render_markdown(report, template_text), output, compress=compress)
    else:
        _render_text(report, output)
    if require_ai and report.ai.status != "ok":
        raise AIError(
            f"the AI step did not succeed ({report.ai.reason}) and --require-ai was given"
        )


def _render_text(report: Report, output: Path | None) -> None:
    """The terminal view, or the same view without colour into `output`."""
    from incident.render.console import render_console

    if output is None:
        render_console(report)
        return
    import io

    buffer = io.StringIO()
    render_console(report, file=buffer, color=False)
    _emit(buffer.getvalue(), output)


def _read_template(template: Path | None) -> str | None:
    if template is None:
        return None
    try:
        return template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{template}: cannot read the template ({exc})") from exc


@app.command()
def inspect(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    fmt: Annotated[InspectFormat, typer.Option("--format")] = InspectFormat.text,
    max_input_size: MaxInputOpt = None,
) -> None:
    """Show what was read: formats, counts, services, time range, data-quality warnings."""
    from incident.analysis.inventory import inventory

    inv = inventory(_load(inputs, logs, alerts, _max_bytes(max_input_size)))
    if fmt is InspectFormat.json:
        import json

        _emit(json.dumps(inv, indent=2), None)
    else:
        from incident.render.text import render_inventory

        _emit(render_inventory(inv), None)


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
) -> None:
    """Alert payloads (stdin by default) -> what fires, symptom or cause, first actions."""
    from incident import pipeline
    from incident.render.triage import render_triage

    if payload == "-" and sys.stdin.isatty():
        raise UsageError(
            "triage reads an alert payload from standard input, and none is piped: pipe one "
            "(curl .../api/v2/alerts | incident triage) or name a file"
        )
    _check_output(output)
    limit = _max_bytes(max_input_size)
    bundle = _load([], None, [payload], limit)
    evidence = _load(traces or [], logs, [], limit) if traces or logs else None
    result = pipeline.triage(bundle.alerts, bundle.notices, evidence)
    if not no_redact:
        result = pipeline.shareable_triage(result)
    _emit(render_triage(result, fmt.value), output)


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

    _check_output(output)
    name, data = read_source(file, max_bytes=_max_bytes(max_input_size))
    redactor = Redactor()
    out = redact_file_bytes(data, name, redactor)
    compress = _starts_with_gzip(file) or (output is not None and output.suffix.lower() == ".gz")
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
) -> None:
    """Print exactly what would be sent to the model (after redaction), tokens on stderr."""
    from incident import pipeline

    limit = _max_bytes(max_input_size)
    bundle = _load(inputs, logs, alerts, limit)
    base = _load(baseline, max_bytes=limit) if baseline else None
    run = pipeline.Run(pipeline.diagnose(bundle, base))
    result = pipeline.build_digest(run, max_digest_tokens)
    _emit(result.text, None)
    log.info(
        "digest.done",
        f"digest: about {result.tokens} tokens (limit {max_digest_tokens})",
        tokens=result.tokens,
        limit=max_digest_tokens,
    )


_ERROR_EVENTS = {2: "input_error", 3: "ai_error"}


def _constant(text: str) -> Any:
    def value(*_: object, **__: object) -> str:
        return text

    return value


def _plain_arguments(command: object) -> object:
    """Show positional arguments as people write them (`INPUT...`, `[FILE|-]`), without
    typer's type annotations (`<list[str]>`) and braces in `--help`."""
    from typer.core import TyperArgument

    for sub in getattr(command, "commands", {}).values():
        for param in sub.params:
            if not isinstance(param, TyperArgument):
                continue
            name = param.metavar or (param.name or "ARG").upper()
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
            if not param.required and not name.startswith("["):
                name = f"[{name}]"
            param._usage_display_name = _constant(name)  # type: ignore[method-assign]
            param.display_type_rich = _constant("")  # type: ignore[method-assign]
    return command


def main() -> None:
    """Console-script entry point: run the app, turn errors into exit codes.

    Click itself reports usage errors (exit 2); everything of ours is caught here.
    """
    try:
        command: Any = _plain_arguments(typer.main.get_command(app))
        command(prog_name="incident")
    except IncidentError as exc:
        if _state["debug"]:
            raise
        log.error(_ERROR_EVENTS.get(exc.exit_code, "error"), str(exc), exit_code=exc.exit_code)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        log.error("interrupted", "interrupted", exit_code=130)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): nothing left to say to it.
        os._exit(0)
    except Exception as exc:  # the last line of defence: report a bug, exit 1
        if _state["debug"]:
            raise
        log.error(
            "internal_error",
            f"internal error: {type(exc).__name__}: {exc}. This is a bug; please "
            "report it with the command you ran (rerun with --debug for the traceback).",
            exit_code=1,
        )
        sys.exit(1)
