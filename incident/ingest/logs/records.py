"""One structured log record (a decoded JSON object) mapped to a LogRecord, whatever wrote it:
structlog, ECS, GCP Cloud Logging, pino/bunyan, journald, GELF, Serilog, Loki logcli, or plain
JSON with the usual key names. Keys are looked up flattened, so `{"log": {"level": "x"}}` and
`{"log.level": "x"}` read the same.
"""

from __future__ import annotations

from typing import Any

import msgspec

from incident.ingest.bounds import MAX_NESTING, TOO_DEEP, shallow
from incident.ingest.ids import norm_id
from incident.ingest.logs.levels import (
    level_from_otlp_number,
    level_from_syslog_number,
    level_from_value,
)
from incident.ingest.logs.timestamps import parse_time
from incident.ingest.span_csv import service_of_pod
from incident.model import LogRecord

MAX_FIELD_CHARS = 4096
_MAX_DEPTH = 4
# Keys whose object is the record itself in another envelope (GCP puts the app's JSON here).
_TRANSPARENT = frozenset(("jsonPayload",))

# Candidate keys per role, best first; the first one present with a usable value wins.
TIME_KEYS = (
    "@timestamp",
    "timestamp",
    "time",
    "ts",
    "timeUnixNano",
    "time_unix_nano",
    "@t",
    "datetime",
    "date",
    "asctime",
    "eventTime",
    "__REALTIME_TIMESTAMP",
    "t",
    "receiveTimestamp",
    "observedTimeUnixNano",
    "observed_time_unix_nano",
    "Timestamp",
)
LEVEL_KEYS = (
    "level",
    "log.level",
    "lvl",
    "severity",
    "levelname",
    "level_name",
    "loglevel",
    "log_level",
    "severityText",
    "severity_text",
    "@l",
    "detected_level",
)
# Numbers under these keys are not pino/bunyan levels but other scales.
_OTLP_NUMBER_KEYS = ("severityNumber", "severity_number")
_SYSLOG_NUMBER_KEYS = ("PRIORITY", "syslog.severity")
MESSAGE_KEYS = (
    "message",
    "msg",
    "event",
    "textPayload",
    "log",
    "body",
    "MESSAGE",
    "short_message",
    "@m",
    "@mt",
    "full_message",
    "log.original",
    "error.message",
    "err.message",
    "error",
    "exception.message",
)
TRACE_KEYS = (
    "trace_id",
    "traceId",
    "trace.id",
    "traceID",
    "traceid",
    "logging.googleapis.com/trace",
    "trace",
    "otelTraceID",
    "dd.trace_id",
)
SPAN_KEYS = (
    "span_id",
    "spanId",
    "span.id",
    "spanID",
    "spanid",
    "logging.googleapis.com/spanId",
    "otelSpanID",
    "dd.span_id",
)
SERVICE_KEYS = (
    "service.name",
    "service",
    "service_name",
    "serviceName",
    "resource.service.name",
    "dd.service",
    "app",
    "application",
    "app_name",
    "appname",
    "kubernetes.labels.app",
    "kubernetes.labels.app.kubernetes.io/name",
    "kubernetes.labels.app_kubernetes_io/name",
    "k8s.deployment.name",
    "resource.labels.service_name",
    "resource.labels.function_name",
    "resource.labels.module_id",
    "resource.labels.container_name",
    "labels.k8s-pod/app",
    "labels.k8s-pod/app_kubernetes_io/name",
    "kubernetes.container_name",
    "kubernetes.container.name",
    "container.name",
    "container_name",
    "container",
    "_SYSTEMD_UNIT",
    "SYSLOG_IDENTIFIER",
)
INSTANCE_KEYS = (
    "k8s.pod.name",
    "pod",
    "pod_name",
    "podName",
    "kubernetes.pod_name",
    "kubernetes.pod.name",
    "resource.labels.pod_name",
    "resource.labels.instance_id",
    "host.name",
    "host.hostname",
    "hostname",
    "host",
    "_HOSTNAME",
    "service.instance.id",
    "instance",
)


