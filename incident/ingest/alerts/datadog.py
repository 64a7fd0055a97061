"""Datadog monitor webhooks: the default payload and the common custom templates
(`alert_transition`, `alert_type`, `tags` as "k:v,k:v", epoch-millisecond `date`).
"""

from __future__ import annotations

import re

from incident.ingest.alerts.normalise import (
    JSONObject,
    first_string,
    obj,
    severity,
    string,
    time_ns,
)
from incident.model import Alert

_MARKERS = (
    "alert_transition",
    "alert_type",
    "alert_id",
    "alert_title",
    "alert_metric",
    "alert_query",
)
_TRANSITION = {
    "triggered": "firing",
    "re-triggered": "firing",
    "retriggered": "firing",
    "warn": "firing",
    "re-warn": "firing",
    "renotify": "firing",
    "no data": "no_data",
    "re-no data": "no_data",
    "recovered": "resolved",
    "resolved": "resolved",
}
_TYPE_SEVERITY = {"error": "error", "warning": "warning", "info": "info", "success": "info"}
_TITLE_PREFIX = re.compile(r"^\s*\[(?:P\d\]\s*\[)?[A-Za-z -]+\]\s*")


def matches(o: JSONObject) -> bool:
    if any(k in o for k in _MARKERS):
        return "title" in o or "body" in o or "alert_title" in o or "event_type" in o
    # The default payload: body, last_updated, event_type, title, date, org, id.
    return all(k in o for k in ("body", "title", "event_type", "last_updated"))


def read(o: JSONObject, ref: str) -> list[Alert]:
    labels = _tags(o.get("tags"))
    for key in (
        "hostname",
        "event_type",
        "priority",
        "alert_metric",
        "alert_query",
        "alert_scope",
        "org_name",
    ):
        value = string(o.get(key))
        if value:
            labels.setdefault(key, value)
    org = obj(o.get("org"))
    if string(org.get("name")):
        labels.setdefault("org_name", str(org["name"]))
    transition = (string(o.get("alert_transition")) or "").lower()
    alert_type = (string(o.get("alert_type")) or "").lower()
    state = _TRANSITION.get(transition) or ("resolved" if alert_type == "success" else "firing")
    title = string(o.get("alert_title")) or _TITLE_PREFIX.sub("", string(o.get("title")) or "")
    # "P1".."P5" say how bad; "normal"/"low" are event priorities, so alert_type decides.
    severity_value = severity(o.get("priority"))
    if severity_value not in ("critical", "error", "warning", "info"):
        severity_value = _TYPE_SEVERITY.get(alert_type)
    body = string(o.get("body"))
    date = o.get("date") or o.get("last_updated")
    happened = time_ns(date)
    return [
        Alert(
            source="datadog",
            status=state,
            name=title or "Datadog alert",
            severity=severity_value,
            service=labels.get("service"),
            labels=labels,
            annotations={"body": body[:4096]} if body else {},
            starts_ns=happened if state != "resolved" else None,
            ends_ns=happened if state == "resolved" else None,
            fingerprint=first_string(o, "aggregate", "alert_id", "id"),
            runbook=first_string(o, "runbook", "runbook_url"),
            generator_url=first_string(o, "link", "url", "snapshot"),
            summary=_first_line(body) or title or None,
            source_ref=ref,
        )
    ]


def _tags(raw: object) -> dict[str, str]:
    items: list[str] = []
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, list):
        items = [t for t in raw if isinstance(t, str)]
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.strip().partition(":")
        if key:
            out.setdefault(key, value if sep else "")
    return out


def _first_line(body: str | None) -> str | None:
    """The first line of text in a body, past Datadog's "%%%" markdown fences."""
    for line in (body or "").splitlines():
        text = line.strip()
        if text and text != "%%%":
            return text[:300]
    return None
