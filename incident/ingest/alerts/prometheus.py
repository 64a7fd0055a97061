"""Prometheus-family alerts: the Alertmanager webhook (v4) and API v2 list, Grafana's unified
and legacy webhooks, and Robusta's wrappers around an Alertmanager alert.
"""

from __future__ import annotations

import re
from typing import Any

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

# Alerts computed by these exporters describe another workload, named in other labels.
_EXPORTERS = ("kube-state-metrics", "node-exporter", "kubelet", "cadvisor", "blackbox")
_WORKLOAD_LABELS = ("deployment", "statefulset", "daemonset", "cronjob", "job_name")
_SERVICE_LABELS = (
    "service",
    "service_name",
    "app",
    "app_kubernetes_io_name",
    "job",
    "deployment",
    "container",
)
# "<deployment>-<replicaset hash>-<pod hash>" or "<statefulset>-<ordinal>".
_POD_SUFFIX = re.compile(r"-(?:[a-z0-9]{8,10}-[a-z0-9]{5}|[a-z0-9]{5}|\d+)$")
_RUNBOOK_KEYS = ("runbook_url", "runbook", "runbook-url", "runbookURL", "playbook")
_GRAFANA_ALERT_KEYS = ("silenceURL", "dashboardURL", "panelURL", "values", "valueString")


def is_alertmanager(o: JSONObject) -> bool:
    """The webhook envelope, or one bare alert with an `alertname` label."""
    if isinstance(o.get("alerts"), list) and (
        "groupKey" in o or "receiver" in o or str(o.get("version")) == "4"
    ):
        return not is_grafana(o)
    return is_bare_alert(o) or is_robusta(o)


def is_bare_alert(o: JSONObject) -> bool:
    labels = o.get("labels")
    return (
        isinstance(labels, dict)
        and "alertname" in labels
        and ("startsAt" in o or "annotations" in o or "fingerprint" in o)
    )


def is_grafana(o: JSONObject) -> bool:
    alerts = o.get("alerts")
    if isinstance(alerts, list):
        if "orgId" in o:
            return True
        return any(isinstance(a, dict) and any(k in a for k in _GRAFANA_ALERT_KEYS) for a in alerts)
    # The legacy (pre-8) Grafana webhook: one rule, its state and the series that matched.
    return "ruleName" in o and "state" in o and ("evalMatches" in o or "ruleId" in o)


def is_robusta(o: JSONObject) -> bool:
    """Robusta issue (`raw` holds the alert) or finding (`aggregation_key` + labels)."""
    raw = o.get("raw")
    if isinstance(raw, dict) and is_bare_alert(raw):
        return True
    return "aggregation_key" in o and isinstance(o.get("labels"), dict) and "title" in o


def read_alertmanager(o: JSONObject, ref: str) -> list[Alert]:
    if is_robusta(o):
        return [_robusta(o, ref)]
    if is_bare_alert(o):
        return [_alert(o, "alertmanager", ref, None, {}, {})]
    return _group(o, "alertmanager", ref)


def read_grafana(o: JSONObject, ref: str) -> list[Alert]:
    if isinstance(o.get("alerts"), list):
        return _group(o, "grafana", ref)
    return [_legacy_grafana(o, ref)]


def _group(o: JSONObject, source: str, ref: str) -> list[Alert]:
    group_status = string(o.get("status"))
    common_labels = string_dict(o.get("commonLabels"))
    common_annotations = string_dict(o.get("commonAnnotations"))
    out = []
    for i, item in enumerate(o["alerts"]):
        if isinstance(item, dict):
            out.append(
                _alert(
                    item,
                    source,
                    f"{ref}#alerts[{i}]",
                    group_status,
                    common_labels,
                    common_annotations,
                )
            )
    return out


