"""What the commands share: reading inputs (files or live sources), the size limit, the AI
options, and writing the result to stdout or atomically to a file."""

from __future__ import annotations

import gzip
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from incident.errors import UsageError

if TYPE_CHECKING:
    from incident.analysis.config import AnalysisConfig
    from incident.model import Bundle
    from incident.pipeline import AIOptions, Progress
    from incident.sources import ReportAdjuster, SourceRequest


# What a command is done with but need not free: set by `incident.cli.run` (the process's
# entry point), which then leaves without taking a million spans apart one at a time.
# Commands run in-process (tests, embedding) hold nothing.
_held: list[object] = []
hold_enabled = False


def hold_until_exit(*objects: object) -> None:
    """Keep `objects` alive until the process exits, when the entry point allows it."""
    if hold_enabled:
        _held.extend(objects)


def holding() -> bool:
    return bool(_held)


def interactive() -> bool:
    """Progress only for a person watching: both streams on a terminal, not in pipes or CI."""
    return sys.stderr.isatty() and sys.stdout.isatty()


def progress() -> Progress | None:
    if not interactive():
        return None
    from incident.render.console import progress_reporter

    return progress_reporter(True)


def max_bytes(size: str | None) -> int | None:
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


def load_inputs(
    inputs: list[str],
    logs: list[str] | None = None,
    alerts: list[str] | None = None,
    max_bytes: int | None = None,
    source: SourceRequest | None = None,
    adjusters: list[ReportAdjuster] | None = None,
) -> Bundle:
    """The inputs as one Bundle; `adjusters` collects the sources' store-wide numbers for
    `pipeline.diagnose` (see `pipeline.load`)."""
    from incident import pipeline

    _note_unused(source, [*inputs, *(logs or ()), *(alerts or ())])
    return pipeline.load(
        inputs,
        logs or (),
        alerts or (),
        progress=progress(),
        announce=interactive(),
        max_bytes=max_bytes,
        source=source,
        adjusters=adjusters,
    )


def _note_unused(source: SourceRequest | None, inputs: list[str]) -> None:
    """Live-source flags given where every input is a file: say once they were not used."""
    if source is None or not source.flags or not inputs:
        return
    from incident import log
    from incident.sources import is_url

    if not any(is_url(x) for x in inputs):
        log.warning(
            "sources.flags_unused",
            f"{source.flags} only shape what live source URLs are asked for; every input "
            "here is a file, so they were not used",
        )


def _given(names: tuple[str, ...], values: tuple[str | None, ...]) -> str:
    """The names of the flags that were given, for a notice."""
    return ", ".join(n for n, v in zip(names, values, strict=True) if v is not None)


def source_request(
    since: str | None,
    start: str | None,
    end: str | None,
    service: str | None,
    query: str | None,
    limit: int,
) -> SourceRequest:
    """What live source URLs are asked for (the flags are checked even without a URL)."""
    from incident.sources import SourceRequest, timerange

    window = timerange.window(since, start, end)
    flags = _given(
        ("--since", "--from", "--to", "--service", "--query"), (since, start, end, service, query)
    )
    return SourceRequest(window=window, service=service, query=query, limit=limit, flags=flags)


def baseline_request_for(
    incident: SourceRequest, since: str | None, start: str | None, end: str | None
) -> SourceRequest:
    from incident.sources import baseline_request, timerange

    own = timerange.baseline_window(since, start, end, incident.window_or_default())
    flags = _given(("--baseline-since", "--baseline-from", "--baseline-to"), (since, start, end))
    return replace(baseline_request(incident, own), flags=flags)


def starts_with_gzip(path: str) -> bool:
    """Whether a file (already read, so known to be regular) is gzip-compressed."""
    from incident.ingest.sources import GZIP_MAGIC

    if path == "-":
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return False


def check_output(output: Path | None) -> None:
    if output is not None:
        from incident.outfile import check_target

        check_target(output)


def emit(text: str, output: Path | None, *, compress: bool = False) -> None:
    """The result to stdout, or atomically to `output`."""
    data = text if text.endswith("\n") else text + "\n"
    if output is None:
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    from incident.outfile import write_atomic

    raw = data.encode("utf-8")
    write_atomic(output, gzip.compress(raw, mtime=0) if compress else raw)


def ai_options(
    ai: bool | None,
    model: str | None,
    timeout: float,
    max_tokens: int,
    no_cache: bool,
    limits: tuple[int, int, float] | None = None,
) -> AIOptions:
    """The AI options; `limits` is (--max-turns, --max-ai-tokens, --max-cost)."""
    from incident.pipeline import AIOptions

    turns, tokens, cost = limits or (8, 200_000, 1.0)
    return AIOptions(
        enabled=ai,
        model=model,
        timeout=timeout,
        max_digest_tokens=max_tokens,
        use_cache=not no_cache,
        max_turns=turns,
        max_ai_tokens=tokens,
        max_cost=cost,
    )


def read_template(template: Path | None) -> str | None:
    if template is None:
        return None
    try:
        return template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{template}: cannot read the template ({exc})") from exc


def analysis_config(slow_ms: float | None) -> AnalysisConfig:
    """The analysis knobs a command line sets (`--slow-ms`); the rest stay at their defaults."""
    from incident.analysis.config import AnalysisConfig

    return AnalysisConfig.slow_at(slow_ms)
