"""The fallback for alert-shaped JSON no named tool wrote: `{"alerts": [...]}` lists and
single objects with a name and a severity, status or service.
"""

from __future__ import annotations

from incident.ingest.alerts.normalise import (
    JSONObject,
    first_string,
    severity,
    status,
    string,
    string_dict,
    time_ns,
)
from incident.model import Alert

_NAME_KEYS = ("alertname", "alert_name", "alertName", "title", "name", "alert", "summary", "rule")
_SEVERITY_KEYS = ("severity", "priority", "urgency")
_STATUS_KEYS = ("status", "state")
_SERVICE_KEYS = ("service", "service_name", "serviceName", "app", "application", "component")
_START_KEYS = (
    "startsAt",
    "starts_at",
    "start",
    "started_at",
    "startTime",
    "created_at",
    "createdAt",
    "timestamp",
    "time",
    "fired_at",
)
_END_KEYS = ("endsAt", "ends_at", "end", "ended_at", "endTime", "resolved_at")
_ALERT_STATES = frozenset(
    (
        "firing",
        "resolved",
        "triggered",
        "alerting",
        "open",
        "closed",
        "ok",
        "acknowledged",
        "active",
        "alarm",
        "pending",
    )
)
# Keys that make an object a span or a log record, never an alert.
_NOT_ALERT = (
    "traceId",
    "traceID",
    "spanId",
    "span_id",
    "parentSpanId",
    "spans",
    "resourceSpans",
    "resourceLogs",
    "msg",
    "@timestamp",
    "levelname",
    "logger",
    "logger_name",
    "log.level",
    "textPayload",
    "jsonPayload",
    "logName",
)


def is_alert_object(o: JSONObject) -> bool:
    if any(k in o for k in _NOT_ALERT):
        return False
    if not any(string(o.get(k)) for k in _NAME_KEYS):
        labels = o.get("labels")
        if not (isinstance(labels, dict) and string(labels.get("alertname"))):
            return False
    if any(string(o.get(k)) for k in _SEVERITY_KEYS):
        return True
    state = first_string(o, *_STATUS_KEYS)
    return state is not None and state.lower() in _ALERT_STATES


def matches(o: JSONObject) -> bool:
    alerts = o.get("alerts")
    if isinstance(alerts, list) and alerts:
        dicts = [a for a in alerts if isinstance(a, dict)]
        return bool(dicts) and all(_alert_like_item(a) for a in dicts)
    return is_alert_object(o)


def _alert_like_item(a: JSONObject) -> bool:
    return is_alert_object(a) or isinstance(a.get("labels"), dict)


def read(o: JSONObject, ref: str) -> list[Alert]:
    alerts = o.get("alerts")
    if isinstance(alerts, list):
        return [
            _alert(a, f"{ref}#alerts[{i}]") for i, a in enumerate(alerts) if isinstance(a, dict)
        ]
    return [_alert(o, ref)]


def _alert(o: JSONObject, ref: str) -> Alert:
    labels = string_dict(o.get("labels")) or string_dict(o.get("tags"))
    annotations = string_dict(o.get("annotations"))
    name = labels.get("alertname") or first_string(o, *_NAME_KEYS) or "alert"
    state = status(first_string(o, *_STATUS_KEYS))
    starts = next((t for k in _START_KEYS if (t := time_ns(o.get(k))) is not None), None)
    ends = next((t for k in _END_KEYS if (t := time_ns(o.get(k))) is not None), None)
    return Alert(
        source="generic",
        status=state,
        name=name,
        severity=severity(labels.get("severity") or first_string(o, *_SEVERITY_KEYS, "level")),
        service=first_string(o, *_SERVICE_KEYS) or first_string(labels, *_SERVICE_KEYS),
        labels=labels,
        annotations=annotations,
        starts_ns=starts,
        ends_ns=ends if state == "resolved" else None,
        fingerprint=first_string(o, "fingerprint", "id", "alert_id", "dedup_key", "key"),
        runbook=first_string(o, "runbook", "runbook_url")
        or first_string(annotations, "runbook_url", "runbook"),
        generator_url=first_string(o, "generatorURL", "generator_url", "url", "link"),
        summary=first_string(o, "summary", "description", "message", "text")
        or annotations.get("summary"),
        source_ref=ref,
    )
