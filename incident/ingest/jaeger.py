"""Jaeger UI/API JSON (`{"data": [...]}`, a single trace object with `processes`, or the
api_v2 gateway form with embedded processes) into model spans.

The UI form is decoded into typed structs one trace at a time; a trace of any other shape
goes through the generic reader, which checks every field.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import msgspec

from incident.ingest.bounds import safe_str
from incident.ingest.ids import norm_id
from incident.ingest.toolkit import (
    INTERN_CHARS,
    MAX_ATTR_CHARS,
    UNKNOWN_SERVICE,
    Paused,
    Tally,
    to_int,
)
from incident.model import Bundle, InputInfo, Span, SpanEvent, SpanKind, SpanLink, StatusCode

_KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}
_US = 1000
_intern = sys.intern


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
        value = tally.cut(value)
    elif isinstance(value, dict | list):
        value = safe_str(value, MAX_ATTR_CHARS)
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
        except (ValueError, OverflowError):  # "abcs", "nans", "infs", "1e999s"
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
        _read_generic_trace(trace, tally, spans)
    return _bundle(spans, tally, name)


def _bundle(spans: list[Span], tally: Tally, name: str) -> Bundle:
    bundle = Bundle(spans=spans)
    bundle.inputs.append(InputInfo(path=name, kind="traces", format="jaeger", records=len(spans)))
    tally.apply(bundle)
    return bundle


def _read_generic_trace(trace: dict[str, Any], tally: Tally, spans: list[Span]) -> None:
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
    pid = raw.get("processID")
    if isinstance(pid, str) and pid in processes:
        service, res = processes[pid]
    elif isinstance(raw.get("process"), dict):
        service, res = _resource(raw["process"], tally)
    else:
        service, res = UNKNOWN_SERVICE, {"service.name": UNKNOWN_SERVICE}
    events: list[SpanEvent] = []
    logs = raw.get("logs")
    for log in logs if isinstance(logs, list) else []:
        if not isinstance(log, dict):
            continue
        fields = _tags(log.get("fields"), tally)
        t = _micros(log.get("timestamp")) or 0
        label = fields.get("event") or fields.get("message") or "log"
        events.append(SpanEvent(time_ns=t * _US, name=str(label), attributes=fields))
    return _build(
        tid,
        sid,
        parent,
        links,
        service,
        res,
        str(raw.get("operationName") or ""),
        _tags(raw.get("tags"), tally),
        _micros(raw.get("startTime")),
        _duration_micros(raw.get("duration")),
        events,
        tally,
    )


def _build(
    tid: str,
    sid: str,
    parent: str | None,
    links: list[SpanLink],
    service: str,
    res: dict[str, Any],
    name: str,
    attrs: dict[str, Any],
    start: int | None,
    duration: int | None,
    events: list[SpanEvent],
    tally: Tally,
) -> Span:
    """What both readers share once the fields are out: status, kind, times, repairs."""
    if parent == sid:
        parent = None
        tally.self_parent += 1
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
    if start is None:
        tally.repaired += 1
        start = 0
    if duration is not None and duration < 0:
        tally.repaired += 1
        duration = 0
    return Span(
        trace_id=tid,
        span_id=sid,
        parent_id=parent,
        service=service,
        name=name,
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


# --- typed fast path: the UI/API `{"data": [...]}` form ------------------------------------


class _TagJ(msgspec.Struct, gc=False):
    key: str
    # Required: the api_v2 form spells values as vStr, vInt64, ... and must go generic.
    value: Any
    type: str = ""


class _LogJ(msgspec.Struct, gc=False):
    timestamp: int = 0
    fields: list[_TagJ] = []


class _RefJ(msgspec.Struct, gc=False):
    spanID: str
    refType: str = "CHILD_OF"
    traceID: str = ""


class _ProcessJ(msgspec.Struct, gc=False):
    serviceName: str = ""
    tags: list[_TagJ] = []


class _SpanJ(msgspec.Struct, gc=False):
    traceID: str
    spanID: str
    startTime: int
    operationName: str = ""
    references: list[_RefJ] = []
    duration: int | None = None
    tags: list[_TagJ] = []
    logs: list[_LogJ] = []
    processID: str = ""
    process: _ProcessJ | None = None
    parentSpanID: str = ""


class _TraceJ(msgspec.Struct, gc=False):
    spans: list[_SpanJ]
    processes: dict[str, _ProcessJ] = {}


class _EnvelopeJ(msgspec.Struct, gc=False):
    # Traces stay undecoded until their turn, so only one is ever held as structs.
    data: list[msgspec.Raw]


_ENVELOPE = msgspec.json.Decoder(_EnvelopeJ)
_TRACE = msgspec.json.Decoder(_TraceJ)


def read_bytes(data: bytes, name: str) -> Bundle | None:
    """Spans from Jaeger `{"data": [...]}` bytes; None when the bytes are not of that form.

    A trace that does not fit the typed structs is read by the generic reader instead.
    """
    with Paused():
        try:
            envelope = _ENVELOPE.decode(data)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
        if not envelope.data:
            return None
        tally = Tally(name)
        spans: list[Span] = []
        for raw in envelope.data:
            try:
                trace = _TRACE.decode(raw)
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                _generic_fallback(raw, tally, spans)
                continue
            _read_typed_trace(trace, tally, spans)
    # Nothing read: the generic reader decides what the document is and says why.
    return _bundle(spans, tally, name) if spans else None


def _generic_fallback(raw: msgspec.Raw, tally: Tally, spans: list[Span]) -> None:
    try:
        obj = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        tally.bad_spans += 1
        return
    if isinstance(obj, dict):
        _read_generic_trace(obj, tally, spans)


def _typed_tags(tags: list[_TagJ], tally: Tally) -> dict[str, Any]:
    out: dict[str, Any] = {}
    intern = _intern
    for tag in tags:
        value = tag.value
        kind = type(value)
        if kind is str:
            if len(value) > INTERN_CHARS or (tag.type and tag.type != "string"):
                # Long, or a number or boolean written as a string: the generic rules.
                value = _tag_value({"value": value, "type": tag.type}, tally)
            else:
                value = intern(value)
        elif kind is not int and kind is not float and kind is not bool:
            value = _tag_value({"value": value, "type": tag.type}, tally)
        out[intern(tag.key)] = value
    return out


def _typed_resource(proc: _ProcessJ, tally: Tally) -> tuple[str, dict[str, Any]]:
    service = _intern(proc.serviceName) if proc.serviceName else UNKNOWN_SERVICE
    res = _typed_tags(proc.tags, tally)
    res["service.name"] = service
    if "hostname" in res and "host.name" not in res:
        res["host.name"] = res["hostname"]
    return service, res


def _read_typed_trace(trace: _TraceJ, tally: Tally, spans: list[Span]) -> None:
    processes = {pid: _typed_resource(p, tally) for pid, p in trace.processes.items()}
    norm = norm_id
    raw_tid, known_tid = "", None
    for sp in trace.spans:
        if sp.traceID != raw_tid:
            raw_tid, known_tid = sp.traceID, norm(sp.traceID)
        tid, sid = known_tid, norm(sp.spanID)
        if tid is None or sid is None:
            tally.bad_ids += 1
            continue
        parent: str | None = None
        links: list[SpanLink] = []
        follows: str | None = None
        for ref in sp.references:
            rsid = norm(ref.spanID)
            if rsid is None:
                continue
            rtid = (norm(ref.traceID) or tid) if ref.traceID != sp.traceID else tid
            if rtid != tid:
                links.append(SpanLink(trace_id=rtid, span_id=rsid))
            elif ref.refType.upper() == "FOLLOWS_FROM":
                follows = follows or rsid
            elif parent is None:
                parent = rsid
        parent = parent or follows or (norm(sp.parentSpanID) if sp.parentSpanID else None)
        found = processes.get(sp.processID)
        if found is not None:
            service, res = found
        elif sp.process is not None:
            service, res = _typed_resource(sp.process, tally)
        else:
            service, res = UNKNOWN_SERVICE, {"service.name": UNKNOWN_SERVICE}
        events: list[SpanEvent] = []
        for log in sp.logs:
            fields = _typed_tags(log.fields, tally)
            label = fields.get("event") or fields.get("message") or "log"
            events.append(
                SpanEvent(time_ns=log.timestamp * _US, name=str(label), attributes=fields)
            )
        spans.append(
            _build(
                tid,
                sid,
                parent,
                links,
                service,
                res,
                _intern(sp.operationName),
                _typed_tags(sp.tags, tally) if sp.tags else {},
                sp.startTime,
                sp.duration,
                events,
                tally,
            )
        )
