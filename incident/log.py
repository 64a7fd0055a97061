"""The tool's own diagnostics: one structlog configuration, always on stderr, never stdout.

Every notice, warning, retry, cache hit and timing is an *event* with a stable dotted name
(`ai.skipped`, `output.written`) and a human sentence (`message`), plus fields:

    from incident import log
    log.info("output.written", f"wrote {path}", path=str(path))

Two renderings, chosen once per run by `configure` (the CLI's `--log-format`, or the
environment variable `INCIDENT_LOG_FORMAT`):
- `text` (default): the sentence alone, as a person reads it (`warning: ` / `incident: `
  prefixes for warnings and errors), so stderr stays quiet and readable;
- `json`: one JSON object a line with `timestamp` (UTC, ISO 8601), `level`, `event`,
  `message` and the fields, for CI pipelines and automation.

`-v` shows debug events, `-q` only warnings and errors. structlog is imported on the first
event, not at start-up, so `incident --help` stays fast; this is the only module that
imports it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

_settings: dict[str, Any] = {"format": None, "level": LEVELS["info"]}
_logger: Any = None


def configure(fmt: str | None = None, level: str = "info") -> None:
    """Choose the rendering and the lowest level shown; safe to call more than once."""
    global _logger
    chosen = (fmt or os.environ.get("INCIDENT_LOG_FORMAT") or "text").strip().lower()
    _settings["format"] = "json" if chosen == "json" else "text"
    _settings["level"] = LEVELS.get(level, LEVELS["info"])
    _logger = None


def log_format() -> LogFormat:
    if _settings["format"] is None:
        configure()
    return "json" if _settings["format"] == "json" else "text"


def _render_text(_logger: Any, method: str, event_dict: dict[str, Any]) -> str:
    message = str(event_dict.get("message") or event_dict.get("event", ""))
    prefix = {"warning": "warning: ", "error": "incident: "}.get(method, "")
    return prefix + _one_line(message)


def _render_json(_logger: Any, method: str, event_dict: dict[str, Any]) -> str:
    head = {k: event_dict.pop(k) for k in ("timestamp", "level", "event", "message")}
    return json.dumps({**head, **event_dict}, default=str, ensure_ascii=False)


def _one_line(text: str) -> str:
    """A diagnostic is one line: data quoted in it must not break it into several."""
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


class _Stderr:
    """Whatever sys.stderr is at the moment of writing (tests and pagers swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _get() -> Any:
    global _logger
    if _logger is None:
        import structlog

        fmt = log_format()
        processors: list[Any] = [structlog.processors.add_log_level]
        if fmt == "json":
            processors.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
            processors.append(_render_json)
        else:
            processors.append(_render_text)
        _logger = structlog.wrap_logger(
            structlog.PrintLogger(file=_Stderr()),  # type: ignore[arg-type]
            processors=processors,
            wrapper_class=structlog.make_filtering_bound_logger(_settings["level"]),
            cache_logger_on_first_use=False,
        )
    return _logger


def _emit(method: str, event: str, message: str | None, fields: dict[str, Any]) -> None:
    if LEVELS[method] < _settings["level"]:
        return  # filtered before structlog is even imported
    getattr(_get(), method)(event, message=message or event, **fields)


def debug(event: str, message: str | None = None, **fields: Any) -> None:
    _emit("debug", event, message, fields)


def info(event: str, message: str | None = None, **fields: Any) -> None:
    _emit("info", event, message, fields)


def warning(event: str, message: str | None = None, **fields: Any) -> None:
    _emit("warning", event, message, fields)


def error(event: str, message: str | None = None, **fields: Any) -> None:
    _emit("error", event, message, fields)
