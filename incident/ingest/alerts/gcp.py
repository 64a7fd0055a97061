"""Google Cloud Monitoring webhook notifications (schema 1.2): one `incident` per payload."""

from __future__ import annotations

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

_RESOURCE_SERVICE_LABELS = (
    "service_name",
    "function_name",
    "module_id",
    "container_name",
    "job",
    "instance_name",
)


def matches(o: JSONObject) -> bool:
    incident = o.get("incident")
    return isinstance(incident, dict) and (
        "incident_id" in incident or "policy_name" in incident or "condition_name" in incident
    )


def read(o: JSONObject, ref: str) -> list[Alert]:
    inc = o["incident"]
    resource = obj(inc.get("resource"))
    resource_labels = string_dict(resource.get("labels"))
    metric = obj(inc.get("metric"))
    metadata = obj(inc.get("metadata"))
    labels: dict[str, str] = {}
    labels.update({f"resource.{k}": v for k, v in resource_labels.items()})
    labels.update({f"metric.{k}": v for k, v in string_dict(metric.get("labels")).items()})
    labels.update(string_dict(metadata.get("system_labels")))
    labels.update(string_dict(metadata.get("user_labels")))
    for key in ("condition_name", "observed_value", "threshold_value", "scoping_project_id"):
        value = string(inc.get(key))
        if value:
            labels[key] = value
    if string(resource.get("type")):
        labels["resource.type"] = str(resource["type"])
    if string(metric.get("type")):
        labels["metric.type"] = str(metric["type"])
    doc = obj(inc.get("documentation"))
    doc_text = string(doc.get("content"))
    links = doc.get("links")
    link = None
    if isinstance(links, list):
        link = next((string(obj(x).get("url")) for x in links if string(obj(x).get("url"))), None)
    annotations = {"documentation": doc_text} if doc_text else {}
    state = status(inc.get("state"))
    service = string(inc.get("resource_display_name")) or first_string(
        resource_labels, *_RESOURCE_SERVICE_LABELS
    )
    return [
        Alert(
            source="gcp-monitoring",
            status=state,
            name=first_string(inc, "policy_name", "condition_name") or "Cloud Monitoring incident",
            severity=severity(inc.get("severity")),
            service=service,
            labels=labels,
            annotations=annotations,
            starts_ns=time_ns(inc.get("started_at")),
            ends_ns=time_ns(inc.get("ended_at")),
            fingerprint=string(inc.get("incident_id")),
            runbook=link or doc_text,
            generator_url=string(inc.get("url")),
            summary=string(inc.get("summary")),
            source_ref=ref,
        )
    ]
