"""Alert readers: a decoded JSON payload from a pager or monitoring tool is recognised by its
shape and mapped to model.Alert, one module per tool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from incident.errors import FormatError
from incident.ingest.alerts import (
    cloudwatch,
    datadog,
    gcp,
    generic,
    opsgenie,
    pagerduty,
    prometheus,
    sentry,
)
from incident.model import Alert, Bundle, InputInfo

__all__ = ["SOURCES", "read", "sniff"]

SOURCES = (
    "alertmanager",
    "grafana",
    "pagerduty",
    "opsgenie",
    "cloudwatch",
    "gcp-monitoring",
    "sentry",
    "datadog",
    "generic",
)
EXPECTED = "an alert payload (" + ", ".join(SOURCES[:-1]) + " or a list of alerts)"
Reading = tuple[list[Alert], list[str]]


def _only_alerts(
    reader: Callable[[dict[str, Any], str], list[Alert]],
) -> Callable[[dict[str, Any], str], Reading]:
    return lambda o, ref: (reader(o, ref), [])


# Checked in order: the specific shapes first, the generic fallback last.
_READERS: tuple[
    tuple[str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any], str], Reading]], ...
] = (
    (
        "cloudwatch",
        cloudwatch.is_alarm,
        _only_alerts(lambda o, ref: [cloudwatch.read_alarm(o, ref)]),
    ),
    ("grafana", prometheus.is_grafana, _only_alerts(prometheus.read_grafana)),
    ("alertmanager", prometheus.is_alertmanager, _only_alerts(prometheus.read_alertmanager)),
    ("pagerduty", pagerduty.matches, pagerduty.read),
    ("opsgenie", opsgenie.matches, _only_alerts(opsgenie.read)),
    ("gcp-monitoring", gcp.matches, _only_alerts(gcp.read)),
    ("sentry", sentry.matches, _only_alerts(sentry.read)),
    ("datadog", datadog.matches, _only_alerts(datadog.read)),
    ("generic", generic.matches, _only_alerts(generic.read)),
)
_MAX_SNS_DEPTH = 3
_SNIFF_ITEMS = 20


def sniff(obj: object) -> str | None:
    """The alert source of a decoded JSON value, or None if it is not an alert payload."""
    if isinstance(obj, dict):
        return _source(obj, 0)
    if isinstance(obj, list) and obj:
        found = [
            _source(item, 0) if isinstance(item, dict) else None for item in obj[:_SNIFF_ITEMS]
        ]
        if all(found):
            return found[0]
    return None


def read(obj: object, name: str) -> Bundle:
    """Alerts from one decoded payload (or a list of payloads), with one InputInfo for it.

    Raises FormatError when the value is not an alert payload.
    """
    source = sniff(obj)
    if _nothing_firing(obj):
        # What Alertmanager's /api/v2/alerts (or a webhook with no alerts) says when
        # nothing fires: a real answer, not a broken file.
        empty = Bundle(notices=[f"{name}: the payload holds no alerts: nothing is firing"])
        empty.inputs.append(
            InputInfo(path=name, kind="alerts", format=source or "empty", records=0)
        )
        return empty
    if source is None:
        raise FormatError(name, "not an alert payload", EXPECTED)
    alerts: list[Alert] = []
    notices: list[str] = []
    skipped = 0
    items = obj if isinstance(obj, list) else [obj]
    for i, item in enumerate(items):
        ref = f"{name}[{i}]" if isinstance(obj, list) else name
        found = _read_one(item, ref, 0) if isinstance(item, dict) else None
        if found is None:
            skipped += 1
            continue
        alerts.extend(found[0])
        notices.extend(found[1])
    bundle = Bundle(alerts=alerts, notices=notices)
    bundle.inputs.append(
        InputInfo(path=name, kind="alerts", format=source, records=len(alerts), skipped=skipped)
    )
    if skipped:
        bundle.quality.skipped += skipped
        bundle.quality.warn(f"{name}: {skipped} list items are not alert payloads")
    return bundle


def _nothing_firing(obj: object) -> bool:
    """An empty list of alerts, bare or in an `alerts` field."""
    if isinstance(obj, list):
        return not obj
    return isinstance(obj, dict) and obj.get("alerts") == [] and "resourceSpans" not in obj


def _source(obj: dict[str, Any], depth: int) -> str | None:
    messages = cloudwatch.sns_messages(obj)
    if messages is not None:
        if depth >= _MAX_SNS_DEPTH:
            return None
        inner = [_source(m, depth + 1) if isinstance(m, dict) else None for m in messages]
        return inner[0] if all(inner) else None
    for source, matches, _reader in _READERS:
        if matches(obj):
            return source
    return None


def _read_one(obj: dict[str, Any], ref: str, depth: int) -> Reading | None:
    messages = cloudwatch.sns_messages(obj)
    if messages is not None:
        if depth >= _MAX_SNS_DEPTH:
            return None
        alerts: list[Alert] = []
        notices: list[str] = []
        for i, message in enumerate(messages):
            inner_ref = f"{ref}#Records[{i}]" if len(messages) > 1 else ref
            found = _read_one(message, inner_ref, depth + 1) if isinstance(message, dict) else None
            if found is not None:
                alerts.extend(found[0])
                notices.extend(found[1])
        return alerts, notices
    for _source_name, matches, reader in _READERS:
        if matches(obj):
            return reader(obj, ref)
    return None
