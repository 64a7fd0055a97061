"""Opsgenie outgoing webhooks: `action` (Create, Acknowledge, Close, ...) and the `alert`."""

from __future__ import annotations

from incident.ingest.alerts.normalise import (
    JSONObject,
    first_string,
    obj,
    severity,
    string,
    string_dict,
    time_ns,
)
from incident.model import Alert

_ACTION_STATUS = {
    "create": "firing",
    "close": "resolved",
    "delete": "resolved",
    "acknowledge": "acknowledged",
    "snooze": "suppressed",
}


def matches(o: JSONObject) -> bool:
    alert = o.get("alert")
    return (
        isinstance(o.get("action"), str)
        and isinstance(alert, dict)
        and ("alertId" in alert or "tinyId" in alert or "message" in alert)
    )


def read(o: JSONObject, ref: str) -> list[Alert]:
    alert = o["alert"]
    action = str(o["action"])
    details = string_dict(alert.get("details"))
    raw_tags = alert.get("tags")
    tags = [t for t in raw_tags if isinstance(t, str)] if isinstance(raw_tags, list) else []
    labels = dict(details)
    tag_pairs = dict(t.split(":", 1) for t in tags if ":" in t)
    for key, value in tag_pairs.items():
        labels.setdefault(key.strip(), value.strip())
    if tags:
        labels["tags"] = ",".join(tags)
    for field in ("entity", "source", "team", "priority", "alias", "tinyId"):
        text = string(alert.get(field))
        if text:
            labels.setdefault(field, text)
    labels["action"] = action
    message = string(alert.get("message")) or "Opsgenie alert"
    description = string(alert.get("description"))
    # A note, an escalation or a tag change happens to an alert that is still open.
    state = _ACTION_STATUS.get(action.lower(), "firing")
    return [
        Alert(
            source="opsgenie",
            status=state,
            name=message,
            severity=severity(alert.get("priority")),
            service=first_string(labels, "service", "app", "component"),
            labels=labels,
            annotations={"description": description} if description else {},
            starts_ns=time_ns(alert.get("createdAt")),
            ends_ns=time_ns(alert.get("updatedAt")) if state == "resolved" else None,
            fingerprint=first_string(alert, "alias", "alertId"),
            runbook=first_string(details, "runbook", "runbook_url", "runbookUrl"),
            generator_url=first_string(obj(o.get("source")), "url"),
            summary=description or message,
            source_ref=ref,
        )
    ]
