"""Alerts on the timeline: tied to a service and judged a symptom (entry-point latency, errors,
SLO burn) or a cause (firing on the root-cause component or its resources)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from incident.model import Alert

Role = Literal["symptom", "cause", "unknown"]

_SYMPTOM = re.compile(
    r"latency|p9\d|slo|burn|error.?rate|5xx|availability|apdex|slow|"
    r"response.?time|success",
    re.I,
)


def alert_service(alert: Alert) -> str | None:
    if alert.service:
        return alert.service
    for key in (
        "service",
        "service_name",
        "app",
        "job",
        "container",
        "deployment",
        "pod",
        "instance",
    ):
        v = alert.labels.get(key)
        if v:
            return v
    return None


def role(alert: Alert, causes: Sequence[str], entry_services: set[str]) -> Role:
    """'cause' when the alert points at a ranked cause, 'symptom' for user-facing signals."""
    svc = alert_service(alert) or ""
    text = " ".join([alert.name, svc, *alert.labels.values()]).lower()
    for cause in causes:
        if cause and (cause == svc or cause.lower() in text):
            return "cause"
    if svc in entry_services or _SYMPTOM.search(alert.name) or _SYMPTOM.search(alert.summary or ""):
        return "symptom"
    return "unknown"


def runbook_of(alert: Alert) -> str | None:
    if alert.runbook:
        return alert.runbook
    for key in ("runbook_url", "runbook", "playbook"):
        v = alert.annotations.get(key) or alert.labels.get(key)
        if v:
            return v
    return None