_TIME, _LEVEL, _MESSAGE, _TRACE, _SPAN, _SERVICE, _INSTANCE = range(7)
# key -> (role, rank): one dict lookup per key of a record instead of one per candidate key.
_ROLES: dict[str, tuple[int, int]] = {}
for _role, _keys in enumerate(
    (
        TIME_KEYS,
        LEVEL_KEYS + _OTLP_NUMBER_KEYS + _SYSLOG_NUMBER_KEYS,
        MESSAGE_KEYS,
        TRACE_KEYS,
        SPAN_KEYS,
        SERVICE_KEYS,
        INSTANCE_KEYS,
    )
):
    for _position, _key in enumerate(_keys):
        _ROLES.setdefault(_key, (_role, _position))


_NONE: list[str] = []


def _rank(key: str) -> int:
    return _ROLES[key][1]


def _candidates(flat: dict[str, Any]) -> list[list[str] | None]:
    """Per role, the keys of `flat` that can play it, best first (this runs once per line)."""
    found: list[list[str] | None] = [None, None, None, None, None, None, None]
    roles = _ROLES
    for key in flat:
        hit = roles.get(key)
        if hit is not None:
            keys = found[hit[0]]
            if keys is None:
                found[hit[0]] = [key]
            else:
                keys.append(key)
                keys.sort(key=_rank)
    return found


def flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """Nested objects become dotted keys (a few levels deep); top-level keys win clashes."""
    flat = {key: value for key, value in obj.items() if type(value) is not dict or not value}
    if len(flat) != len(obj):
        for key, value in obj.items():
            if type(value) is dict and value:
                prefix = "" if key in _TRANSPARENT else f"{key}."
                _flatten_into(flat, value, prefix, 1)
    return flat


def _flatten_into(flat: dict[str, Any], obj: dict[str, Any], prefix: str, depth: int) -> None:
    for key, value in obj.items():
        if type(value) is dict and value and depth < _MAX_DEPTH:
            _flatten_into(flat, value, f"{prefix}{key}.", depth + 1)
        else:
            flat.setdefault(prefix + key, value)


def bound(value: Any) -> Any:
    """Keep field values small: long strings and big lists or objects are cut to 4 KiB, and
    deeply nested ones become JSON text (nothing downstream has to walk a deep value)."""
    if isinstance(value, str):
        return value if len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS]
    if isinstance(value, list | dict):
        if len(value) > 64 or any(isinstance(v, list | dict | str) for v in _values(value)):
            try:
                encoded = msgspec.json.encode(value)
            except RecursionError:
                return TOO_DEEP
            if len(encoded) > MAX_FIELD_CHARS:
                return encoded[:MAX_FIELD_CHARS].decode("utf-8", "ignore")
            if encoded.count(b"[") + encoded.count(b"{") > MAX_NESTING:
                return shallow(value, MAX_FIELD_CHARS)
        return value
    return value


def _values(value: list[Any] | dict[str, Any]) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else value


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _pick_text(flat: dict[str, Any], keys: list[str]) -> tuple[str | None, str | None]:
    for key in keys:
        value = flat.get(key)
        if value is not None:
            text = _text(value)
            if text:
                return key, text
    return None, None


def _pick_id(flat: dict[str, Any], keys: list[str]) -> tuple[str | None, str | None]:
    for key in keys:
        value = flat.get(key)
        if value is None or isinstance(value, dict | list):
            continue
        if isinstance(value, str):
            if "/" in value:
                # GCP writes "projects/<project>/traces/<hex>".
                value = value.rsplit("/", 1)[1]
            elif key.startswith("dd.") and value.isdigit():
                # Datadog ids are decimal 64-bit integers, not hex.
                value = int(value)
        found = norm_id(value)
        if found:
            return key, found
    return None, None


