"""Deterministic first actions, each tied to the kind of cause it answers, plus what the alert
runbooks say."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from incident.analysis.candidate import Candidate
from incident.analysis.evidence import MIN_EVIDENCE
from incident.report import Action, AlertSummary


def _check_pods(name: str, what: Literal["cpu", "network"], why: str) -> Action:
    """A low-risk check of a service's own pods: starved (cpu), or their own network."""
    action = {
        "cpu": f"Check CPU throttling, memory pressure and noisy neighbours of {name}'s "
        f"pods; scale it out if it is starved",
        "network": f"Check the network into and out of {name}'s pods (node, CNI, service "
        f"mesh, packet loss)",
    }[what]
    return Action(action=action, why=why, risk="low")


def _raise_pool(name: str, doubt: str = "") -> Action:
    why = "requests wait inside the service before their database call"
    return Action(
        action=f"Raise the connection pool size of {name} or shed load; look for leaked "
        f"connections",
        why=f"{why}, {doubt}" if doubt else why,
        risk="medium",
    )


def _for(c: Candidate, position: int) -> list[Action]:
    """The first actions for one ranked cause (`position` 0 for the top one).

    Data table: one branch per kind of cause, in precedence order (the first kind that
    matches answers alone), then the actions that add up by component type and failure
    category. Each branch is a few lines of wording; split, a reader would lose which
    branch wins.
    """
    name = c.component
    if c.kind == "deploy" and c.version:
        return [
            Action(
                action=f"Roll back {name} from version {c.version} to the previous one",
                why=f"failures are concentrated on {name} {c.version}",
                risk="low",
            )
        ]
    if c.instance:
        return [
            Action(
                action=f"Drain and restart {c.instance}",
                why=f"the failures or slowness of {name} sit on this one instance",
                risk="low",
            )
        ]
    if c.kind == "client-input":
        if c.errors < MIN_EVIDENCE:
            # A handful of 4xx is everyday traffic; chasing a client would waste the night.
            return [
                Action(
                    action=f"Look at the request {name} rejected before chasing a client",
                    why=f"only {c.errors} client error(s) (4xx) were "
                    f"seen, too few to call a bad client",
                    risk="low",
                )
            ]
        return [
            Action(
                action=f"Find and throttle or fix the client sending invalid input to {name}",
                why="the failures are client errors (4xx): requests "
                "are rejected, the service is healthy",
                risk="low",
            )
        ]
    if c.kind == "saturation" and c.starved:
        starved = _check_pods(
            name,
            "cpu",
            "every one of its operations slowed alike, short ones too"
            if c.uniform
            else "its own work rose as a whole over its operations, short ones too",
        )
        if c.alike == "network":
            return [
                starved,
                _check_pods(
                    name,
                    "network",
                    "most of the time it added is on the network into it or on its side "
                    "of its calls, where a delayed network looks the same as a starved "
                    "process",
                ),
            ]
        if c.alike == "pool":
            return [starved, _raise_pool(name, "and a starved process looks the same")]
        return [starved]
    if c.kind == "behaviour":
        return [
            Action(
                action=f"Look at {name}'s recent code or config change and its error "
                f"handling: what it calls next changed",
                why="it stopped or started calls while its callers behaved as before",
                risk="low",
            )
        ]
    if c.kind == "saturation":
        return [_raise_pool(name)]
    if c.kind == "network" and c.slow_to_send:
        why = "its calls to every other service waited longer on its own side"
        return [
            _check_pods(name, "cpu", f"{why}: a starved process is late to send and to read"),
            _check_pods(name, "network", f"{why}: its own network delays them all alike"),
        ]
    if c.kind == "network" and c.net_callee:
        return [
            Action(
                action=f"Check the network path from {name} to {c.net_callee} (node, "
                f"CNI, service mesh, packet loss)",
                why=f"its calls to {c.net_callee} spend their time between its client "
                f"spans and {c.net_callee}'s server spans",
                risk="low",
            )
        ]
    if c.kind == "network":
        why = (
            "the gap between callers and its server spans grew while its own work stayed fast"
            if c.compared
            else "most of the time of calls to it is spent between the caller's and its own spans"
        )
        return [
            Action(
                action=f"Check the network path to {name} (node, CNI, service mesh, packet loss)",
                why=why,
                risk="low",
            )
        ]
    if c.kind == "dependency":
        return [
            Action(
                action=f"Check that {name} is running and reachable: its pods, DNS "
                f"name and service endpoints",
                why=f"{c.unreachable} call(s) to it never connected (refused, "
                f"unavailable or unresolvable)",
                risk="low",
            )
        ]
    if c.consumer:
        return [
            Action(
                action=f"Check {name}'s consumer lag and dead-letter queue; replay the "
                f"failed messages once it is fixed",
                why="it fails while consuming messages, and nobody upstream retries or "
                "absorbs a consumer's failure",
                risk="low",
            )
        ]
    actions: list[Action] = []
    if c.ctype == "cache":
        actions.append(
            Action(
                action=f"Restore the cache {name} and protect the database from the fallback load",
                why="cache failures push reads onto the database",
                risk="medium",
            )
        )
    elif c.ctype == "db":
        actions.append(
            Action(
                action=f"Check the database {name}: slow queries, locks, "
                f"replication; fail over if it is unhealthy",
                why="time on the critical path grew in calls to it",
                risk="medium",
            )
        )
    elif c.ctype == "external":
        actions.append(
            Action(
                action=f"Check {name}'s status; open a circuit breaker or fail "
                f"over to a secondary provider",
                why="an external dependency is slow or failing",
                risk="medium",
            )
        )
    # Switching a cache off would send every read to the database it protects.
    if c.category == "partial" and c.errors >= MIN_EVIDENCE and c.ctype != "cache":
        actions.append(
            Action(
                action=f"Switch off calls to {name} (feature flag or circuit "
                f"breaker) until it recovers",
                why="callers already fall back; stop paying for the failures",
                risk="low",
            )
        )
    if c.category == "fatal":
        actions.append(
            Action(
                action=f"Check the configuration and resources of {name} "
                f"(missing config, disk, memory) before restarting",
                why="the failures look fatal, not transient",
                risk="medium",
            )
        )
    failing = c.kind == "error" and c.category == "transient" and c.errors > 0
    if any("rose" in f for f in c.facts) or failing:
        actions.append(
            Action(
                action=f"Add backoff and a retry budget to callers of {name}",
                why="retries against a failing service multiply its load",
                risk="low",
            )
        )
    if c.timeouts:
        actions.append(
            Action(
                action=f"Open a circuit breaker in front of {name}",
                why="callers time out waiting for it, tying up their own threads",
                risk="medium",
            )
        )
    if not actions:
        first = position == 0
        actions.append(
            Action(
                action=f"Investigate {name}{' first' if first else ''}: recent "
                f"changes, saturation, dependencies",
                why="it is the most likely cause found"
                if first
                else "it is the next most likely cause",
                risk="low",
            )
        )
    return actions


def suggest(causes: Sequence[Candidate], alerts: Sequence[AlertSummary]) -> list[Action]:
    out: list[Action] = []
    seen: set[str] = set()
    named: set[str] = set()
    for position, c in enumerate(causes[:2]):
        named.add(c.component)
        if c.net_callee in named:
            continue  # the caller's view of a network delay already acted on
        for a in _for(c, position):
            if a.action not in seen:
                seen.add(a.action)
                out.append(a)
    for al in alerts:
        if al.runbook and al.runbook not in seen:
            seen.add(al.runbook)
            out.append(
                Action(
                    action=f"Follow the runbook for {al.name}: {al.runbook}",
                    why=f"alert {al.name} is {al.status}",
                    source="runbook",
                )
            )
    return out
