"""Serialise synthetic spans, logs and alerts the way real tools export them (OTLP JSON and
JSON Lines, Jaeger JSON, Zipkin v2, structlog/ECS JSON lines, Alertmanager webhook v4), so a
scenario can be round-tripped through the readers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from incident.model import Alert, LogRecord, Span, SpanKind

_KIND_NAMES = {
    0: "SPAN_KIND_UNSPECIFIED",
    1: "SPAN_KIND_INTERNAL",
    2: "SPAN_KIND_SERVER",
    3: "SPAN_KIND_CLIENT",
    4: "SPAN_KIND_PRODUCER",
    5: "SPAN_KIND_CONSUMER",
}
_ZIPKIN_KINDS = {
    SpanKind.SERVER: "SERVER",
    SpanKind.CLIENT: "CLIENT",
    SpanKind.PRODUCER: "PRODUCER",
    SpanKind.CONSUMER: "CONSUMER",
}


def _iso(ns: int) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _kv(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in attrs.items()]


def _group(spans: Iterable[Span]) -> dict[int, tuple[dict[str, Any], list[Span]]]:
    groups: dict[int, tuple[dict[str, Any], list[Span]]] = {}
    for s in spans:
        res = s.resource or {"service.name": s.service}
        g = groups.get(id(s.resource))
        if g is None:
            groups[id(s.resource)] = (res, [s])
        else:
            g[1].append(s)
    return groups


def _otlp_span(s: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "name": s.name,
        "kind": s.kind,
        "startTimeUnixNano": str(s.start_ns),
        "endTimeUnixNano": str(s.end_ns),
        "attributes": _kv(s.attributes),
        "status": {"code": s.status, **({"message": s.status_message} if s.status_message else {})},
    }
    if s.parent_id:
        out["parentSpanId"] = s.parent_id
    if s.events:
        out["events"] = [
            {"timeUnixNano": str(e.time_ns), "name": e.name, "attributes": _kv(e.attributes)}
            for e in s.events
        ]
    return out


def otlp_request(spans: Iterable[Span]) -> dict[str, Any]:
    """One ExportTraceServiceRequest as OTLP/JSON."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _kv(res)},
                "scopeSpans": [
                    {"scope": {"name": "synth"}, "spans": [_otlp_span(s) for s in group]}
                ],
            }
            for res, group in _group(spans).values()
        ]
    }


def write_otlp_json(spans: Sequence[Span], path: Path) -> None:
    path.write_text(json.dumps(otlp_request(spans)), encoding="utf-8")


