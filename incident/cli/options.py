"""The options commands share, declared once as Annotated aliases, and the output formats."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


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
SUFFIX_FORMATS = {".json": "json", ".md": "md", ".markdown": "md", ".txt": "text"}

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
# The default is AnalysisConfig's (imported only when a command runs; a test holds the two
# equal).
SlowMsOpt = Annotated[
    float | None,
    typer.Option(
        "--slow-ms",
        min=1.0,
        metavar="MS",
        help="A request slower than this is slow where no baseline tells its usual time "
        "(default 1000; an entry point with 20 or more baseline requests: slower than "
        "their p99).",
    ),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not reuse cached answers.")]
RequireAIOpt = Annotated[bool, typer.Option("--require-ai", help="Exit 3 when the AI step fails.")]
MaxTurnsOpt = Annotated[
    int,
    typer.Option(
        "--max-turns", min=1, max=50, metavar="N", help="Most requests of an investigation."
    ),
]
MaxAITokensOpt = Annotated[
    int,
    typer.Option(
        "--max-ai-tokens",
        min=1000,
        metavar="N",
        help="Most tokens (input, output and cache) an investigation may use in all.",
    ),
]
MaxCostOpt = Annotated[
    float,
    typer.Option(
        "--max-cost",
        min=0.0,
        metavar="USD",
        help="Most an investigation may cost, estimated from list prices.",
    ),
]
# Live sources (jaeger+http://, tempo+http://, loki+http://, alertmanager+http://): the window,
# what to ask for and how many traces to fetch (see README, "Live sources").
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", metavar="DURATION", help="Live sources: the last 30m, 2h, 1d..."),
]
FromOpt = Annotated[
    str | None,
    typer.Option("--from", metavar="TIME", help="Live sources: window start (RFC 3339)."),
]
ToOpt = Annotated[
    str | None,
    typer.Option("--to", metavar="TIME", help="Live sources: window end (RFC 3339; default now)."),
]
ServiceOpt = Annotated[
    str | None, typer.Option("--service", metavar="NAME", help="Live sources: one service.")
]
QueryOpt = Annotated[
    str | None,
    typer.Option(
        "--query",
        metavar="QUERY",
        help="Live sources: TraceQL (Tempo), LogQL (Loki), label matchers (Alertmanager), "
        "an operation or trace ids (Jaeger).",
    ),
]
LimitOpt = Annotated[
    int,
    typer.Option(
        "--limit",
        min=1,
        metavar="N",
        help="Live sources: traces fetched whole (failed, slowest, then a random share).",
    ),
]
BaselineSinceOpt = Annotated[
    str | None,
    typer.Option(
        "--baseline-since",
        metavar="DURATION",
        help="Live baseline: this long just before the incident window "
        "(default: the incident window one day earlier).",
    ),
]
BaselineFromOpt = Annotated[
    str | None,
    typer.Option("--baseline-from", metavar="TIME", help="Live baseline: start (RFC 3339)."),
]
BaselineToOpt = Annotated[
    str | None,
    typer.Option("--baseline-to", metavar="TIME", help="Live baseline: end (RFC 3339)."),
]
