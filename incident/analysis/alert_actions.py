"""First actions for one alert from what its name, summary and labels mention: a table of
patterns, each with the steps (and a command to copy, for Kubernetes) it suggests. `triage`
attaches them to the alert's group."""

from __future__ import annotations

import re
import shlex

from incident.model import Alert
from incident.report import AlertRole

# (action, why, command to copy or None)
Step = tuple[str, str, str | None]


def _k8s_target(labels: dict[str, str]) -> tuple[str, str, str]:
    """Namespace, pod and deployment for a command to copy: label values shell-quoted (a
    label is data: `$(curl ...)` in it must stay a string), placeholders as they are."""
    namespace = labels.get("namespace") or labels.get("exported_namespace")
    pod = labels.get("pod") or labels.get("pod_name")
    deployment = labels.get("deployment") or labels.get("workload")
    return (
        shlex.quote(namespace) if namespace else "<namespace>",
        shlex.quote(pod) if pod else "<pod>",
        shlex.quote(deployment) if deployment else "<deployment>",
    )


# Advice to run the engine on the traces: moot once triage was given them and found a cause.
DIAGNOSE_STEP = "Run `incident diagnose` on the traces of the period to find the slow hop"

# What an alert's name, summary and labels mention -> first actions: (action, why, command).
# Commands are templates over the alert's namespace, pod, deployment and `-c container` flag,
# each shell-quoted already (see `_k8s_target`).
_RULES: tuple[tuple[re.Pattern[str], tuple[Step, ...]], ...] = (
    (
        re.compile(r"crash|restart|backoff"),
        (
            (
                "Read the log of the crashed container",
                "it says why the container exited",
                "kubectl logs -n {ns} {pod}{c_flag} --previous",
            ),
            (
                "Describe the pod",
                "exit code, OOMKilled, failing probes and recent events",
                "kubectl describe pod -n {ns} {pod}",
            ),
            (
                "Check recent deploys and config changes",
                "crash loops usually start with a new image, config or secret",
                "kubectl rollout history -n {ns} deployment/{deployment}",
            ),
        ),
    ),
    (
        re.compile(r"replica|rollout|not.?ready|pending|unschedul|available"),
        (
            (
                "Check whether the rollout is stuck",
                "a stuck rollout shows which replica does not become ready",
                "kubectl rollout status -n {ns} deployment/{deployment}",
            ),
            (
                "Look for scheduling failures in recent events",
                "resources, node selectors, taints and volumes block scheduling",
                "kubectl get events -n {ns} --sort-by=.lastTimestamp",
            ),
        ),
    ),
    (
        re.compile(r"cpu|throttl"),
        (
            (
                "Compare traffic and recent deploys with the CPU rise",
                "a traffic surge or a new version explains most CPU alerts",
                None,
            ),
            (
                "Check CPU limits and throttling before scaling out",
                "throttling looks like slowness",
                None,
            ),
        ),
    ),
    (
        re.compile(r"memory|\bmem\b|oom"),
        (
            (
                "Check memory growth since the last deploy and OOMKilled restarts",
                "steady growth after a release points to a leak; limits may be too low",
                None,
            ),
        ),
    ),
    (
        re.compile(r"disk|filesystem|inode|volume"),
        (
            (
                "Find what is filling the volume (logs, temp files, WAL) before it is full",
                "a full disk turns into write errors and crashes",
                None,
            ),
        ),
    ),
    (
        re.compile(r"connection|pool|database|\bdb\b|postgres|mysql"),
        (
            (
                "Check connection-pool saturation and slow queries (e.g. pg_stat_activity)",
                "exhausted pools and long queries make every caller wait",
                None,
            ),
        ),
    ),
    (
        re.compile(r"queue|backlog|\blag\b|kafka"),
        (
            (
                "Check that consumers are alive and keeping up; look for a poison message",
                "queue depth grows when consumers stop or slow down",
                None,
            ),
        ),
    ),
    (
        re.compile(r"network|packet|dns|egress|ingress"),
        (
            (
                "Compare network throughput with traffic; check for a transfer or retry storm",
                "unexpected network volume is often retries or a bulk job",
                None,
            ),
        ),
    ),
    (
        re.compile(r"certificate|cert.?expir|\btls\b|\bssl\b"),
        (("Renew or rotate the certificate", "expiring certificates fail every handshake", None),),
    ),
    (
        re.compile(r"latency|slow|p9[059]|response.?time"),
        (
            (
                DIAGNOSE_STEP,
                "the critical path names the hop that added the latency",
                None,
            ),
        ),
    ),
    (
        re.compile(r"error|5xx|http.?5|exception|fail"),
        (
            (
                "Read the error logs of the affected service and compare with the last deploy",
                "a new error right after a release is a rollback candidate",
                None,
            ),
        ),
    ),
    (
        re.compile(r"probe|blackbox|availability|uptime|down|unreachable"),
        (
            (
                "Check the endpoint from outside: DNS, TLS, load balancer, ready endpoints",
                "probes fail before users call",
                None,
            ),
        ),
    ),
)


def rule_steps(alert: Alert, role: AlertRole) -> list[Step]:
    """The steps from `_RULES` for what the alert mentions, in the table's order; a
    heartbeat gets only "no action", an alert tagged as a deploy a look at the deploy."""
    if role == "heartbeat":
        return [
            (
                "No action: this is a heartbeat that always fires",
                "it proves the alerting pipeline works; worry only if it stops arriving",
                None,
            )
        ]
    text = " ".join(
        [alert.name, alert.summary or "", *alert.labels.values(), *alert.labels.keys()]
    ).lower()
    ns, pod, deployment = _k8s_target(alert.labels)
    container = alert.labels.get("container")
    c_flag = f" -c {shlex.quote(container)}" if container else ""
    out: list[Step] = []
    for pattern, steps in _RULES:
        if not pattern.search(text):
            continue
        for action, why, command in steps:
            if command is not None:
                command = command.format(ns=ns, pod=pod, deployment=deployment, c_flag=c_flag)
            out.append((action, why, command))
    if alert.labels.get("class", "").lower() == "deploy" or "deploy" in alert.name.lower():
        out.append(
            (
                "Check what was deployed just before the alert",
                "the alert is tagged as a deploy",
                None,
            )
        )
    return out
