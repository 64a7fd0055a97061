"""OTLP protobuf (`ExportTraceServiceRequest` / `TracesData`, the same bytes on the wire) into
model spans. The only module that imports protobuf or opentelemetry-proto types.
"""

from __future__ import annotations

import sys
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, TracesData

from incident.errors import FormatError
from incident.ingest.bounds import TOO_DEEP
from incident.ingest.toolkit import (
    INTERN_CHARS,
    MAX_ATTR_CHARS,
    MAX_VALUE_DEPTH,
    UNKNOWN_SERVICE,
    Tally,
)
from incident.model import Bundle, InputInfo, Span, SpanEvent, SpanLink

_ZERO8 = bytes(8)
_intern = sys.intern


def parse(data: bytes, name: str) -> TracesData:
    """Decode the bytes or raise FormatError: protobuf has no magic, so failing is common."""
    message = TracesData()
    try:
        message.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise FormatError(name, f"not OTLP protobuf ({exc})", "ExportTraceServiceRequest") from exc
    return message


def _value(v: AnyValue, tally: Tally, depth: int = 0) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        s = v.string_value
        return tally.cut(s) if len(s) > MAX_ATTR_CHARS else s
    if which == "int_value":
        return v.int_value
    if which == "bool_value":
        return v.bool_value
    if which == "double_value":
        return v.double_value
    if which == "bytes_value":
        return v.bytes_value.hex()
    if depth >= MAX_VALUE_DEPTH and which in ("array_value", "kvlist_value"):
        tally.truncated += 1
        return TOO_DEEP
    if which == "array_value":
        return [_value(x, tally, depth + 1) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value, tally, depth + 1) for kv in v.kvlist_value.values}
    return None


def _attrs(kvs: Any, tally: Tally) -> dict[str, Any]:
    out: dict[str, Any] = {}
    intern = _intern
    kv: KeyValue
    for kv in kvs:
        v = kv.value
        # Most values are short non-empty strings: one field read settles them; the rest
        # (empty strings too, which may be unset) go through WhichOneof in _value.
        s = v.string_value
        if s and len(s) <= INTERN_CHARS:
            out[intern(kv.key)] = intern(s)
        else:
            out[intern(kv.key)] = _value(v, tally)
    return out


def _hex_id(raw: bytes) -> str | None:
    """Protobuf ids are raw bytes: 8 or 16 of them, not all zero."""
    if len(raw) in (8, 16) and raw.strip(b"\0"):
        return raw.hex()
    return None


def _resource(rs: ResourceSpans, tally: Tally, out: list[Span]) -> None:
    """The hot loop: each upb field read costs a call, so every field is read once."""
    res = _attrs(rs.resource.attributes, tally)
    service = res.get("service.name")
    service = _intern(str(service)) if service not in (None, "") else UNKNOWN_SERVICE
    append = out.append
    intern = _intern
    attrs = _attrs
    last_raw_tid, last_tid = b"", None
    for ss in rs.scope_spans:
        for sp in ss.spans:
            raw_tid = sp.trace_id
            if raw_tid != last_raw_tid:
                last_raw_tid, last_tid = raw_tid, _hex_id(raw_tid)
            tid = last_tid
            raw_sid = sp.span_id
            sid = raw_sid.hex() if len(raw_sid) == 8 and raw_sid != _ZERO8 else _hex_id(raw_sid)
            if tid is None or sid is None:
                tally.bad_ids += 1
                continue
            raw_pid = sp.parent_span_id
            pid = _hex_id(raw_pid) if raw_pid else None
            if pid == sid:
                pid = None
                tally.self_parent += 1
            start, end = sp.start_time_unix_nano, sp.end_time_unix_nano
            no_duration = False
            if end < start:
                tally.repaired += 1
                no_duration = end == 0
                end = start
            kind = sp.kind
            status = sp.status
            code = status.code
            append(
                Span(
                    tid,
                    sid,
                    pid,
                    service,
                    intern(sp.name),
                    kind if 0 <= kind <= 5 else 0,
                    start,
                    end,
                    code if 0 <= code <= 2 else 0,
                    status.message,
                    attrs(sp.attributes, tally),
                    _events(sp.events, tally) if sp.events else (),
                    _links(sp.links) if sp.links else (),
                    res,
                    no_duration,
                )
            )


def _events(events: Any, tally: Tally) -> tuple[SpanEvent, ...]:
    return tuple(
        SpanEvent(time_ns=e.time_unix_nano, name=e.name, attributes=_attrs(e.attributes, tally))
        for e in events
    )


def _links(links: Any) -> tuple[SpanLink, ...]:
    found = []
    for link in links:
        ltid, lsid = _hex_id(link.trace_id), _hex_id(link.span_id)
        if ltid and lsid:
            found.append(SpanLink(trace_id=ltid, span_id=lsid))
    return tuple(found)


def read(data: bytes, name: str) -> Bundle:
    """Spans from OTLP protobuf bytes; FormatError if they do not decode to any span."""
    message = parse(data, name)
    tally = Tally(name)
    spans: list[Span] = []
    for rs in message.resource_spans:
        _resource(rs, tally, spans)
    if not spans:
        raise FormatError(name, "no spans in OTLP protobuf", "ExportTraceServiceRequest bytes")
    bundle = Bundle(spans=spans)
    bundle.inputs.append(
        InputInfo(path=name, kind="traces", format="otlp-proto", records=len(spans))
    )
    tally.apply(bundle)
    return bundle
