"""The reading floor: decode an OTLP JSON export into typed msgspec records and nothing else.

This is as fast as Python reads such a file; `bench/run.py` measures `incident diagnose`
against it in the same run. The structs mirror the OTLP JSON mapping independently of the
project's own reader, so the floor does not move when the reader changes.
"""

from __future__ import annotations

import gc
import sys
import time

import msgspec


class AnyValue(msgspec.Struct, rename="camel"):
    string_value: str | None = None
    int_value: str | int | None = None
    double_value: float | None = None
    bool_value: bool | None = None


class KeyValue(msgspec.Struct):
    key: str
    value: AnyValue | None = None


class Status(msgspec.Struct):
    code: int | str = 0
    message: str = ""


class Event(msgspec.Struct, rename="camel"):
    time_unix_nano: str | int = 0
    name: str = ""
    attributes: list[KeyValue] = []


class Span(msgspec.Struct, rename="camel"):
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    name: str = ""
    kind: int | str = 0
    start_time_unix_nano: str | int = 0
    end_time_unix_nano: str | int = 0
    attributes: list[KeyValue] = []
    events: list[Event] = []
    status: Status | None = None


class Scope(msgspec.Struct):
    name: str = ""


class ScopeSpans(msgspec.Struct):
    scope: Scope | None = None
    spans: list[Span] = []


class Resource(msgspec.Struct):
    attributes: list[KeyValue] = []


class ResourceSpans(msgspec.Struct, rename="camel"):
    resource: Resource | None = None
    scope_spans: list[ScopeSpans] = []


class TracesData(msgspec.Struct, rename="camel"):
    resource_spans: list[ResourceSpans] = []


def decode(path: str) -> int:
    with open(path, "rb") as fh:
        data = fh.read()
    gc.disable()
    try:
        doc = msgspec.json.decode(data, type=TracesData)
    finally:
        gc.enable()
    return sum(len(ss.spans) for rs in doc.resource_spans for ss in rs.scope_spans)


if __name__ == "__main__":
    started = time.perf_counter()
    count = decode(sys.argv[1])
    print(f"{count} spans in {time.perf_counter() - started:.2f}s", file=sys.stderr)