def write_otlp_jsonl(spans: Sequence[Span], path: Path, batch: int = 500) -> None:
    """JSON Lines as the Collector's file exporter writes them: one request per line."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(0, len(spans), batch):
            fh.write(json.dumps(otlp_request(spans[i : i + batch])) + "\n")


def _jaeger_tag(k: str, v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"key": k, "type": "bool", "value": v}
    if isinstance(v, int):
        return {"key": k, "type": "int64", "value": v}
    if isinstance(v, float):
        return {"key": k, "type": "float64", "value": v}
    return {"key": k, "type": "string", "value": str(v)}


def jaeger_traces(spans: Sequence[Span]) -> dict[str, Any]:
    """Jaeger UI/API JSON: `{"data": [trace...]}` with a `processes` map per trace."""
    traces: dict[str, list[Span]] = {}
    for s in spans:
        traces.setdefault(s.trace_id, []).append(s)
    data = []
    for trace_id, group in traces.items():
        processes: dict[str, dict[str, Any]] = {}
        pid_of: dict[int, str] = {}
        out = []
        for s in group:
            pid = pid_of.get(id(s.resource))
            if pid is None:
                pid = pid_of[id(s.resource)] = f"p{len(pid_of) + 1}"
                processes[pid] = {
                    "serviceName": s.service,
                    "tags": [
                        _jaeger_tag(k, v) for k, v in s.resource.items() if k != "service.name"
                    ],
                }
            tags = [_jaeger_tag(k, v) for k, v in s.attributes.items()]
            if s.kind in _ZIPKIN_KINDS:
                tags.append(_jaeger_tag("span.kind", _ZIPKIN_KINDS[SpanKind(s.kind)].lower()))
            if s.status == 2:
                tags.append(_jaeger_tag("error", True))
                if s.status_message:
                    tags.append(_jaeger_tag("otel.status_description", s.status_message))
            out.append(
                {
                    "traceID": trace_id,
                    "spanID": s.span_id,
                    "operationName": s.name,
                    "references": [
                        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": s.parent_id}
                    ]
                    if s.parent_id
                    else [],
                    "startTime": s.start_ns // 1000,
                    "duration": (s.end_ns - s.start_ns) // 1000,
                    "tags": tags,
                    "processID": pid,
                    "logs": [
                        {
                            "timestamp": e.time_ns // 1000,
                            "fields": [_jaeger_tag("event", e.name)]
                            + [_jaeger_tag(k, v) for k, v in e.attributes.items()],
                        }
                        for e in s.events
                    ],
                }
            )
        data.append({"traceID": trace_id, "spans": out, "processes": processes})
    return {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}


def write_jaeger(spans: Sequence[Span], path: Path) -> None:
    path.write_text(json.dumps(jaeger_traces(spans)), encoding="utf-8")


def zipkin_spans(spans: Sequence[Span]) -> list[dict[str, Any]]:
    """Zipkin v2 JSON: a flat list, microsecond times, string tags, `error` tag on failure."""
    out = []
    for s in spans:
        inst = s.instance
        z: dict[str, Any] = {
            "traceId": s.trace_id,
            "id": s.span_id,
            "name": s.name.lower(),
            "timestamp": s.start_ns // 1000,
            "duration": max(1, (s.end_ns - s.start_ns) // 1000),
            "localEndpoint": {"serviceName": s.service, **({"ipv4": "10.0.0.1"} if inst else {})},
            "tags": {k: str(v) for k, v in s.attributes.items()},
        }
        if s.parent_id:
            z["parentId"] = s.parent_id
        if s.kind in _ZIPKIN_KINDS:
            z["kind"] = _ZIPKIN_KINDS[SpanKind(s.kind)]
        if s.status == 2:
            z["tags"]["error"] = s.status_message or "true"
        for k in ("service.version", "k8s.pod.name"):
            if k in s.resource:
                z["tags"][k] = str(s.resource[k])
        out.append(z)
    return out


def write_zipkin(spans: Sequence[Span], path: Path) -> None:
    path.write_text(json.dumps(zipkin_spans(spans)), encoding="utf-8")


def log_line(rec: LogRecord, style: str = "structlog") -> dict[str, Any]:
    """One log record as a structlog-style or ECS-style JSON object."""
    ts = _iso(rec.time_ns) if rec.time_ns is not None else None
    if style == "ecs":
        obj: dict[str, Any] = {
            "@timestamp": ts,
            "log.level": (rec.level or "info").lower(),
            "message": rec.message,
            "service.name": rec.service,
        }
        if rec.trace_id:
            obj["trace.id"] = rec.trace_id
        if rec.span_id:
            obj["span.id"] = rec.span_id
        if rec.instance:
            obj["host.name"] = rec.instance
    else:
        obj = {
            "timestamp": ts,
            "level": (rec.level or "info").lower(),
            "event": rec.message,
            "service": rec.service,
        }
        if rec.trace_id:
            obj["trace_id"] = rec.trace_id
        if rec.span_id:
            obj["span_id"] = rec.span_id
        if rec.instance:
            obj["pod"] = rec.instance
    obj.update(rec.fields)
    return obj


def write_logs(logs: Sequence[LogRecord], path: Path, style: str = "structlog") -> None:
    with path.open("w", encoding="utf-8") as fh:
        for rec in logs:
            fh.write(json.dumps(log_line(rec, style)) + "\n")


def alertmanager_payload(alerts: Sequence[Alert], receiver: str = "oncall") -> dict[str, Any]:
    """A Prometheus Alertmanager webhook (version 4) carrying these alerts."""
    items = []
    for a in alerts:
        labels = dict(a.labels) or {"alertname": a.name}
        labels.setdefault("alertname", a.name)
        if a.service:
            labels.setdefault("service", a.service)
        if a.severity:
            labels.setdefault("severity", a.severity)
        annotations = dict(a.annotations)
        if a.runbook:
            annotations.setdefault("runbook_url", a.runbook)
        items.append(
            {
                "status": a.status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": _iso(a.starts_ns) if a.starts_ns else "0001-01-01T00:00:00Z",
                "endsAt": _iso(a.ends_ns) if a.ends_ns else "0001-01-01T00:00:00Z",
                "generatorURL": a.generator_url or "http://prometheus.example/graph",
                "fingerprint": a.fingerprint or "",
            }
        )
    firing = any(a.status == "firing" for a in alerts)
    common = {"alertname": alerts[0].name} if len({a.name for a in alerts}) == 1 else {}
    return {
        "version": "4",
        "groupKey": '{}:{alertname=~".*"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": receiver,
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": items,
    }


def write_alertmanager(alerts: Sequence[Alert], path: Path) -> None:
    path.write_text(json.dumps(alertmanager_payload(alerts), indent=1), encoding="utf-8")


SPAN_WRITERS = {
    "otlp-json": (write_otlp_json, "traces.otlp.json"),
    "otlp-jsonl": (write_otlp_jsonl, "traces.otlp.jsonl"),
    "jaeger": (write_jaeger, "traces.jaeger.json"),
    "zipkin": (write_zipkin, "traces.zipkin.json"),
}


def write_scenario(
    spans: Sequence[Span],
    baseline: Sequence[Span],
    logs: Sequence[LogRecord],
    alerts: Sequence[Alert],
    directory: Path,
    fmt: str = "otlp-json",
) -> list[Path]:
    """A complete incident folder: traces, a baseline export, logs and an alert payload."""
    writer, name = SPAN_WRITERS[fmt]
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / name]
    writer(spans, written[0])
    if baseline:
        base_dir = directory / "baseline"
        base_dir.mkdir(exist_ok=True)
        written.append(base_dir / name)
        writer(baseline, written[-1])
    if logs:
        written.append(directory / "logs.jsonl")
        write_logs(logs, written[-1])
    if alerts:
        written.append(directory / "alertmanager.json")
        write_alertmanager(alerts, written[-1])
    return written
