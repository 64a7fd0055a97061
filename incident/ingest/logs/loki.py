"""Grafana Loki exports: `logcli --output=jsonl` lines (`labels`, `line`, `timestamp`) and query
API responses (`data.result[].stream` / `values`). The line itself may be JSON, logfmt or text.
"""

from __future__ import annotations

from typing import Any

import msgspec

from incident.ingest.logs.levels import level_from_value
from incident.ingest.logs.records import bound, record_from_object
from incident.ingest.logs.text import TextContext, is_garbage, parse_line
from incident.ingest.logs.timestamps import parse_time
from incident.model import LogRecord

_SERVICE_LABELS = ("service_name", "app", "app_kubernetes_io_name", "job", "container")
_INSTANCE_LABELS = ("pod", "instance", "host", "hostname", "node_name")
_LEVEL_LABELS = ("level", "detected_level", "severity")


def is_logcli_line(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("line"), str) and isinstance(obj.get("labels"), dict)


def record_from_logcli(obj: dict[str, Any], source: str, ctx: TextContext) -> LogRecord | None:
    """One logcli JSON line; None when the wrapped line is binary noise."""
    labels = {str(k): v for k, v in obj["labels"].items() if isinstance(v, str)}
    return _record(obj["line"], labels, obj.get("timestamp"), source, ctx)


def records_from_streams(
    obj: dict[str, Any], name: str, ctx: TextContext
) -> tuple[list[LogRecord], int]:
    """Records from a query_range response; also how many entries were unusable."""
    data = obj.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    out: list[LogRecord] = []
    bad = 0
    if not isinstance(result, list):
        return out, bad
    for si, stream in enumerate(result):
        if not isinstance(stream, dict):
            bad += 1
            continue
        raw_labels = stream.get("stream")
        labels = (
            {str(k): v for k, v in raw_labels.items() if isinstance(v, str)}
            if isinstance(raw_labels, dict)
            else {}
        )
        values = stream.get("values")
        if not isinstance(values, list):
            continue
        for vi, entry in enumerate(values):
            if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[1], str)):
                bad += 1
                continue
            record = _record(entry[1], labels, entry[0], f"{name}:[{si}][{vi}]", ctx)
            if record is None:
                bad += 1
            else:
                out.append(record)
    return out, bad


def is_streams_response(obj: dict[str, Any]) -> bool:
    data = obj.get("data")
    return isinstance(data, dict) and data.get("resultType") == "streams"


def _record(
    line: str, labels: dict[str, str], timestamp: Any, source: str, ctx: TextContext
) -> LogRecord | None:
    line = line.rstrip("\r\n")
    record: LogRecord | None = None
    if line.startswith("{"):
        try:
            inner = msgspec.json.decode(line)
        except (msgspec.DecodeError, RecursionError):
            inner = None
        if isinstance(inner, dict):
            record = record_from_object(inner, source)
    if record is None:
        if not line.strip() or is_garbage(line):
            return None
        record = parse_line(line, source, ctx)
    if record.time_ns is None:
        record.time_ns = parse_time(timestamp)
    if record.service is None:
        record.service = _service(labels)
    if record.instance is None:
        record.instance = next((labels[k] for k in _INSTANCE_LABELS if labels.get(k)), None)
    if record.level is None:
        record.level = next(
            (lv for k in _LEVEL_LABELS if (lv := level_from_value(labels.get(k)))), None
        )
    for key, value in labels.items():
        record.fields.setdefault(key, bound(value))
    return record


def _service(labels: dict[str, str]) -> str | None:
    for key in _SERVICE_LABELS:
        value = labels.get(key)
        if value:
            # Loki's `job` is often "<namespace>/<app>".
            return value.rsplit("/", 1)[-1] if key == "job" else value
    return None