def _pick_time(flat: dict[str, Any], keys: list[str]) -> tuple[str | None, int | None]:
    for key in keys:
        value = flat.get(key)
        if value is None:
            continue
        if key == "__REALTIME_TIMESTAMP" and isinstance(value, str) and value.isdigit():
            ns: int | None = int(value) * 1000  # journald writes microseconds
        else:
            ns = parse_time(value)
        if ns is not None:
            return key, ns
    return None, None


def _pick_level(flat: dict[str, Any], keys: list[str]) -> tuple[str | None, str | None]:
    gelf = "short_message" in flat
    for key in keys:
        value = flat[key]
        if value is None or isinstance(value, bool):
            continue
        if key in _OTLP_NUMBER_KEYS:
            level = level_from_otlp_number(value) if isinstance(value, int) else None
            if level is None and isinstance(value, str):
                level = level_from_value(value)
        elif key in _SYSLOG_NUMBER_KEYS or (gelf and key == "level"):
            number = int(value) if isinstance(value, str) and value.isdigit() else value
            level = level_from_syslog_number(number) if isinstance(number, int) else None
        else:
            level = level_from_value(value)
        if level:
            return key, level
    return None, None


def _traceparent(flat: dict[str, Any]) -> tuple[str | None, str | None]:
    value = flat.get("traceparent")
    if isinstance(value, str):
        parts = value.split("-")
        if len(parts) == 4:
            return norm_id(parts[1]), norm_id(parts[2])
    return None, None


def _synth_message(fields: dict[str, Any]) -> str:
    """A record without a message (an access log as JSON) still needs a readable line."""
    parts = []
    for key, value in fields.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            parts.append(f"{key}={value}")
        if len(parts) == 6:
            break
    return " ".join(parts)[:300]


def record_from_object(
    obj: dict[str, Any],
    source: str,
    *,
    defaults: dict[str, Any] | None = None,
) -> LogRecord | None:
    """Map one decoded JSON object to a LogRecord; None when it carries nothing log-like.

    `defaults` (already flat) fills roles the object lacks, e.g. a Loki stream's labels.
    """
    flat = flatten(obj)
    if defaults:
        for key, value in defaults.items():
            flat.setdefault(key, value)
    used: list[str] = []

    keys = _candidates(flat)
    time_key, time_ns = _pick_time(flat, keys[_TIME] or _NONE)
    level_key, level = _pick_level(flat, keys[_LEVEL] or _NONE)
    message_key, message = _pick_text(flat, keys[_MESSAGE] or _NONE)
    if time_key is None and level_key is None and message_key is None:
        return None
    used.extend(k for k in (time_key, level_key, message_key) if k)

    trace_key, trace_id = _pick_id(flat, keys[_TRACE] or _NONE)
    span_key, span_id = _pick_id(flat, keys[_SPAN] or _NONE)
    if trace_id is None and "traceparent" in flat:
        trace_id, parent_span = _traceparent(flat)
        span_id = span_id or parent_span
        if trace_id:
            used.append("traceparent")
    service_key, service = _pick_text(flat, keys[_SERVICE] or _NONE)
    instance_key, instance = _pick_text(flat, keys[_INSTANCE] or _NONE)
    used.extend(k for k in (trace_key, span_key, service_key, instance_key) if k)
    if service is None and instance:
        # No service field: the pod (hashes dropped) or host it ran on names it.
        service = service_of_pod(instance)

    for key in used:
        del flat[key]
    fields = flat
    for key, value in fields.items():
        kind = type(value)
        if (kind is str and len(value) > MAX_FIELD_CHARS) or kind is list or kind is dict:
            fields[key] = bound(value)
    if message is None:
        message = _synth_message(fields)
    elif message_key in ("log", "MESSAGE"):
        # Docker's json-file driver and journald keep the trailing newline.
        message = message.rstrip("\r\n")
    return LogRecord(
        time_ns=time_ns,
        level=level,
        message=message[:MAX_FIELD_CHARS] if len(message) > MAX_FIELD_CHARS else message,
        service=service,
        trace_id=trace_id,
        span_id=span_id,
        instance=instance,
        fields=fields,
        source=source,
    )
