"""Spans to and from rows of the OpenTelemetry Collector ClickHouse exporter's `otel_traces`
table: the data contract (DDL) and the two pure conversions. No database library here.

The exporter stores every attribute value as a string (maps of String to String), the span
kind and status as their protobuf enum names (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`; some
versions wrote `Server`, `Error`: both are read), times as DateTime64(9) and the duration in
nanoseconds. Reading back, integers are restored for the attribute keys that hold numbers by
the semantic conventions (status codes, ports), since the analysis compares them as numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from incident.model import Span, SpanEvent, SpanKind, SpanLink, StatusCode

# Our own copy of the exporter's schema (a data contract), written after the templates in
# open-telemetry/opentelemetry-collector-contrib, exporter/clickhouseexporter/internal/
# sqltemplates/traces_table.sql, traces_id_ts_lookup_table.sql and traces_id_ts_lookup_mv.sql
# (Apache-2.0). `{db}` and `{table}` are filled in; the engines are the exporter's defaults.
TRACES_DDL = """
CREATE TABLE IF NOT EXISTS {db}.{table} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

TRACE_ID_TS_DDL = """
CREATE TABLE IF NOT EXISTS {db}.{table}_trace_id_ts (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

TRACE_ID_TS_MV_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table}_trace_id_ts_mv
TO {db}.{table}_trace_id_ts
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {db}.{table}
WHERE TraceId != ''
GROUP BY TraceId
"""

DDL = (TRACES_DDL, TRACE_ID_TS_DDL, TRACE_ID_TS_MV_DDL)

_KIND_NAMES: dict[int, str] = {
    SpanKind.UNSPECIFIED: "SPAN_KIND_UNSPECIFIED",
    SpanKind.INTERNAL: "SPAN_KIND_INTERNAL",
    SpanKind.SERVER: "SPAN_KIND_SERVER",
    SpanKind.CLIENT: "SPAN_KIND_CLIENT",
    SpanKind.PRODUCER: "SPAN_KIND_PRODUCER",
    SpanKind.CONSUMER: "SPAN_KIND_CONSUMER",
}
_STATUS_NAMES: dict[int, str] = {
    StatusCode.UNSET: "STATUS_CODE_UNSET",
    StatusCode.OK: "STATUS_CODE_OK",
    StatusCode.ERROR: "STATUS_CODE_ERROR",
}
# Both spellings, upper-cased: `SPAN_KIND_SERVER` and `Server`.
_KIND_OF = {k: int(v) for v, name in _KIND_NAMES.items() for k in (name, name[10:])}
_STATUS_OF = {k: int(v) for v, name in _STATUS_NAMES.items() for k in (name, name[12:])}

# The SQL expression list `row_to_span` reads, in this order.
SELECT_COLUMNS = (
    "toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, ParentSpanId, ServiceName, SpanName, "
    "SpanKind, Duration, StatusCode, StatusMessage, SpanAttributes, ResourceAttributes, "
    "arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`), `Events.Name`, "
    "`Events.Attributes`, `Links.TraceId`, `Links.SpanId`"
)

_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
# Attribute keys whose values are numbers by the semantic conventions.
_NUMERIC_SUFFIXES = ("status_code", ".port", "grpc.status_code", ".resend_count")

_json = msgspec.json.Encoder()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _json.encode(value).decode()


def _map(attrs: dict[str, Any]) -> dict[str, str]:
    return {str(k): _text(v) for k, v in attrs.items() if v is not None}


def _ts(ns: int) -> str:
    """DateTime64(9) text: seconds, a dot and nine digits (never an ambiguous integer)."""
    sec, frac = divmod(ns, 1_000_000_000)
    return f"{sec}.{frac:09d}"


def span_row(span: Span, resources: dict[int, dict[str, str]]) -> dict[str, Any]:
    """One `otel_traces` row as a JSONEachRow object. `resources` caches the converted
    resource map per resource object (spans of one resource share it)."""
    res = resources.get(id(span.resource))
    if res is None:
        res = resources[id(span.resource)] = _map(span.resource)
        res.setdefault("service.name", span.service)
    return {
        "Timestamp": _ts(span.start_ns),
        "TraceId": span.trace_id,
        "SpanId": span.span_id,
        "ParentSpanId": span.parent_id or "",
        "SpanName": span.name,
        "SpanKind": _KIND_NAMES.get(span.kind, "SPAN_KIND_UNSPECIFIED"),
        "ServiceName": span.service,
        "ResourceAttributes": res,
        "SpanAttributes": _map(span.attributes),
        "Duration": max(0, span.end_ns - span.start_ns),
        "StatusCode": _STATUS_NAMES.get(span.status, "STATUS_CODE_UNSET"),
        "StatusMessage": span.status_message,
        "Events.Timestamp": [_ts(e.time_ns) for e in span.events],
        "Events.Name": [e.name for e in span.events],
        "Events.Attributes": [_map(e.attributes) for e in span.events],
        "Links.TraceId": [link.trace_id for link in span.links],
        "Links.SpanId": [link.span_id for link in span.links],
        "Links.TraceState": ["" for _ in span.links],
        "Links.Attributes": [{} for _ in span.links],
    }


def jsonl(spans: Iterable[Span], resources: dict[int, dict[str, str]]) -> bytes:
    """Rows for one batch insert, in the JSONEachRow format."""
    return b"\n".join(_json.encode(span_row(s, resources)) for s in spans) + b"\n"


def _typed(attrs: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(attrs)
    for key, value in attrs.items():
        if key.endswith(_NUMERIC_SUFFIXES) and _INT.fullmatch(value):
            out[key] = int(value)
    return out


class SpanReader:
    """Rows (in `SELECT_COLUMNS` order) back to Spans, sharing one dict per resource."""

    def __init__(self) -> None:
        self._resources: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def _resource(self, attrs: dict[str, str]) -> dict[str, Any]:
        key = tuple(sorted(attrs.items()))
        found = self._resources.get(key)
        if found is None:
            found = self._resources[key] = _typed(attrs)
        return found

    def spans(self, rows: Iterable[list[Any]]) -> Iterator[Span]:
        for row in rows:
            (ts, tid, sid, pid, svc, name, kind, dur, status, msg, attrs, res) = row[:12]
            ev_ts, ev_name, ev_attrs, link_tid, link_sid = row[12:17]
            start = int(ts)
            yield Span(
                trace_id=tid,
                span_id=sid,
                parent_id=pid or None,
                service=svc,
                name=name,
                kind=_KIND_OF.get(str(kind).upper(), 0),
                start_ns=start,
                end_ns=start + int(dur),
                status=_STATUS_OF.get(str(status).upper(), 0),
                status_message=msg,
                attributes=_typed(attrs),
                events=tuple(
                    SpanEvent(int(t), n, _typed(a))
                    for t, n, a in zip(ev_ts, ev_name, ev_attrs, strict=False)
                ),
                links=tuple(SpanLink(t, s) for t, s in zip(link_tid, link_sid, strict=False)),
                resource=self._resource(res),
            )