def _alert(
    a: JSONObject,
    source: str,
    ref: str,
    group_status: str | None,
    common_labels: dict[str, str],
    common_annotations: dict[str, str],
) -> Alert:
    labels = {**common_labels, **string_dict(a.get("labels"))}
    annotations = {**common_annotations, **string_dict(a.get("annotations"))}
    raw_status = a.get("status")
    if isinstance(raw_status, dict):
        # API v2: {"state": "active|suppressed|unprocessed", ...}
        raw_status = raw_status.get("state")
    state = status(raw_status or group_status)
    for key in _GRAFANA_ALERT_KEYS[:3]:
        url = string(a.get(key))
        if url:
            annotations.setdefault(key, url)
    values = a.get("values")
    if isinstance(values, dict) and values:
        annotations.setdefault("values", " ".join(f"{k}={v}" for k, v in values.items()))
    return Alert(
        source=source,
        status=state,
        name=labels.get("alertname")
        or string(a.get("name"))
        or annotations.get("title")
        or "alert",
        severity=severity(labels.get("severity") or labels.get("priority")),
        service=service_from_labels(labels),
        labels=labels,
        annotations=annotations,
        starts_ns=time_ns(a.get("startsAt")),
        # A firing alert's endsAt is only when Alertmanager would stop waiting, not an end.
        ends_ns=time_ns(a.get("endsAt")) if state == "resolved" else None,
        fingerprint=string(a.get("fingerprint")),
        runbook=first_string(annotations, *_RUNBOOK_KEYS),
        generator_url=string(a.get("generatorURL")),
        summary=annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message"),
        source_ref=ref,
    )


def service_from_labels(labels: dict[str, str]) -> str | None:
    """The service an alert is about, from the labels Prometheus setups put on alerts."""
    about_other = any(
        exporter in (labels.get("job", "") + " " + labels.get("service", ""))
        for exporter in _EXPORTERS
    )
    if about_other:
        for key in _WORKLOAD_LABELS:
            if labels.get(key):
                return labels[key]
        pod = labels.get("pod")
        if pod:
            return _POD_SUFFIX.sub("", pod)
        return labels.get("container") or labels.get("namespace")
    for key in _SERVICE_LABELS:
        value = labels.get(key)
        if value:
            return value
    return labels.get("namespace")


def _robusta(o: JSONObject, ref: str) -> Alert:
    raw = o.get("raw")
    if isinstance(raw, dict):
        alert = _alert(raw, "alertmanager", ref, None, {}, {})
        if alert.generator_url is None:
            alert.generator_url = string(o.get("url"))
        return alert
    labels = string_dict(o.get("labels"))
    annotations = string_dict(o.get("annotations"))
    ends = time_ns(o.get("ends_at"))
    links = o.get("video_links")
    url = None
    if isinstance(links, list):
        url = next((string(obj(x).get("url")) for x in links if string(obj(x).get("url"))), None)
    return Alert(
        source="alertmanager",
        status="resolved" if ends else "firing",
        name=labels.get("alertname") or first_string(o, "aggregation_key", "title") or "alert",
        severity=severity(labels.get("severity") or o.get("priority")),
        service=service_from_labels(labels),
        labels=labels,
        annotations=annotations,
        starts_ns=time_ns(o.get("starts_at")),
        ends_ns=ends,
        fingerprint=string(o.get("fingerprint")),
        runbook=first_string(annotations, *_RUNBOOK_KEYS),
        generator_url=url,
        summary=annotations.get("summary") or string(o.get("title")),
        source_ref=ref,
    )


def _legacy_grafana(o: JSONObject, ref: str) -> Alert:
    tags = string_dict(o.get("tags"))
    raw_matches = o.get("evalMatches")
    matches: list[Any] = raw_matches if isinstance(raw_matches, list) else []
    annotations = {}
    message = string(o.get("message"))
    if message:
        annotations["message"] = message
    if matches:
        annotations["evalMatches"] = "; ".join(
            f"{obj(m).get('metric')}={obj(m).get('value')}" for m in matches[:20]
        )
    rule = string(o.get("ruleName")) or "alert"
    return Alert(
        source="grafana",
        status=status(o.get("state")),
        name=rule,
        severity=severity(tags.get("severity")),
        service=service_from_labels(tags),
        labels=tags,
        annotations=annotations,
        fingerprint=string(o.get("ruleId")),
        generator_url=string(o.get("ruleUrl")),
        summary=message or string(o.get("title")),
        source_ref=ref,
    )
