"""The typer application every command registers on, and the global options."""

from __future__ import annotations

from typing import Annotated

import typer

from incident import log
from incident.cli.options import LogFormat

app = typer.Typer(
    name="incident",
    help="Turn exported traces, logs and alerts from an incident into a diagnosis and a "
    "postmortem draft.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

state = {"debug": False}


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
    state["debug"] = debug
    level = "debug" if verbose or debug else "warning" if quiet else "info"
    log.configure(log_format.value if log_format else None, level)
