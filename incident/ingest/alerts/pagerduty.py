"""PagerDuty: V3 webhooks (`event.event_type`, `event.data`), the legacy V2 webhook
(`messages[]`), and Events API v2 / v1 bodies as sent to PagerDuty by monitoring tools.
"""

from __future__ import annotations

from incident.ingest.alerts.normalise import (
    JSONObject,
    first_string,
    obj,
    severity,
    status,
    string,
    string_dict,
    time_ns,
)
from incident.model import Alert

_EVENT_ACTIONS = frozenset(("trigger", "acknowledge", "resolve"))
# PagerDuty incident statuses; an incident event's own type is the fallback.
_INCIDENT_STATUS = {
    "triggered": "firing",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
}
_EVENT_STATUS = {
    "incident.triggered": "firing",
    "incident.reopened": "firing",
    "incident.escalated": "firing",
    "incident.unacknowledged": "firing",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
}


def is_webhook_v3(o: JSONObject) -> bool:
    event = o.get("event")
    return (
        isinstance(event, dict)
        and isinstance(event.get("event_type"), str)
        and ("resource_type" in event or "data" in event)
    )


def is_webhook_v2(o: JSONObject) -> bool:
    messages = o.get("messages")
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, dict) and "incident" in m for m in messages)
    )


def is_events_api(o: JSONObject) -> bool:
    action = o.get("event_action")
    if isinstance(action, str) and action in _EVENT_ACTIONS:
        return "routing_key" in o or "dedup_key" in o or isinstance(o.get("payload"), dict)
    # Events API v1: service_key + event_type.
    return (
        "service_key" in o
        and isinstance(o.get("event_type"), str)
        and o["event_type"] in _EVENT_ACTIONS
    )


def matches(o: JSONObject) -> bool:
    return is_webhook_v3(o) or is_webhook_v2(o) or is_events_api(o)


def read(o: JSONObject, ref: str) -> tuple[list[Alert], list[str]]:
    """Alerts, and notices for recognised events that are not about an incident."""
    if is_webhook_v3(o):
        event = o["event"]
        event_type = event["event_type"]
        data = obj(event.get("data"))
        resource_type = string(event.get("resource_type")) or event_type.split(".", 1)[0]
        if resource_type != "incident" or not event_type.startswith("incident."):
            return [], [f"{ref}: PagerDuty {event_type} event: not an incident"]
        return [_incident(data, event_type, ref, string(event.get("occurred_at")))], []
    if is_webhook_v2(o):
        out = []
        for i, message in enumerate(o["messages"]):
            event_type = string(message.get("event")) or "incident"
            out.append(
                _incident(obj(message.get("incident")), event_type, f"{ref}#messages[{i}]", None)
            )
        return out, []
    return [_event(o, ref)], []


def _incident(data: JSONObject, event_type: str, ref: str, occurred: str | None) -> Alert:
    raw_status = string(data.get("status"))
    state = _INCIDENT_STATUS.get(raw_status or "") or _EVENT_STATUS.get(event_type, "firing")
    priority = obj(data.get("priority"))
    labels = {"event_type": event_type}
    for key in ("urgency", "number", "incident_number", "id"):
        value = string(data.get(key))
        if value:
            labels[key] = value
    priority_name = string(priority.get("summary")) or string(priority.get("name"))
    if priority_name:
        labels["priority"] = priority_name
    service = obj(data.get("service"))
    teams = data.get("teams")
    if isinstance(teams, list) and teams:
        names = [string(obj(t).get("summary")) for t in teams]
        labels["teams"] = ",".join(n for n in names if n)
    created = data.get("created_at")
    return Alert(
        source="pagerduty",
        status=state,
        name=first_string(data, "title", "summary", "description") or "PagerDuty incident",
        severity=severity(priority_name),
        service=string(service.get("summary")) or string(service.get("name")),
        labels=labels,
        annotations=string_dict({"description": data.get("description")}),
        starts_ns=time_ns(created) or time_ns(occurred),
        ends_ns=(time_ns(data.get("resolved_at")) or time_ns(occurred))
        if state == "resolved"
        else None,
        fingerprint=first_string(data, "incident_key", "id"),
        generator_url=string(data.get("html_url")),
        summary=first_string(data, "title", "summary"),
        source_ref=ref,
    )


def _event(o: JSONObject, ref: str) -> Alert:
    payload = obj(o.get("payload"))
    action = string(o.get("event_action")) or string(o.get("event_type")) or "trigger"
    # The routing/service key is a credential for the integration: never kept.
    labels = string_dict({k: payload.get(k) for k in ("source", "component", "group", "class")})
    annotations = string_dict(payload.get("custom_details")) or string_dict(
        {"details": o.get("details")}
    )
    links = o.get("links")
    link = None
    if isinstance(links, list) and links:
        link = string(obj(links[0]).get("href"))
    dedup = first_string(o, "dedup_key", "incident_key")
    summary = string(payload.get("summary")) or string(o.get("description"))
    return Alert(
        source="pagerduty",
        status=status(action),
        name=summary or dedup or "PagerDuty event",
        severity=severity(payload.get("severity")),
        service=string(payload.get("component")) or string(payload.get("group")),
        labels=labels,
        annotations=annotations,
        starts_ns=time_ns(payload.get("timestamp")),
        fingerprint=dedup,
        generator_url=string(o.get("client_url")) or link,
        summary=summary,
        source_ref=ref,
    )
