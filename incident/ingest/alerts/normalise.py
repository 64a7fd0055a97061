"""The small conversions every alert reader shares: severities and statuses to one vocabulary,
loose JSON values to the strings and dicts an Alert holds, times to nanoseconds.
"""

from __future__ import annotations

from typing import Any

from incident.ingest.bounds import json_text
from incident.ingest.logs.timestamps import parse_time

JSONObject = dict[str, Any]

_SEVERITY = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "emerg": "critical",
    "alert": "critical",
    "page": "critical",
    "disaster": "critical",
    "high": "critical",
    "p1": "critical",
    "sev1": "critical",
    "sev-1": "critical",
    "error": "error",
    "err": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "sev-2": "error",
    "warning": "warning",
    "warn": "warning",
    "minor": "warning",
    "medium": "warning",
    "average": "warning",
    "p3": "warning",
    "sev3": "warning",
    "sev-3": "warning",
    "info": "info",
    "information": "info",
    "informational": "info",
    "notice": "info",
    "low": "info",
    "debug": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev5": "info",
}
# Values that mean "no severity was set" rather than a level.
_NO_SEVERITY = frozenset(("", "none", "no severity", "unknown", "default", "null"))

_STATUS = {
    "firing": "firing",
    "alerting": "firing",
    "active": "firing",
    "triggered": "firing",
    "trigger": "firing",
    "open": "firing",
    "alarm": "firing",
    "problem": "firing",
    "critical": "firing",
    "warning": "firing",
    "resolved": "resolved",
    "resolve": "resolved",
    "ok": "resolved",
    "closed": "resolved",
    "recovered": "resolved",
    "inactive": "resolved",
    "normal": "resolved",
    "acknowledged": "acknowledged",
    "acknowledge": "acknowledged",
    "acked": "acknowledged",
    "suppressed": "suppressed",
    "silenced": "suppressed",
    "pending": "pending",
    "no_data": "no_data",
    "nodata": "no_data",
    "insufficient_data": "no_data",
    "paused": "paused",
}


def severity(value: object) -> str | None:
    """critical/error/warning/info where the value says so; other words kept lower-cased."""
    text = string(value)
    if text is None:
        return None
    key = text.strip().lower()
    if key in _NO_SEVERITY:
        return None
    return _SEVERITY.get(key, key[:40])


def status(value: object, default: str = "firing") -> str:
    """firing/resolved/acknowledged/... for any tool's state word."""
    text = string(value)
    if not text:
        return default
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    return _STATUS.get(key, key[:40])


def string(value: object) -> str | None:
    """A non-empty string for a scalar JSON value, else None."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return None


def first_string(obj: JSONObject, *keys: str) -> str | None:
    for key in keys:
        found = string(obj.get(key))
        if found:
            return found
    return None


def string_dict(value: object) -> dict[str, str]:
    """A label or annotation map with every value a string (objects become compact text)."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        text = string(item)
        if text is None and isinstance(item, dict | list) and item:
            text = _compact(item)
        if text is not None:
            out[str(key)] = text[:4096]
    return out


def _compact(value: dict[str, Any] | list[Any]) -> str:
    return json_text(value, 4096)


def obj(value: object) -> JSONObject:
    """The value if it is a JSON object, else an empty one: missing sections read as empty."""
    return value if isinstance(value, dict) else {}


def time_ns(value: object) -> int | None:
    """Nanoseconds for a time value; the zero time ("0001-01-01...") and epoch 0 mean none."""
    found = parse_time(value)
    if found is None or found <= 0:
        return None
    return found
