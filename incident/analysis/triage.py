"""Alert triage: group what fires, tell symptoms users feel from internal causes, and suggest
first actions from runbooks and rules keyed on alert names and labels. Pure: `now` is a
parameter, so the same alerts always triage the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from incident.analysis.alert_actions import DIAGNOSE_STEP, rule_steps
from incident.analysis.classify import alert_role, alert_status, runbooks, severity_rank
from incident.model import Alert
from incident.report import AlertRole, AlertStatus, Report, format_time
from incident.text import clip
from incident.triage_report import AlertGroup, LikelyCause, Triage, TriageAction

# An alert still firing after this many days is flagged as stale.
STALE_DAYS = 30


# --- first actions ------------------------------------------------------------------------


def _rule_actions(alert: Alert, role: AlertRole) -> list[TriageAction]:
    """First actions from the pattern table in `alert_actions`."""
    return [
        TriageAction(action=action, why=why, source="rule", command=command)
        for action, why, command in rule_steps(alert, role)
    ]


def _runbook_action(ref: str) -> TriageAction:
    """A runbook link, or the alert's own documentation text when it is not a link (GCP)."""
    if re.match(r"https?://", ref):
        return TriageAction(
            action="Follow the runbook", why="linked from the alert", source="runbook", url=ref
        )
    text = " ".join(ref.split())
    text = clip(text, 300)
    return TriageAction(
        action=f"Read the alert's documentation: {text}",
        why="written by the alert's author",
        source="runbook",
    )


# --- grouping -----------------------------------------------------------------------------


def _instances(alerts: Iterable[Alert]) -> list[str]:
    seen: list[str] = []
    for alert in alerts:
        for key in ("pod", "instance", "host", "node", "InstanceId", "zone"):
            value = alert.labels.get(key)
            if value and value not in seen:
                seen.append(value)
                break
    return seen


def _group_status(statuses: Sequence[AlertStatus]) -> AlertStatus:
    order: tuple[AlertStatus, ...] = ("firing", "acknowledged", "resolved")
    for status in order:
        if status in statuses:
            return status
    return "unknown"


def _duration_s(
    starts: list[int], ends: list[int], status: AlertStatus, now_ns: int | None
) -> float | None:
    if not starts:
        return None
    first = min(starts)
    if status in ("firing", "acknowledged", "unknown"):
        # Alertmanager gives firing alerts a provisional ends_at in the future; ignore it.
        if now_ns is None:
            return None
        return max(0.0, (now_ns - first) / 1e9)
    if ends:
        return max(0.0, (max(ends) - first) / 1e9)
    return None


def _build_group(
    key: tuple[str, str | None],
    alerts: list[Alert],
    now_ns: int | None,
    causes: Sequence[str] = (),
    entry_services: Sequence[str] = (),
) -> AlertGroup:
    statuses = [alert_status(a) for a in alerts]
    status = _group_status(statuses)
    worst = max(alerts, key=lambda a: severity_rank(a.severity))
    starts = [a.starts_ns for a in alerts if a.starts_ns]
    ends = [a.ends_ns for a in alerts if a.ends_ns]
    role, reason = alert_role(alerts[0], causes, entry_services)
    linked: list[str] = []
    links: list[str] = []
    actions: list[TriageAction] = []
    for alert in alerts:
        for url in runbooks(alert):
            if url not in linked:
                linked.append(url)
        if alert.generator_url and alert.generator_url not in links:
            links.append(alert.generator_url)
        for action in _rule_actions(alert, role):
            if all(action.action != a.action for a in actions):
                actions.append(action)
    runbook_actions = [_runbook_action(ref) for ref in linked]
    if not actions and not runbook_actions:
        actions.append(
            TriageAction(
                action="Open the alert's source and the service dashboard",
                why="no runbook and no rule matched this alert",
                url=links[0] if links else None,
            )
        )
    # A heartbeat's own advice (do nothing) matters more than its runbook.
    ordered = actions + runbook_actions if role == "heartbeat" else runbook_actions + actions
    # A summary that only repeats the name adds nothing to read.
    summary = next((a.summary for a in alerts if a.summary and a.summary != key[0]), None)
    duration = _duration_s(starts, ends, status, now_ns)
    return AlertGroup(
        name=key[0],
        service=key[1],
        status=status,
        severity=worst.severity,
        severity_rank=severity_rank(worst.severity),
        count=len(alerts),
        firing=sum(1 for s in statuses if s in ("firing", "acknowledged")),
        resolved=sum(1 for s in statuses if s == "resolved"),
        sources=sorted({a.source for a in alerts}),
        started_at=format_time(min(starts)) if starts else None,
        ended_at=format_time(max(ends)) if ends and status == "resolved" else None,
        firing_for_s=duration,
        stale=status != "resolved" and (duration or 0.0) > STALE_DAYS * 86_400,
        role=role,
        role_reason=reason,
        summary=summary,
        instances=_instances(alerts),
        runbooks=linked,
        links=links,
        actions=ordered,
    )


