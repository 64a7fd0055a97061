"""Sentry webhooks: issue alerts (`data.event`, `data.triggered_rule`), issue events
(`data.issue`), metric alerts (`data.metric_alert`) and the legacy plugin webhook.
"""

from __future__ import annotations

import re

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

_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/")
_ISSUE_STATUS = {"resolved": "resolved", "ignored": "suppressed", "archived": "suppressed"}
_METRIC_ACTION = {"critical": "firing", "warning": "firing", "resolved": "resolved"}


def matches(o: JSONObject) -> bool:
    data = o.get("data")
    if isinstance(o.get("action"), str) and isinstance(data, dict):
        return any(k in data for k in ("event", "issue", "metric_alert", "triggered_rule"))
    return "project_slug" in o and ("culprit" in o or "triggering_rules" in o)


def read(o: JSONObject, ref: str) -> list[Alert]:
    if "project_slug" in o:
        return [_legacy(o, ref)]
    data = o["data"]
    action = str(o["action"])
    if isinstance(data.get("metric_alert"), dict):
        return [_metric_alert(data, action, ref)]
    if isinstance(data.get("event"), dict):
        return [_event_alert(data, action, ref)]
    return [_issue(obj(data.get("issue")), action, ref)]


def _tags(raw: object) -> dict[str, str]:
    if isinstance(raw, dict):
        return string_dict(raw)
    out: dict[str, str] = {}
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, list) and len(item) == 2:
                key, value = string(item[0]), string(item[1])
            else:
                item = obj(item)
                key, value = string(item.get("key")), string(item.get("value"))
            if key and value:
                out[key] = value
    return out


def _project(event: JSONObject) -> str | None:
    project = event.get("project")
    if isinstance(project, dict):
        return first_string(project, "slug", "name")
    for key in ("url", "issue_url", "web_url"):
        m = _PROJECT_IN_URL.search(string(event.get(key)) or "")
        if m:
            return m.group(1)
    return string(event.get("project_slug")) or string(event.get("project_name"))


def _event_alert(data: JSONObject, action: str, ref: str) -> Alert:
    event = data["event"]
    labels = _tags(event.get("tags"))
    for key in ("platform", "environment", "release", "culprit", "issue_id", "logger"):
        value = string(event.get(key))
        if value:
            labels.setdefault(key, value)
    title = first_string(event, "title", "message") or "Sentry event"
    rule = string(data.get("triggered_rule")) or string(obj(data.get("issue_alert")).get("title"))
    hashes = event.get("hashes")
    fingerprint = string(event.get("issue_id")) or (
        string(hashes[0]) if isinstance(hashes, list) and hashes else None
    )
    annotations = {"title": title}
    if rule:
        annotations["rule"] = rule
    return Alert(
        source="sentry",
        status=status(action),
        name=rule or title,
        severity=severity(event.get("level")),
        service=_project(event),
        labels=labels,
        annotations=annotations,
        starts_ns=time_ns(event.get("datetime")) or time_ns(event.get("timestamp")),
        fingerprint=fingerprint,
        generator_url=first_string(event, "web_url", "url"),
        summary=title,
        source_ref=ref,
    )


def _issue(issue: JSONObject, action: str, ref: str) -> Alert:
    raw_status = string(issue.get("status")) or ""
    state = _ISSUE_STATUS.get(raw_status) or ("resolved" if action == "resolved" else "firing")
    labels = {"action": action}
    for key in ("culprit", "platform", "shortId", "substatus"):
        value = string(issue.get(key))
        if value:
            labels[key] = value
    title = first_string(issue, "title", "culprit") or "Sentry issue"
    return Alert(
        source="sentry",
        status=state,
        name=title,
        severity=severity(issue.get("level")),
        service=_project(issue),
        labels=labels,
        starts_ns=time_ns(issue.get("firstSeen")),
        fingerprint=string(issue.get("id")),
        generator_url=first_string(issue, "permalink", "web_url"),
        summary=title,
        source_ref=ref,
    )


def _metric_alert(data: JSONObject, action: str, ref: str) -> Alert:
    alert = data["metric_alert"]
    rule = obj(alert.get("alert_rule"))
    projects = rule.get("projects")
    project = string(projects[0]) if isinstance(projects, list) and projects else None
    labels = {"action": action}
    for key in ("aggregate", "query", "dataset", "environment"):
        value = string(rule.get(key))
        if value:
            labels[key] = value
    state = _METRIC_ACTION.get(action, status(action))
    return Alert(
        source="sentry",
        status=state,
        name=string(rule.get("name")) or first_string(alert, "title") or "Sentry metric alert",
        severity=severity(action) if action in ("critical", "warning") else None,
        service=project,
        labels=labels,
        annotations=string_dict({"description": data.get("description_text")}),
        starts_ns=time_ns(alert.get("date_started")) or time_ns(alert.get("date_detected")),
        ends_ns=time_ns(alert.get("date_closed")) if state == "resolved" else None,
        fingerprint=string(alert.get("identifier")) or string(alert.get("id")),
        generator_url=string(data.get("web_url")),
        summary=string(data.get("description_title")) or string(data.get("description_text")),
        source_ref=ref,
    )


def _legacy(o: JSONObject, ref: str) -> Alert:
    event = obj(o.get("event"))
    rules = o.get("triggering_rules")
    rule = string(rules[0]) if isinstance(rules, list) and rules else None
    message = first_string(o, "message", "culprit") or "Sentry event"
    return Alert(
        source="sentry",
        status="firing",
        name=rule or message,
        severity=severity(o.get("level")),
        service=first_string(o, "project_slug", "project_name", "project"),
        labels=_tags(event.get("tags")),
        starts_ns=time_ns(event.get("timestamp")) or time_ns(event.get("received")),
        fingerprint=string(o.get("id")),
        generator_url=string(o.get("url")),
        summary=message,
        source_ref=ref,
    )
