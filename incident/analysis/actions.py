"""Deterministic first actions, each tied to the kind of cause it answers, plus what the alert
runbooks say."""

from __future__ import annotations

from collections.abc import Sequence

from incident.analysis.rank import Candidate
from incident.report import Action, AlertSummary


def _for(c: Candidate) -> list[Action]:
    name = c.component
    if c.kind == "deploy" and c.version:
        return [Action(action=f"Roll back {name} from version {c.version} to the previous one",
                       why=f"failures are concentrated on {name} {c.version}", risk="low")]
    if c.instance:
        return [Action(action=f"Drain and restart {c.instance}",
                       why=f"the failures or slowness of {name} sit on this one instance",
                       risk="low")]
    if c.kind == "client-input":
        return [Action(action=f"Find and throttle or fix the client sending invalid input to "
                              f"{name}", why="the failures are client errors (4xx): requests "
                                             "are rejected, the service is healthy",
                       risk="low")]
    if c.kind == "saturation":
        return [Action(action=f"Raise the connection pool size of {name} or shed load; look "
                              f"for leaked connections",
                       why="requests wait inside the service before their database call",
                       risk="medium")]
    if c.kind == "network":
        return [Action(action=f"Check the network path to {name} (node, CNI, service mesh, "
                              f"packet loss)",
                       why="the gap between callers and its server spans grew while its own "
                           "work stayed fast", risk="low")]
    actions: list[Action] = []
    if c.ctype == "cache":
        actions.append(Action(action=f"Restore the cache {name} and protect the database from "
                                     f"the fallback load", why="cache failures push reads onto "
                                                               "the database", risk="medium"))
    elif c.ctype == "db":
        actions.append(Action(action=f"Check the database {name}: slow queries, locks, "
                                     f"replication; fail over if it is unhealthy",
                              why="time on the critical path grew in calls to it",
                              risk="medium"))
    elif c.ctype == "external":
        actions.append(Action(action=f"Check {name}'s status; open a circuit breaker or fail "
                                     f"over to a secondary provider",
                              why="an external dependency is slow or failing", risk="medium"))
    if c.category == "partial":
        actions.append(Action(action=f"Disable the feature flag for the non-critical "
                                     f"dependency {name} until it recovers",
                              why="callers already fall back; stop paying for the failures",
                              risk="low"))
    if c.category == "fatal":
        actions.append(Action(action=f"Check the configuration and resources of {name} "
                                     f"(missing config, disk, memory) before restarting",
                              why="the failures look fatal, not transient", risk="medium"))
    if any("rose" in f for f in c.facts) or (c.kind == "error" and c.category == "transient"):
        actions.append(Action(action=f"Add backoff and a retry budget to callers of {name}",
                              why="retries against a failing service multiply its load",
                              risk="low"))
    if c.timeouts:
        actions.append(Action(action=f"Open a circuit breaker in front of {name}",
                              why="callers time out waiting for it, tying up their own threads",
                              risk="medium"))
    if not actions:
        actions.append(Action(action=f"Investigate {name} first: recent changes, saturation, "
                                     f"dependencies", why="it explains most of the anomaly",
                              risk="low"))
    return actions


def suggest(causes: Sequence[Candidate], alerts: Sequence[AlertSummary]) -> list[Action]:
    out: list[Action] = []
    seen: set[str] = set()
    for c in causes[:2]:
        for a in _for(c):
            if a.action not in seen:
                seen.add(a.action)
                out.append(a)
    for al in alerts:
        if al.runbook and al.runbook not in seen:
            seen.add(al.runbook)
            out.append(Action(action=f"Follow the runbook for {al.name}: {al.runbook}",
                              why=f"alert {al.name} is {al.status}", source="runbook"))
    return out
