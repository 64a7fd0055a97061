"""The `incident` command line: thin typer commands that parse arguments, call
`incident.pipeline`, and turn errors into exit codes. Nothing is decided here.

`app` holds the global options; each module registers its commands on it (`diagnose`:
diagnose, ask; `files`: inspect, redact, digest; `alerts`: triage, serve; `stores`: mcp,
load). The shared options are Annotated aliases in `options`, the shared steps (reading
inputs and live sources, writing results) in `common`. Heavy modules (the engine, rich, the
SDKs) are imported inside the commands that need them so `incident --help` stays instant.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import Any

import typer

from incident import log
from incident.cli import alerts, common, diagnose, files, stores
from incident.cli.app import app, state
from incident.errors import IncidentError

__all__ = ["alerts", "app", "diagnose", "files", "main", "run", "stores"]

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


def run() -> None:
    """The process's entry point (the `incident` script, `python -m incident`): `main`, then,
    when the command held big results (see `common.hold_until_exit`), a direct exit once the
    exit handlers ran and the output is flushed. Freeing a million spans object by object
    costs about as long as a tenth of reading them, for memory the system takes back anyway.
    """
    common.hold_enabled = True
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if common.holding() and (code is None or isinstance(code, int)):
            _exit_now(code or 0)
        raise


def _exit_now(code: int) -> None:
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A reader gone away or a stream closed: nothing left to say to it.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    """Run the app, turn errors into exit codes (`run` wraps this for the process; tests
    call it in-process).

    Click itself reports usage errors (exit 2); everything of ours is caught here.
    """
    try:
        command: Any = _plain_arguments(typer.main.get_command(app))
        command(prog_name="incident")
    except IncidentError as exc:
        if state["debug"]:
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
        if state["debug"]:
            raise
        log.error(
            "internal_error",
            f"internal error: {type(exc).__name__}: {exc}. This is a bug; please "
            "report it with the command you ran (rerun with --debug for the traceback).",
            exit_code=1,
        )
        sys.exit(1)
