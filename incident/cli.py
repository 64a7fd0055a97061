"""The `incident` command line: thin typer commands; errors become exit codes here.

Heavy modules (the engine, rich, the Anthropic SDK) are imported inside the commands that
need them so `incident --help` stays instant.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from incident import log
from incident.errors import AIError, IncidentError, UsageError

if TYPE_CHECKING:
    from incident.model import Bundle
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

T = TypeVar("T")


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


InputsArg = Annotated[
    list[str],
    typer.Argument(
        help="Trace, log or alert files, directories, '-' for stdin, or .gz of any of these.",
        show_default=False,
        metavar="INPUT...",
    ),
]
LogsOpt = Annotated[
    list[str] | None, typer.Option("--logs", help="A log file (JSON Lines, OTLP, text).")
]
AlertsOpt = Annotated[
    list[str] | None, typer.Option("--alerts", help="An alert payload (any supported tool).")
]
BaselineOpt = Annotated[
    list[str] | None,
    typer.Option("--baseline", help="A fault-free export to compare the incident against."),
]
MaxTokensOpt = Annotated[
    int, typer.Option("--max-digest-tokens", min=500, help="Upper bound on the digest size.")
]


def _interactive() -> bool:
    """Progress only for a person watching: both streams on a terminal, not in pipes or CI."""
    return sys.stderr.isatty() and sys.stdout.isatty()


def _progress() -> Callable[[str, int, int], None] | None:
    if not _interactive():
        return None
    from incident.render.console import progress_reporter

    return progress_reporter(True)


def _input_bytes(paths: list[str]) -> int:
    total = 0
    for path in paths:
        p = Path(path)
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def _load(inputs: list[str], logs: list[str] | None, alerts: list[str] | None) -> Bundle:
    from incident.ingest import load

    paths = [*inputs, *(logs or ()), *(alerts or ())]
    # Big inputs take seconds to read: say so on a terminal, stay quiet in pipes and CI.
    size = _input_bytes(paths) if _interactive() else 0
    chatty = size > 20 * 2**20
    started = time.monotonic()
    if chatty:
        log.info("input.reading", f"reading {size / 2**20:.0f} MB from {len(paths)} input(s)...")
    bundle = load(inputs, logs or (), alerts or (), progress=_progress())
    for item in bundle.inputs:
        log.debug(
            "input.loaded",
            f"{item.path}: {item.kind} ({item.format}), {item.records} records",
            path=item.path,
            kind=item.kind,
            format=item.format,
            records=item.records,
        )
    if chatty:
        log.info(
            "input.read",
            f"read {len(bundle.spans):,} spans, {len(bundle.logs):,} log records and "
            f"{len(bundle.alerts):,} alerts in {time.monotonic() - started:.1f}s; analysing...",
            seconds=round(time.monotonic() - started, 3),
        )
    return bundle


def _diagnose_bundle(
    inputs: list[str],
    logs: list[str] | None,
    alerts: list[str] | None,
    baseline: list[str] | None,
) -> Report:
    from incident.analysis import diagnose

    bundle = _load(inputs, logs, alerts)
    base = _load(baseline, None, None) if baseline else None
    started = time.monotonic()
    report = diagnose(bundle, base)
    elapsed = time.monotonic() - started
    log.debug("analysis.done", f"analysed in {elapsed:.2f}s", seconds=round(elapsed, 3))
    return report


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the output: {exc.strerror}") from exc
    log.info("output.written", f"wrote {output}", path=str(output))


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


@app.command()
def diagnose(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    baseline: BaselineOpt = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the result here.")
    ] = None,
    fmt: Annotated[
        DiagnoseFormat | None,
        typer.Option(
            "--format",
            help="md (default with -o or when piped), json, or text (default on a terminal).",
        ),
    ] = None,
    template: Annotated[
        Path | None, typer.Option("--template", help="A Markdown template to render with.")
    ] = None,
    ai: Annotated[
        bool | None,
        typer.Option(
            "--ai/--no-ai", help="Ask Claude (default: on when ANTHROPIC_API_KEY is set)."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", envvar="INCIDENT_MODEL", help="Claude model id.")
    ] = None,
    ai_timeout: Annotated[
        float, typer.Option("--ai-timeout", min=1.0, help="Seconds per model attempt.")
    ] = 60.0,
    max_digest_tokens: MaxTokensOpt = 8000,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not reuse cached answers.")
    ] = False,
    require_ai: Annotated[
        bool, typer.Option("--require-ai", help="Exit 3 when the AI step fails.")
    ] = False,
) -> None:
    """Diagnose an incident: root cause, impact, timeline, and a postmortem draft."""
    if fmt is None:
        fmt = DiagnoseFormat.md if output or not sys.stdout.isatty() else DiagnoseFormat.text
    template_text = _read_template(template)
    started = time.monotonic()
    report = _diagnose_bundle(inputs, logs, alerts, baseline)
    _run_ai(report, ai, model, ai_timeout, max_digest_tokens, not no_cache)
    elapsed = time.monotonic() - started
    log.info("diagnose.done", f"diagnosed in {elapsed:.1f}s", seconds=round(elapsed, 3))
    if fmt is DiagnoseFormat.json:
        from incident.render.json import render_json

        _write(render_json(report), output)
    elif fmt is DiagnoseFormat.md:
        from incident.render.markdown import render_markdown

        _write(render_markdown(report, template_text), output)
    else:
        from incident.render.console import render_console

        if output is not None:
            with output.open("w", encoding="utf-8") as fh:
                render_console(report, file=fh, color=False)
            log.info("output.written", f"wrote {output}", path=str(output))
        else:
            render_console(report)
    if require_ai and report.ai.status != "ok":
        raise AIError(
            f"the AI step did not succeed ({report.ai.reason}) and --require-ai was given"
        )


def _read_template(template: Path | None) -> str | None:
    if template is None:
        return None
    try:
        return template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{template}: cannot read the template ({exc})") from exc


def _run_ai(
    report: Report,
    ai: bool | None,
    model: str | None,
    timeout: float,
    max_tokens: int,
    use_cache: bool,
) -> None:
    """Fill report.ai and report.redactions; never fails the run."""
    from incident.digest import build_digest
    from incident.redact import Redactor
    from incident.report import AIResult

    redactor = Redactor()
    digest = build_digest(report, max_tokens=max_tokens, redactor=redactor)
    report.redactions = dict(redactor.counts)
    has_key = bool(os.environ.get("ANTHROPIC_API_KEY"))
    if ai is False:
        report.ai = AIResult(status="skipped", reason="turned off with --no-ai")
        return
    if not has_key:
        report.ai = AIResult(status="skipped", reason="ANTHROPIC_API_KEY is not set")
        if ai is None:
            log.info(
                "ai.skipped",
                "AI step skipped: ANTHROPIC_API_KEY is not set (use --no-ai to silence this)",
            )
        else:
            log.warning(
                "ai.skipped", "AI step skipped: --ai was given but ANTHROPIC_API_KEY is not set"
            )
        return
    from incident.llm import DEFAULT_MODEL, explain

    result = explain(
        digest,
        model=model or DEFAULT_MODEL,
        timeout=timeout,
        use_cache=use_cache,
        redactor=redactor,
        # Only ids the model actually saw may be cited; the digest may leave some out.
        evidence_ids=set(digest.evidence_ids),
    )
    report.ai = result
    if result.status == "failed":
        log.warning(
            "ai.failed",
            f"AI step failed: {result.reason}; the deterministic report is complete",
            reason=result.reason,
        )
    else:
        u = result.usage
        cost = f", about ${u.estimated_cost_usd:.4f}" if u.estimated_cost_usd is not None else ""
        cached = " (cached answer)" if result.cached else ""
        log.info(
            "ai.done",
            f"AI: {result.model}{cached}: {u.input_tokens} input + {u.output_tokens} output "
            f"tokens{cost}",
            model=result.model,
            cached=result.cached,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            estimated_cost_usd=u.estimated_cost_usd,
        )


@app.command()
def inspect(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    fmt: Annotated[InspectFormat, typer.Option("--format")] = InspectFormat.text,
) -> None:
    """Show what was read: formats, counts, services, time range, data-quality warnings."""
    from incident.analysis.inventory import inventory

    inv = inventory(_load(inputs, logs, alerts))
    if fmt is InspectFormat.json:
        import json

        _write(json.dumps(inv, indent=2), None)
    else:
        from incident.render.text import render_inventory

        _write(render_inventory(inv), None)


@app.command()
def triage(
    payload: Annotated[
        str, typer.Argument(help="An alert payload file, or '-' for stdin (the default).")
    ] = "-",
    traces: Annotated[
        list[str] | None,
        typer.Option("--traces", help="Traces to point at the likely cause (optional)."),
    ] = None,
    logs: LogsOpt = None,
    fmt: Annotated[TriageFormat, typer.Option("--format")] = TriageFormat.text,
) -> None:
    """Alert payloads (stdin by default) -> what fires, symptom or cause, first actions."""
    from incident.analysis.triage import triage as run_triage
    from incident.render.triage import render_triage

    bundle = _load([], None, [payload])
    report = None
    if traces or logs:
        from incident.analysis import diagnose as run_diagnose

        evidence = _load(traces or [], logs, [])
        evidence.alerts.extend(bundle.alerts)
        report = run_diagnose(evidence)
    result = run_triage(bundle.alerts, bundle.notices, report, now_ns=time.time_ns())
    _write(render_triage(result, fmt.value), None)


@app.command()
def redact(
    file: Annotated[str, typer.Argument(help="A trace, log or alert file, or '-'.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the same file, same format, with secrets and personal data replaced."""
    from incident.ingest.sources import read_source
    from incident.redact import Redactor, redact_file_bytes

    name, data = read_source(file)
    redactor = Redactor()
    out = redact_file_bytes(data, name, redactor)
    if output is None:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    else:
        try:
            output.write_bytes(out)
        except OSError as exc:
            raise UsageError(f"{output}: cannot write the output: {exc.strerror}") from exc
    counts = ", ".join(f"{k} {v}" for k, v in sorted(redactor.counts.items()) if v) or "nothing"
    log.info("redact.done", f"redacted: {counts}", counts=dict(redactor.counts))


@app.command()
def digest(
    inputs: InputsArg,
    logs: LogsOpt = None,
    alerts: AlertsOpt = None,
    baseline: BaselineOpt = None,
    max_digest_tokens: MaxTokensOpt = 8000,
) -> None:
    """Print exactly what would be sent to the model (after redaction), tokens on stderr."""
    from incident.digest import build_digest
    from incident.redact import Redactor

    report = _diagnose_bundle(inputs, logs, alerts, baseline)
    result = build_digest(report, max_tokens=max_digest_tokens, redactor=Redactor())
    _write(result.text, None)
    log.info(
        "digest.done",
        f"digest: about {result.tokens} tokens (limit {max_digest_tokens})",
        tokens=result.tokens,
        limit=max_digest_tokens,
    )


_ERROR_EVENTS = {2: "input_error", 3: "ai_error"}


def main() -> None:
    """Console-script entry point: run the app, turn errors into exit codes.

    Click itself reports usage errors (exit 2); everything of ours is caught here.
    """
    try:
        app()
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