_STATUS_ORDER = {"firing": 0, "acknowledged": 1, "unknown": 2, "resolved": 3}
_ROLE_ORDER = {"symptom": 0, "cause": 1, "unknown": 2, "heartbeat": 3}


def _group_sort_key(g: AlertGroup) -> tuple[int, int, int, str, str, str]:
    return (
        _STATUS_ORDER[g.status],
        _ROLE_ORDER[g.role],
        -g.severity_rank,
        g.started_at or "~",
        g.name,
        g.service or "",
    )


def _headline(groups: list[AlertGroup], firing: int, resolved: int) -> str:
    if not groups:
        return "No alerts in the input"
    live = [g for g in groups if g.status in ("firing", "acknowledged") and g.role != "heartbeat"]
    if not live:
        beating = any(g.role == "heartbeat" and g.status != "resolved" for g in groups)
        quiet = "Only heartbeats firing, no incident" if beating else "Nothing firing"
        return f"{quiet}; {resolved} resolved" if resolved else quiet
    symptoms = sum(1 for g in live if g.role == "symptom")
    causes = sum(1 for g in live if g.role == "cause")
    worst = max(live, key=lambda g: g.severity_rank)
    parts = [f"{firing} firing in {len(live)} group{'s' if len(live) != 1 else ''}"]
    # Acknowledged counts as open (someone is on it, nothing is fixed), but is said.
    acked = sum(g.count for g in live if g.status == "acknowledged")
    if acked:
        parts[0] += f", {acked} of them acknowledged"
    if symptoms:
        parts.append(f"{symptoms} user-facing")
    if causes:
        parts.append(f"{causes} internal cause{'s' if causes != 1 else ''}")
    if resolved:
        parts.append(f"{resolved} resolved")
    if worst.severity:
        parts.append(f"worst: {worst.severity} {worst.name}")
    return "; ".join(parts)


def _stale(groups: list[AlertGroup]) -> list[str]:
    """A notice for each group still firing after STALE_DAYS."""
    return [
        f"{g.name} has been firing since {g.started_at}, {int((g.firing_for_s or 0.0) // 86_400)}"
        " days before now: a forgotten alert, or an old payload replayed?"
        for g in groups
        if g.stale
    ]


def triage(
    alerts: list[Alert],
    notices: Sequence[str] = (),
    report: Report | None = None,
    now_ns: int | None = None,
) -> Triage:
    """Group alerts by (name, service), rank them and attach first actions.

    `now_ns` measures how long alerts have been firing (the CLI passes the current time);
    without it only resolved groups get a duration. With a `report`, the diagnosis' top root
    cause is attached and groups on that service are flagged.
    """
    # Several payloads about one alert (trigger, acknowledge, resolve) share a fingerprint or
    # dedup key; the last one read is its current state.
    current: dict[str, Alert] = {}
    for index, alert in enumerate(alerts):
        current[f"fp:{alert.fingerprint}" if alert.fingerprint else f"#{index}"] = alert
    buckets: dict[tuple[str, str | None], list[Alert]] = {}
    for alert in current.values():
        buckets.setdefault((alert.name, alert.service), []).append(alert)
    # Alerts on the cause the verdict names are causes, as `diagnose` says of them too.
    named = (
        [rc.service for rc in report.root_causes[:2]]
        if report is not None and report.verdict.status == "incident"
        else []
    )
    entry = sorted({e.service for e in report.impact.entrypoints}) if report is not None else []
    groups = [_build_group(key, members, now_ns, named, entry) for key, members in buckets.items()]

    likely: LikelyCause | None = None
    # A pointer only when the engine names one cause: no headline culprit without a verdict.
    if report is not None and report.root_causes and report.verdict.status == "incident":
        top = report.root_causes[0]
        likely = LikelyCause(
            service=top.service,
            operation=top.operation,
            kind=top.kind,
            category=top.category,
            score=top.score,
            summary=top.summary,
            evidence=list(top.evidence),
        )
        for g in groups:
            labels_text = " ".join(
                v for a in buckets[(g.name, g.service)] for v in a.labels.values()
            )
            if g.service == top.service or top.service in labels_text.split():
                g.matches_likely_cause = True
        where = top.service + (f" {top.operation}" if top.operation else "")
        for g in groups:
            # The traces were given and diagnosed: advice to go and diagnose them is moot.
            g.actions = [a for a in g.actions if a.action != DIAGNOSE_STEP]
            if g.status != "resolved" and g.role != "heartbeat":
                g.actions.insert(
                    0,
                    TriageAction(
                        action=f"Look at {where} first: {top.summary}",
                        why=f"top-ranked root cause from traces/logs ({top.kind}, "
                        f"score {top.score:.2f})",
                        source="report",
                    ),
                )

    groups.sort(key=_group_sort_key)
    notices = [*notices, *_stale(groups)]
    firing = sum(g.firing for g in groups if g.role != "heartbeat")
    resolved = sum(g.resolved for g in groups)
    return Triage(
        now=format_time(now_ns) if now_ns is not None else None,
        headline=_headline(groups, firing, resolved),
        firing=firing,
        resolved=resolved,
        groups=groups,
        likely_cause=likely,
        notices=list(notices),
    )
