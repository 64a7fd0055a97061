"""`mcp` and `load`: the tools for MCP clients, and exports moved into a ClickHouse store."""

from __future__ import annotations

from typing import Annotated

import typer

from incident import log
from incident.cli.app import app
from incident.cli.common import progress


@app.command()
def mcp(
    roots: Annotated[
        list[str],
        typer.Option(
            "--root",
            metavar="DIR",
            help="A folder whose files clients may read (repeatable); paths outside are refused.",
        ),
    ],
) -> None:
    """MCP server on stdio: the commands and the drill-down tools over files under --root."""
    from incident.mcp import serve as serve_mcp

    serve_mcp(roots)


@app.command()
def load(
    exports: Annotated[list[str], typer.Argument(help="Trace exports: files or directories.")],
    into: Annotated[
        str,
        typer.Option(
            "--into",
            metavar="URL",
            help="clickhouse://HOST[:PORT][/DB] or chdb:PATH (credentials from "
            "INCIDENT_CLICKHOUSE_USER / INCIDENT_CLICKHOUSE_PASSWORD).",
        ),
    ],
) -> None:
    """Write exports into a ClickHouse store (the OpenTelemetry exporter's otel_traces)."""
    from incident.sources.clickhouse import load_into

    done = load_into(exports, into, progress=progress())
    log.info(
        "load.done",
        f"loaded {done.spans:,} spans from {done.files} file(s) into {into}",
        spans=done.spans,
        files=done.files,
    )
