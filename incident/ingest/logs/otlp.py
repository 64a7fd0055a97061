"""OpenTelemetry logs in OTLP/JSON (`resourceLogs` / `scopeLogs` / `logRecords`) mapped to
LogRecords: AnyValue bodies and attributes unwrapped, ids normalised, severities mapped.
"""

from __future__ import annotations

from typing import Any

from incident.ingest.bounds import json_text
from incident.ingest.ids import norm_id
from incident.ingest.logs.levels import level_from_name, level_from_otlp_number
from incident.ingest.logs.records import MAX_FIELD_CHARS, bound
from incident.ingest.logs.timestamps import parse_time
from incident.model import LogRecord

OTHER_SIGNAL_KEYS = ("resourceSpans", "resourceMetrics", "resourceProfiles", "resource_spans")
_SCOPE_KEYS = ("scopeLogs", "instrumentationLibraryLogs", "scope_logs")
_INSTANCE_KEYS = ("k8s.pod.name", "host.name", "service.instance.id", "container.id")
# Resource attributes worth repeating on each record: what version and where it ran.
_KEPT_RESOURCE = ("service.version", "k8s.namespace.name", "deployment.environment")


def any_value(value: Any, depth: int = 0) -> Any:
    """The plain value inside an OTLP AnyValue object (`{"stringValue": "x"}` -> "x")."""
    if not isinstance(value, dict) or depth > 8:
        return value
    for key, inner in value.items():
        if key in ("stringValue", "boolValue", "doubleValue"):
            return inner
        if key == "intValue":
            return _as_int(inner)
        if key == "bytesValue":
            return inner
        if key == "arrayValue":
            items = inner.get("values", []) if isinstance(inner, dict) else []
            return [any_value(v, depth + 1) for v in items] if isinstance(items, list) else []
        if key == "kvlistValue":
            items = inner.get("values", []) if isinstance(inner, dict) else []
            return key_values(items, depth + 1)
    return None


def key_values(items: Any, depth: int = 0) -> dict[str, Any]:
    """An OTLP attribute list (`[{"key": k, "value": AnyValue}]`) as a plain dict."""
    out: dict[str, Any] = {}
    if not isinstance(items, list):
        return out
    for item in items:
        if isinstance(item, dict):
            key = item.get("key")
            if isinstance(key, str):
                out[key] = any_value(item.get("value"), depth)
    return out


def _as_int(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _message(body: Any) -> str:
    """The body as the record's message, cut to MAX_FIELD_CHARS as every log reader does."""
    if isinstance(body, dict):
        for key in ("message", "msg", "body"):
            inner = body.get(key)
            if isinstance(inner, str):
                body = inner
                break
    if isinstance(body, str):
        return body[:MAX_FIELD_CHARS] if len(body) > MAX_FIELD_CHARS else body
    if body is None:
        return ""
    return json_text(body, MAX_FIELD_CHARS)


def _level(record: dict[str, Any]) -> str | None:
    """The severity number when it names a level (it is the normalised one), else the text."""
    number = record.get("severityNumber")
    if isinstance(number, str) and not number.strip().isdigit():
        found = level_from_name(number)  # the enum's name: SEVERITY_NUMBER_WARN
    else:
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        band = _as_int(number)  # a decimal string: "9"
        found = level_from_otlp_number(band) if type(band) is int else None
    if found:
        return found
    text = record.get("severityText")
    if not isinstance(text, str) or not text:
        return None
    # Numbered variants ("WARN2", "INFO4") name the level of their band.
    return level_from_name(text) or level_from_name(text.rstrip("0123456789"))


def records_from_request(obj: dict[str, Any], source: str) -> tuple[list[LogRecord], int]:
    """LogRecords from one `{"resourceLogs": [...]}` document; also how many were unusable."""
    out: list[LogRecord] = []
    bad = 0
    resource_logs = obj.get("resourceLogs", obj.get("resource_logs"))
    if not isinstance(resource_logs, list):
        return out, 0
    for rl in resource_logs:
        if not isinstance(rl, dict):
            bad += 1
            continue
        resource_obj = rl.get("resource")
        resource = (
            key_values(resource_obj.get("attributes")) if isinstance(resource_obj, dict) else {}
        )
        service = resource.get("service.name")
        service = str(service) if service not in (None, "") else None
        instance = next((str(resource[k]) for k in _INSTANCE_KEYS if resource.get(k)), None)
        kept = {f"resource.{k}": resource[k] for k in _KEPT_RESOURCE if k in resource}
        # Old exporters write instrumentationLibraryLogs; read whichever lists are there.
        scopes = [sl for key in _SCOPE_KEYS for sl in _as_list(rl.get(key))]
        for sl in scopes:
            if not isinstance(sl, dict):
                bad += 1
                continue
            scope = sl.get("scope", sl.get("instrumentationLibrary"))
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            records = sl.get("logRecords", sl.get("log_records"))
            if not isinstance(records, list):
                continue
            for rec in records:
                if not isinstance(rec, dict):
                    bad += 1
                    continue
                out.append(_record(rec, source, service, instance, kept, scope_name))
    return out, bad


def _record(
    rec: dict[str, Any],
    source: str,
    service: str | None,
    instance: str | None,
    kept: dict[str, Any],
    scope_name: Any,
) -> LogRecord:
    time_ns = parse_time(rec.get("timeUnixNano"))
    if time_ns is None:
        # The SDK leaves timeUnixNano 0 when the source had no time; the collector's is next best.
        time_ns = parse_time(rec.get("observedTimeUnixNano"))
    fields = {k: bound(v) for k, v in key_values(rec.get("attributes")).items()}
    fields.update(kept)
    if isinstance(scope_name, str) and scope_name:
        fields["otel.scope.name"] = scope_name
    event_name = rec.get("eventName")
    if isinstance(event_name, str) and event_name:
        fields["event.name"] = event_name
    body = any_value(rec.get("body"))
    return LogRecord(
        time_ns=time_ns,
        level=_level(rec),
        message=_message(body),
        service=service,
        trace_id=norm_id(rec.get("traceId", rec.get("trace_id"))),
        span_id=norm_id(rec.get("spanId", rec.get("span_id"))),
        instance=instance,
        fields=fields,
        source=source,
    )
