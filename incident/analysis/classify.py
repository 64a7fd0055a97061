"""The one home of the alert facts every part of the engine shares: an alert's role (a
symptom users feel, an internal cause, a heartbeat), its status and severity rank, the
service it is about and its runbooks. `diagnose` and `triage` both ask here, so they cannot
disagree about the same alert.

Alert readers normalise each tool's words before the alert gets here (`firing`,
`acknowledged`, `resolved`, ...; `critical`, `error`, `warning`, `info`): this module
ranks that vocabulary and never re-normalises raw words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from incident.model import Alert
from incident.report import AlertRole, AlertStatus, Category

# The readers' severity vocabulary, worst last; other words rank as unknown (-1).
_SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}
_STATUS: dict[str, AlertStatus] = {
    "firing": "firing",
    "pending": "firing",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
}

_HEARTBEAT = re.compile(r"watchdog|deadmans?(switch|snitch)|heartbeat|infoinhibitor", re.I)
_SYMPTOM = re.compile(
    r"latency|slow|p9[059]|response.?time|apdex|error.?rate|errors?.?budget|burn.?rate|"
    r"\b5xx\b|http.?5|availability|uptime|\bslo\b|\bsli\b|probe|blackbox|endpoint.?down|"
    r"target.?down|unreachable|unavailable|timeouts?\b|request.?fail|exception|success",
    re.I,
)
_CAUSE = re.compile(
    r"cpu|memory|\bmem\b|\boom|disk|filesystem|inode|volume|crash|restart|replica|"
    r"pod.?not.?ready|node.?not.?ready|pending|evict|throttl|connection|pool|database|"
    r"\bdb\b|postgres|mysql|redis|queue|backlog|\blag\b|kafka|network|saturat|deploy|"
    r"rollout|job.?fail|certificate|cert.?expir|\bkube",
    re.I,
)
_SERVICE_LABELS = (
    "service",
    "service_name",
    "app",
    "job",
    "container",
    "deployment",
    "pod",
    "instance",
)


def alert_service(alert: Alert) -> str | None:
    """The service an alert is about: its own field, else the first telling label."""
    if alert.service:
        return alert.service
    for key in _SERVICE_LABELS:
        v = alert.labels.get(key)
        if v:
            return v
    return None


def alert_status(alert: Alert) -> AlertStatus:
    """firing / acknowledged / resolved, or unknown for states like suppressed or no data."""
    return _STATUS.get(alert.status, "unknown")


def severity_rank(severity: str | None) -> int:
    """0..4 for the readers' severity words (info 1 .. critical 4); -1 when unknown."""
    if not severity:
        return -1
    return _SEVERITY_RANK.get(severity, -1)


def alert_role(
    alert: Alert, causes: Sequence[str] = (), entry_services: Iterable[str] = ()
) -> tuple[AlertRole, str]:
    """Whether an alert is a heartbeat, points at a named cause, is a symptom users feel or
    an internal cause, and why. `causes` are the components the verdict names (none when
    it names none); `entry_services` the services requests enter through.

    The name decides first; summary and labels break ties, because names like "High memory
    usage" carry most of the meaning while labels carry context.
    """
    name_text = f"{alert.name} {alert.labels.get('alertname', '')}"
    if _HEARTBEAT.search(name_text):
        return "heartbeat", "always-firing heartbeat of the alerting pipeline"
    svc = alert_service(alert) or ""
    text = " ".join([alert.name, svc, *alert.labels.values()]).lower()
    for cause in causes:
        if cause and (cause == svc or cause.lower() in text.split()):
            return "cause", f"it fires on {cause}, the diagnosed cause"
    if alert.source == "sentry":
        return "symptom", "application errors reported by Sentry are errors users hit"
    for piece in (name_text, alert.summary or "", " ".join(alert.labels.values())):
        symptom = _SYMPTOM.search(piece)
        cause_word = _CAUSE.search(piece)
        if symptom and cause_word:
            # "PostgresSlowQueries", "RedisLatencyHigh": an internal component's own
            # slowness or errors; users feel it at the entry points, not there.
            return "cause", (
                f"'{symptom.group(0)}' of '{cause_word.group(0)}', an internal component, "
                "not what users see"
            )
        if symptom:
            return "symptom", f"'{symptom.group(0)}' is something users feel"
        if cause_word:
            return "cause", f"'{cause_word.group(0)}' is internal state, not what users see"
    if svc and svc in set(entry_services):
        return "symptom", f"it fires on {svc}, where requests enter"
    return "unknown", "neither a user-facing signal nor a known internal cause"


def runbooks(alert: Alert) -> list[str]:
    """Every runbook or playbook the alert links to, its own field first."""
    found: list[str] = []
    for value in (
        alert.runbook,
        alert.annotations.get("runbook_url"),
        alert.annotations.get("runbook"),
        alert.annotations.get("playbook"),
        alert.labels.get("runbook_url"),
        alert.labels.get("runbook"),
        alert.labels.get("playbook"),
    ):
        if value and value not in found:
            found.append(value)
    return found


# --- failures ----------------------------------------------------------------------------


def failure_category(
    category: Category, failures: int, absorbed: int, retried: int, consumer: bool
) -> Category:
    """The impact category of a component's failures, for the cause table and the failures
    table alike: "partial" when the entry point absorbed most of them (users still
    succeeded) and callers did not simply retry them, unless they are fatal or happen while
    consuming messages (nobody waits there to absorb them)."""
    n = max(1, failures)
    if category != "fatal" and absorbed >= 0.8 * n and retried < 0.5 * n and not consumer:
        return "partial"
    return category
