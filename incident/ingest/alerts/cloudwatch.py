"""Amazon CloudWatch alarms: the alarm JSON as SNS delivers it (inside `Records[].Sns.Message`
or a bare SNS notification, where the message is a JSON string), bare, or via EventBridge.
"""

from __future__ import annotations

from typing import Any

import msgspec

from incident.ingest.alerts.normalise import JSONObject, obj, status, string, time_ns
from incident.model import Alert

# Dimensions that name what the alarm is about, best first; InstanceId-like ones only locate it.
_SERVICE_DIMENSIONS = (
    "ServiceName",
    "FunctionName",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "CacheClusterId",
    "QueueName",
    "TableName",
    "TopicName",
    "StreamName",
    "ApiName",
    "LoadBalancer",
    "TargetGroup",
    "ClusterName",
    "AutoScalingGroupName",
)


def sns_messages(o: JSONObject) -> list[Any] | None:
    """The decoded messages of an SNS event or notification, or None if `o` is neither."""
    records = o.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, dict) and isinstance(r.get("Sns"), dict) for r in records)
    ):
        return [_decode(r["Sns"].get("Message")) for r in records]
    if o.get("Type") == "Notification" and isinstance(o.get("Message"), str):
        return [_decode(o["Message"])]
    return None


def _decode(message: Any) -> Any:
    if not isinstance(message, str):
        return message
    try:
        return msgspec.json.decode(message)
    except (msgspec.DecodeError, RecursionError):
        return message


def is_alarm(o: JSONObject) -> bool:
    if "AlarmName" in o and ("NewStateValue" in o or "Trigger" in o):
        return True
    return (
        o.get("source") == "aws.cloudwatch"
        and isinstance(o.get("detail"), dict)
        and ("alarmName" in o["detail"])
    )


def read_alarm(o: JSONObject, ref: str) -> Alert:
    if "AlarmName" not in o:
        return _eventbridge(o, ref)
    trigger = obj(o.get("Trigger"))
    labels, dims = _metric_labels(trigger)
    for key in ("Region", "AWSAccountId", "OldStateValue", "NewStateValue"):
        value = string(o.get(key))
        if value:
            labels[key] = value
    state = status(o.get("NewStateValue"))
    changed = time_ns(o.get("StateChangeTime"))
    description = string(o.get("AlarmDescription"))
    reason = string(o.get("NewStateReason"))
    annotations = {}
    if description:
        annotations["description"] = description
    if reason:
        annotations["reason"] = reason
    return Alert(
        source="cloudwatch",
        status=state,
        name=string(o.get("AlarmName")) or "CloudWatch alarm",
        # An alarm state has no severity of its own; some teams put one in the name.
        severity=None,
        service=next((dims[d] for d in _SERVICE_DIMENSIONS if dims.get(d)), None),
        labels=labels,
        annotations=annotations,
        starts_ns=changed if state != "resolved" else None,
        ends_ns=changed if state == "resolved" else None,
        fingerprint=string(o.get("AlarmArn")),
        summary=reason or description,
        source_ref=ref,
    )


def _metric_labels(trigger: JSONObject) -> tuple[dict[str, str], dict[str, str]]:
    labels: dict[str, str] = {}
    dims: dict[str, str] = {}
    metrics: list[JSONObject] = [trigger]
    raw_metrics = trigger.get("Metrics")
    if isinstance(raw_metrics, list):
        metrics += [obj(obj(m).get("MetricStat")).get("Metric") or {} for m in raw_metrics]
    for metric in metrics:
        metric = obj(metric)
        for key in ("MetricName", "Namespace"):
            value = string(metric.get(key))
            if value:
                labels.setdefault(key, value)
        raw_dims = metric.get("Dimensions")
        if isinstance(raw_dims, list):
            for dim in raw_dims:
                dim = obj(dim)
                name = string(dim.get("name", dim.get("Name")))
                value = string(dim.get("value", dim.get("Value")))
                if name and value:
                    dims.setdefault(name, value)
                    labels.setdefault(name, value)
    return labels, dims


def _eventbridge(o: JSONObject, ref: str) -> Alert:
    detail = obj(o.get("detail"))
    state_obj = obj(detail.get("state"))
    state = status(state_obj.get("value"))
    changed = time_ns(state_obj.get("timestamp")) or time_ns(o.get("time"))
    reason = string(state_obj.get("reason"))
    labels = {k: v for k in ("region", "account") if (v := string(o.get(k)))}
    return Alert(
        source="cloudwatch",
        status=state,
        name=string(detail.get("alarmName")) or "CloudWatch alarm",
        labels=labels,
        starts_ns=changed if state != "resolved" else None,
        ends_ns=changed if state == "resolved" else None,
        fingerprint=(o.get("resources") or [None])[0]
        if isinstance(o.get("resources"), list)
        else None,
        summary=reason,
        source_ref=ref,
    )
