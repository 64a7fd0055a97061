"""Jaeger UI/API JSON (`{"data": [...]}`, a single trace object with `processes`, or the
api_v2 gateway form with embedded processes) into model spans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incident.ingest.ids import norm_id
from incident.ingest.otlp_json import MAX_ATTR_CHARS, UNKNOWN_SERVICE, Tally, to_int
from incident.model import Bundle, InputInfo, Span, SpanEvent, SpanKind, SpanLink, StatusCode

_KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}
_US = 1000


def _traces(obj: object) -> list[dict[str, Any]]:
    if isinstance(obj, list):
        return [t for t in obj if isinstance(t, dict)]
    if not isinstance(obj, dict):
        return []
    data = obj.get("data")
    if isinstance(data, list):
        return [t for t in data if isinstance(t, dict)]
    result = obj.get("result")
    if isinstance(result, dict) and isinstance(result.get("spans"), list):
        return [result]
    return [obj]


def _is_trace(t: object) -> bool:
    if not isinstance(t, dict) or not isinstance(t.get("spans"), list):
        return False
    if isinstance(t.get("processes"), dict):
        return True
    first = next(iter(t["spans"]), None)
    return isinstance(first, dict) and (
        "spanID" in first or ("spanId" in first and "operationName" in first)
    )


def looks_like_jaeger(obj: object) -> bool:
    if isinstance(obj, dict) and obj.get("data") == [] and {"total", "errors"} & obj.keys():
        return True  # an API answer that found no traces: recognised, and empty
    traces = _traces(obj)
    return bool(traces) and _is_trace(traces[0])


def _tag_value(tag: dict[str, Any], tally: Tally) -> Any:
    value = tag.get("value")
    if value is None:
        # api_v2 gateway JSON spells the value by type: vStr, vInt64, vBool, ...
        for key in ("vStr", "vInt64", "vBool", "vFloat64", "vBinary"):
            if key in tag:
                value = tag[key]
                break
    kind = str(tag.get("type") or tag.get("vType") or "").lower()
    if kind in ("int64", "int") and isinstance(value, str):
        value = to_int(value) if to_int(value) is not None else value
    elif kind == "bool" and isinstance(value, str):
        value = value.lower() == "true"
    if isinstance(value, str) and len(value) > MAX_ATTR_CHARS:
        tally.truncated += 1
        value = value[:MAX_ATTR_CHARS] + "…"
    elif isinstance(value, dict | list):
        value = str(value)[:MAX_ATTR_CHARS]
    return value


def _tags(raw: object, tally: Tally) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(raw, list):
        for tag in raw:
            if isinstance(tag, dict) and "key" in tag:
                out[str(tag["key"])] = _tag_value(tag, tally)
    return out


def _micros(value: object) -> int | None:
    """Jaeger times are microseconds; the gateway form writes RFC 3339 strings instead."""
    n = to_int(value)
    if n is not None:
        return n
    if isinstance(value, str) and "T" in value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int(moment.timestamp() * 1_000_000)
    return None


def _duration_micros(value: object) -> int | None:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return int(float(value[:-1]) * 1_000_000)
        except ValueError:
            return None
    return to_int(value)


def _resource(process: object, tally: Tally) -> tuple[str, dict[str, Any]]:
    proc = process if isinstance(process, dict) else {}
    service = proc.get("serviceName")
    service = str(service) if service else UNKNOWN_SERVICE
    res = _tags(proc.get("tags"), tally)
    res["service.name"] = service
    if "hostname" in res and "host.name" not in res:
        res["host.name"] = res["hostname"]
    return service, res


def read(obj: object, name: str) -> Bundle:
    """Spans from a decoded Jaeger JSON value; bad spans are counted, not fatal."""
    tally = Tally(name)
    spans: list[Span] = []
    for trace in _traces(obj):
        processes: dict[str, tuple[str, dict[str, Any]]] = {}
        raw_processes = trace.get("processes")
        if isinstance(raw_processes, dict):
            for pid, proc in raw_processes.items():
                processes[str(pid)] = _resource(proc, tally)
        raw_spans = trace.get("spans")
        for raw in raw_spans if isinstance(raw_spans, list) else []:
            span = _span(raw, processes, tally)
            if span is not None:
                spans.append(span)
    bundle = Bundle(spans=spans)
    bundle.inputs.append(InputInfo(path=name, kind="traces", format="jaeger", records=len(spans)))
    tally.apply(bundle)
    return bundle


def _span(
    raw: object, processes: dict[str, tuple[str, dict[str, Any]]], tally: Tally
) -> Span | None:
    if not isinstance(raw, dict):
        tally.bad_spans += 1
        return None
    tid = norm_id(raw.get("traceID", raw.get("traceId")))
    sid = norm_id(raw.get("spanID", raw.get("spanId")))
    if tid is None or sid is None:
        tally.bad_ids += 1
        return None
    parent: str | None = None
    links: list[SpanLink] = []
    follows: str | None = None
    refs = raw.get("references")
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict):
            continue
        rtid = norm_id(ref.get("traceID", ref.get("traceId"))) or tid
        rsid = norm_id(ref.get("spanID", ref.get("spanId")))
        if rsid is None:
            continue
        if rtid != tid:
            links.append(SpanLink(trace_id=rtid, span_id=rsid))
        elif str(ref.get("refType", "CHILD_OF")).upper() == "FOLLOWS_FROM":
            follows = follows or rsid
        elif parent is None:
            parent = rsid
    parent = parent or follows or norm_id(raw.get("parentSpanID"))
    if parent == sid:
        parent = None
        tally.self_parent += 1
    pid = raw.get("processID")
    if isinstance(pid, str) and pid in processes:
        service, res = processes[pid]
    elif isinstance(raw.get("process"), dict):
        service, res = _resource(raw["process"], tally)
    else:
        service, res = UNKNOWN_SERVICE, {"service.name": UNKNOWN_SERVICE}
    attrs = _tags(raw.get("tags"), tally)
    kind_tag = attrs.get("span.kind")
    kind = _KINDS.get(kind_tag.lower(), 0) if isinstance(kind_tag, str) else 0
    status, message = StatusCode.UNSET, ""
    otel_status = attrs.get("otel.status_code")
    if isinstance(otel_status, str) and otel_status.upper() in ("ERROR", "OK"):
        status = StatusCode.ERROR if otel_status.upper() == "ERROR" else StatusCode.OK
        message = str(attrs.get("otel.status_description") or "")
    error = attrs.get("error")
    if error is True or (isinstance(error, str) and error.lower() == "true"):
        status = StatusCode.ERROR
    start = _micros(raw.get("startTime"))
    duration = _duration_micros(raw.get("duration"))
    if start is None:
        tally.repaired += 1
        start = 0
    if duration is not None and duration < 0:
        tally.repaired += 1
        duration = 0
    events: list[SpanEvent] = []
    logs = raw.get("logs")
    for log in logs if isinstance(logs, list) else []:
        if not isinstance(log, dict):
            continue
        fields = _tags(log.get("fields"), tally)
        t = _micros(log.get("timestamp")) or 0
        label = fields.get("event") or fields.get("message") or "log"
        events.append(SpanEvent(time_ns=t * _US, name=str(label), attributes=fields))
    return Span(
        trace_id=tid,
        span_id=sid,
        parent_id=parent,
        service=service,
        name=str(raw.get("operationName") or ""),
        kind=kind,
        start_ns=start * _US,
        end_ns=(start + (duration or 0)) * _US,
        status=status,
        status_message=message,
        attributes=attrs,
        events=tuple(events),
        links=tuple(links),
        resource=res,
        no_duration=duration is None,
    )
