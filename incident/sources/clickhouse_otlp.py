"""Spans read from a ClickHouse store, handed to the ingest readers as OTLP/JSON (a Blob), so
a store is read by exactly the code that reads an exported file. Written to the OTLP/JSON
encoding of the OpenTelemetry protocol specification (hex ids, nanosecond times as strings,
64-bit integers as strings)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from incident.model import Span

_encode = msgspec.json.Encoder().encode


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v if isinstance(v, str) else str(v)}


def _attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in attrs.items()]


def _span(s: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "name": s.name,
        "kind": int(s.kind),
        "startTimeUnixNano": str(s.start_ns),
        "endTimeUnixNano": str(s.end_ns),
        "status": {"code": int(s.status), "message": s.status_message},
    }
    if s.parent_id:
        out["parentSpanId"] = s.parent_id
    if s.attributes:
        out["attributes"] = _attributes(s.attributes)
    if s.events:
        out["events"] = [
            {
                "timeUnixNano": str(e.time_ns),
                "name": e.name,
                "attributes": _attributes(e.attributes),
            }
            for e in s.events
        ]
    if s.links:
        out["links"] = [{"traceId": k.trace_id, "spanId": k.span_id} for k in s.links]
    return out


def otlp_json(spans: Iterable[Span]) -> bytes:
    """One ExportTraceServiceRequest: spans grouped by their (shared) resource, in order."""
    groups: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for s in spans:
        g = groups.get(id(s.resource))
        if g is None:
            g = groups[id(s.resource)] = (s.resource or {"service.name": s.service}, [])
        g[1].append(_span(s))
    body = {
        "resourceSpans": [
            {"resource": {"attributes": _attributes(res)}, "scopeSpans": [{"spans": out}]}
            for res, out in groups.values()
        ]
    }
    return _encode(body)
