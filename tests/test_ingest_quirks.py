"""Hand-made inputs for each quirk real exporters have: envelopes, id encodings, enum spellings,
omitted defaults, Jaeger tags and references, Zipkin shared ids, and partly bad data that must
be read around (skipped or repaired, and counted) rather than fail the file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from incident.errors import FormatError
from incident.ingest import load
from incident.ingest.ids import norm_id
from incident.ingest.toolkit import MAX_ATTR_CHARS
from incident.model import Bundle, SpanKind, StatusCode

TID = "5b8efff798038103d269b633813fc60c"
SID = "eee19b7ec3c1b174"
PID = "eee19b7ec3c1b173"


def _load_json(tmp_path: Path, obj: Any, name: str = "input.json") -> Bundle:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return load([str(path)])


def _load_text(tmp_path: Path, text: str, name: str = "input.txt") -> Bundle:
    path = tmp_path / name
    path.write_text(text)
    return load([str(path)])


def _otlp_span(**overrides: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TID,
        "spanId": SID,
        "parentSpanId": PID,
        "name": "GET /cart",
        "kind": 2,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
    }
    span.update(overrides)
    return span


def _otlp(*spans: dict[str, Any], service: str = "cart", legacy: bool = False) -> dict[str, Any]:
    scope_key = "instrumentationLibrarySpans" if legacy else "scopeSpans"
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                scope_key: [{"spans": list(spans)}],
            }
        ]
    }


# --- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EEE19B7EC3C1B174", "eee19b7ec3c1b174"),
        ("7uGbfsPBsXQ=", "eee19b7ec3c1b174"),
        ("W47/95gDgQPSabYzgT/GDA==", TID),
        ("W47_95gDgQPSabYzgT_GDA", TID),
        (0xEEE19B7EC3C1B174, "eee19b7ec3c1b174"),
        (-1, "ffffffffffffffff"),
        ("abc", "0000000000000abc"),
        ("", None),
        ("0000000000000000", None),
        ("00000000000000000000000000000000", None),
        ("not-an-id", None),
        (None, None),
        (True, None),
    ],
)
def test_ids_are_normalised_to_lowercase_hex(raw: object, expected: str | None) -> None:
    """Hex of any case, base64 (standard and URL-safe), integers and zero-padding all map to
    one lowercase hex form; empty, all-zero and garbage ids are None."""
    assert norm_id(raw) == expected


def test_base64_and_hex_ids_mixed_in_one_file_link_up(tmp_path: Path) -> None:
    """A child written with base64 ids still finds its hex-written parent."""
    parent = _otlp_span(spanId=PID, parentSpanId="")
    child = _otlp_span(
        traceId=base64.b64encode(bytes.fromhex(TID)).decode(),
        spanId=base64.b64encode(bytes.fromhex(SID)).decode(),
        parentSpanId=base64.b64encode(bytes.fromhex(PID)).decode(),
    )
    spans = _load_json(tmp_path, _otlp(parent, child)).spans
    assert {s.trace_id for s in spans} == {TID}
    by_id = {s.span_id: s for s in spans}
    assert by_id[SID].parent_id == PID and by_id[PID].parent_id is None


@pytest.mark.parametrize("parent", ["", "0000000000000000", None, "AAAAAAAAAAA="])
def test_missing_empty_or_zero_parent_means_root(tmp_path: Path, parent: str | None) -> None:
    """Every spelling of "no parent" gives parent_id None."""
    span = _otlp_span(parentSpanId=parent) if parent is not None else _otlp_span()
    if parent is None:
        del span["parentSpanId"]
    assert _load_json(tmp_path, _otlp(span)).spans[0].parent_id is None


# --- OTLP envelopes and encodings ---------------------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [
        lambda doc: doc,
        lambda doc: {"batches": doc["resourceSpans"]},
        lambda doc: {"trace": doc},
        lambda doc: {"trace": {"batches": doc["resourceSpans"]}},
        lambda doc: {"result": doc},
    ],
    ids=["plain", "tempo-batches", "tempo-v2-trace", "trace-batches", "jaeger-api-v3"],
)
def test_every_otlp_envelope_is_unwrapped(tmp_path: Path, wrap: Any) -> None:
    """resourceSpans plain, Tempo `batches`, `{"trace": ...}` and Jaeger api_v3 `result`."""
    bundle = _load_json(tmp_path, wrap(_otlp(_otlp_span())))
    assert [(s.service, s.span_id) for s in bundle.spans] == [("cart", SID)]


def test_legacy_instrumentation_library_spans_are_read(tmp_path: Path) -> None:
    """Pre-1.0 exporters wrote instrumentationLibrarySpans instead of scopeSpans."""
    bundle = _load_json(tmp_path, {"batches": _otlp(_otlp_span(), legacy=True)["resourceSpans"]})
    assert len(bundle.spans) == 1


@pytest.mark.parametrize(
    ("kind", "status", "expected_kind", "expected_status"),
    [
        (2, {"code": 2}, SpanKind.SERVER, StatusCode.ERROR),
        ("SPAN_KIND_CLIENT", {"code": "STATUS_CODE_ERROR"}, SpanKind.CLIENT, StatusCode.ERROR),
        ("SPAN_KIND_PRODUCER", {"code": "STATUS_CODE_OK"}, SpanKind.PRODUCER, StatusCode.OK),
        (None, None, SpanKind.UNSPECIFIED, StatusCode.UNSET),
        (99, {"code": 7}, SpanKind.UNSPECIFIED, StatusCode.UNSET),
    ],
)
def test_kind_and_status_as_integers_enum_names_or_omitted(
    tmp_path: Path, kind: Any, status: Any, expected_kind: int, expected_status: int
) -> None:
    """OTLP enums arrive as numbers or names, or are left out as proto3 defaults."""
    span = _otlp_span(kind=kind, status=status)
    for key in ("kind", "status"):
        if span[key] is None:
            del span[key]
    got = _load_json(tmp_path, _otlp(span)).spans[0]
    assert (got.kind, got.status) == (expected_kind, expected_status)


def test_timestamps_as_strings_or_numbers(tmp_path: Path) -> None:
    """64-bit nanosecond times come as JSON strings or numbers."""
    span = _otlp_span(startTimeUnixNano=1700000000000000000, endTimeUnixNano="1700000000000000500")
    got = _load_json(tmp_path, _otlp(span)).spans[0]
    assert (got.start_ns, got.duration_ns) == (1700000000000000000, 500)


def test_any_value_attributes_become_plain_python(tmp_path: Path) -> None:
    """Every AnyValue variant maps to a plain value; intValue strings become ints."""
    attrs = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "i_str", "value": {"intValue": "42"}},
        {"key": "i_num", "value": {"intValue": 7}},
        {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "bytes", "value": {"bytesValue": "AQI="}},
        {
            "key": "arr",
            "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}},
        },
        {
            "key": "kv",
            "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}},
        },
        {"key": "empty", "value": {}},
    ]
    got = _load_json(tmp_path, _otlp(_otlp_span(attributes=attrs))).spans[0].attributes
    assert got == {
        "s": "x",
        "i_str": 42,
        "i_num": 7,
        "d": 1.5,
        "b": False,
        "bytes": "AQI=",
        "arr": [1, "a"],
        "kv": {"k": True},
        "empty": None,
    }


def test_spans_of_one_resource_share_one_resource_dict(tmp_path: Path) -> None:
    """The resource attributes are built once and shared, not copied per span."""
    spans = _load_json(tmp_path, _otlp(_otlp_span(), _otlp_span(spanId=PID, parentSpanId=""))).spans
    assert spans[0].resource is spans[1].resource
    assert spans[0].resource == {"service.name": "cart"}


def test_events_and_links_are_kept(tmp_path: Path) -> None:
    """Span events (with attributes) and links (with normalised ids) survive."""
    span = _otlp_span(
        events=[
            {
                "timeUnixNano": "1700000000100000000",
                "name": "exception",
                "attributes": [{"key": "exception.type", "value": {"stringValue": "Boom"}}],
            }
        ],
        links=[{"traceId": TID.upper(), "spanId": PID.upper()}],
    )
    got = _load_json(tmp_path, _otlp(span)).spans[0]
    assert got.events[0].name == "exception"
    assert got.events[0].attributes == {"exception.type": "Boom"}
    assert (got.links[0].trace_id, got.links[0].span_id) == (TID, PID)


def test_missing_service_name_is_unknown_service(tmp_path: Path) -> None:
    """A resource without service.name gets OpenTelemetry's default name."""
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [_otlp_span()]}]}]}
    assert _load_json(tmp_path, doc).spans[0].service == "unknown_service"


# --- partly bad data: read around, count -------------------------------------------------------


def test_one_span_of_the_wrong_type_does_not_lose_the_file(tmp_path: Path) -> None:
    """A span whose fields have foreign types is skipped; its neighbours are read."""
    bad = _otlp_span(spanId=PID, name={"not": "a string"})
    bundle = _load_json(tmp_path, _otlp(_otlp_span(), bad))
    assert [s.span_id for s in bundle.spans] == [SID]
    assert bundle.quality.skipped == 1
    assert any("wrong type" in w for w in bundle.quality.warnings)


def test_spans_with_bad_ids_are_skipped_and_counted(tmp_path: Path) -> None:
    """A span without a usable trace or span id cannot be placed: skipped, counted."""
    bundle = _load_json(
        tmp_path,
        _otlp(_otlp_span(), _otlp_span(spanId="zz"), _otlp_span(traceId="", spanId=PID)),
    )
    assert len(bundle.spans) == 1 and bundle.quality.skipped == 2


def test_span_that_is_its_own_parent_becomes_a_root(tmp_path: Path) -> None:
    """A self-parent link would make a cycle of one: it is cut and counted as repaired."""
    bundle = _load_json(tmp_path, _otlp(_otlp_span(parentSpanId=SID)))
    assert bundle.spans[0].parent_id is None and bundle.quality.repaired == 1


def test_end_before_start_is_clamped_and_counted(tmp_path: Path) -> None:
    """A negative duration becomes zero; a missing end is marked no_duration."""
    backwards = _otlp_span(endTimeUnixNano="1699999999000000000")
    no_end = _otlp_span(spanId=PID, parentSpanId="", endTimeUnixNano="0")
    bundle = _load_json(tmp_path, _otlp(backwards, no_end))
    by_id = {s.span_id: s for s in bundle.spans}
    assert by_id[SID].duration_ns == 0 and not by_id[SID].no_duration
    assert by_id[PID].duration_ns == 0 and by_id[PID].no_duration
    assert bundle.quality.repaired == 2


def test_duplicate_span_ids_keep_the_first_and_count(tmp_path: Path) -> None:
    """A repeated (trace, span) id keeps the first record, across files too."""
    first = _otlp_span(name="first")
    doc = _otlp(first, _otlp_span(name="second"))
    (tmp_path / "again.json").write_text(json.dumps(_otlp(_otlp_span(name="third"))))
    path = tmp_path / "one.json"
    path.write_text(json.dumps(doc))
    bundle = load([str(path), str(tmp_path / "again.json")])
    assert [s.name for s in bundle.spans] == ["first"]
    assert bundle.quality.duplicates == 2 and bundle.quality.spans == 1


def test_same_span_id_in_another_trace_is_not_a_duplicate(tmp_path: Path) -> None:
    """Span ids are unique per trace only."""
    other = _otlp_span(traceId="1" * 32)
    bundle = _load_json(tmp_path, _otlp(_otlp_span(), other))
    assert len(bundle.spans) == 2 and bundle.quality.traces == 2


def test_huge_attribute_values_are_truncated_and_counted(tmp_path: Path) -> None:
    """A 5 MB attribute is cut to the limit so it cannot dominate memory or the digest."""
    attrs = [
        {"key": "blob", "value": {"stringValue": "x" * 5_000_000}},
        {"key": "small", "value": {"stringValue": "ok"}},
    ]
    bundle = _load_json(tmp_path, _otlp(_otlp_span(attributes=attrs)))
    value = bundle.spans[0].attributes["blob"]
    assert len(value) <= MAX_ATTR_CHARS + 1 and value.startswith("xxx")
    assert bundle.spans[0].attributes["small"] == "ok"
    assert bundle.quality.repaired == 1
    assert any("cut to" in w for w in bundle.quality.warnings)


def test_deeply_nested_attribute_values_are_flattened(tmp_path: Path) -> None:
    """An arrayValue nested hundreds deep is cut off rather than recursed into."""
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    bundle = _load_json(tmp_path, _otlp(_otlp_span(attributes=[{"key": "deep", "value": value}])))
    assert len(bundle.spans) == 1
    assert "nested too deeply" in json.dumps(bundle.spans[0].attributes["deep"])


def test_parent_cycles_do_not_crash_reading(tmp_path: Path) -> None:
    """Two spans naming each other as parent are read as is; analysis deals with cycles."""
    a = _otlp_span(spanId=SID, parentSpanId=PID)
    b = _otlp_span(spanId=PID, parentSpanId=SID)
    bundle = _load_json(tmp_path, _otlp(a, b))
    assert {(s.span_id, s.parent_id) for s in bundle.spans} == {(SID, PID), (PID, SID)}


# --- JSON Lines ----------------------------------------------------------------------------------


def test_jsonl_with_garbage_lines_reads_the_rest(tmp_path: Path) -> None:
    """Broken or foreign lines in an OTLP JSON Lines file are skipped and counted."""
    lines = [
        "this is not json",
        json.dumps(_otlp(_otlp_span())),
        '{"resourceSpans": [ truncated',
        "",
        json.dumps({"unrelated": 1}),
        json.dumps(_otlp(_otlp_span(spanId=PID, parentSpanId=""), service="db")),
    ]
    bundle = _load_text(tmp_path, "\n".join(lines) + "\n", name="export.json")
    assert {s.service for s in bundle.spans} == {"cart", "db"}
    assert bundle.inputs[0].format == "otlp-jsonl"
    assert bundle.quality.skipped == 3


def test_jsonl_log_lines_become_log_records(tmp_path: Path) -> None:
    """resourceLogs lines in a Collector export become LogRecords with service and ids."""
    log_line = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000100000000",
                                "severityNumber": 17,
                                "body": {"stringValue": "payment failed"},
                                "traceId": TID,
                                "spanId": SID,
                                "attributes": [{"key": "order", "value": {"intValue": "12"}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    text = json.dumps(_otlp(_otlp_span())) + "\n" + json.dumps(log_line) + "\n"
    bundle = _load_text(tmp_path, text, name="mixed.json")
    (record,) = bundle.logs
    assert (record.level, record.message, record.service) == ("ERROR", "payment failed", "cart")
    assert (record.trace_id, record.span_id, record.time_ns) == (TID, SID, 1700000000100000000)
    assert record.fields == {"order": 12}
    assert len(bundle.spans) == 1


# --- Jaeger ---------------------------------------------------------------------------------------


def _jaeger(spans: list[dict[str, Any]], wrap: bool = True) -> dict[str, Any]:
    trace = {
        "traceID": "00000000000000000000abcdef012345",
        "spans": spans,
        "processes": {
            "p1": {
                "serviceName": "api",
                "tags": [{"key": "hostname", "type": "string", "value": "api-7f9c"}],
            },
            "p2": {"serviceName": "db", "tags": []},
        },
    }
    return {"data": [trace]} if wrap else trace


def _jspan(
    span_id: str, refs: list[dict[str, str]], tags: list[dict[str, Any]], process: str = "p1"
) -> dict[str, Any]:
    return {
        "traceID": "abcdef012345",
        "spanID": span_id,
        "operationName": f"op-{span_id}",
        "references": refs,
        "startTime": 1700000000000000,
        "duration": 1500,
        "tags": tags,
        "logs": [],
        "processID": process,
    }


def test_jaeger_references_tags_and_units(tmp_path: Path) -> None:
    """CHILD_OF and FOLLOWS_FROM both give the parent; span.kind, error and otel.status_code
    tags give kind and status; microseconds become nanoseconds; ids are zero-padded."""
    root = _jspan("1", [], [{"key": "span.kind", "type": "string", "value": "server"}])
    child = _jspan(
        "2",
        [{"refType": "CHILD_OF", "traceID": "abcdef012345", "spanID": "1"}],
        [
            {"key": "span.kind", "type": "string", "value": "client"},
            {"key": "error", "type": "bool", "value": True},
        ],
    )
    follower = _jspan(
        "3",
        [{"refType": "FOLLOWS_FROM", "traceID": "abcdef012345", "spanID": "2"}],
        [
            {"key": "otel.status_code", "type": "string", "value": "ERROR"},
            {"key": "otel.status_description", "type": "string", "value": "boom"},
        ],
        process="p2",
    )
    bundle = _load_json(tmp_path, _jaeger([root, child, follower]))
    by_name = {s.name: s for s in bundle.spans}
    assert by_name["op-1"].trace_id == "0000abcdef012345"
    assert by_name["op-1"].kind == SpanKind.SERVER and by_name["op-1"].parent_id is None
    assert by_name["op-2"].parent_id == "0000000000000001"
    assert by_name["op-2"].kind == SpanKind.CLIENT
    assert by_name["op-2"].status == StatusCode.ERROR
    assert by_name["op-3"].parent_id == by_name["op-2"].span_id
    assert (by_name["op-3"].status, by_name["op-3"].status_message) == (StatusCode.ERROR, "boom")
    assert by_name["op-3"].service == "db"
    assert by_name["op-1"].duration_ns == 1_500_000
    assert by_name["op-1"].instance == "api-7f9c"
    assert bundle.inputs[0].format == "jaeger"


def test_jaeger_single_trace_object_without_data_wrapper(tmp_path: Path) -> None:
    """The UI's single trace object (with `processes`) is read like the API's `data` list."""
    bundle = _load_json(tmp_path, _jaeger([_jspan("1", [], [])], wrap=False))
    assert len(bundle.spans) == 1 and bundle.spans[0].service == "api"


# --- Zipkin --------------------------------------------------------------------------------------


def _zspan(**fields: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": "a" * 16,
        "id": "b" * 16,
        "name": "get",
        "timestamp": 1700000000000000,
        "duration": 2000,
        "localEndpoint": {"serviceName": "web", "ipv4": "10.0.0.1"},
    }
    span.update(fields)
    return span


def test_zipkin_list_of_lists_error_tag_and_remote_endpoint(tmp_path: Path) -> None:
    """A list of traces is flattened; `error` tags mean ERROR; the remote service name is
    kept as peer.service; a span without duration is marked."""
    traces = [
        [
            _zspan(
                kind="CLIENT", tags={"error": "timeout"}, remoteEndpoint={"serviceName": "payments"}
            )
        ],
        [_zspan(traceId="c" * 16, duration=None)],
    ]
    traces[1][0].pop("duration")
    bundle = _load_json(tmp_path, traces)
    first, second = bundle.spans
    assert (first.status, first.status_message) == (StatusCode.ERROR, "timeout")
    assert first.attributes["peer.service"] == "payments" and first.kind == SpanKind.CLIENT
    assert second.no_duration and second.duration_ns == 0
    assert bundle.inputs[0].format == "zipkin"


def test_zipkin_exact_repeat_is_a_duplicate_not_a_second_half(tmp_path: Path) -> None:
    """The same record twice is dropped as a duplicate; client + server halves are both kept."""
    client = _zspan(kind="CLIENT")
    server = _zspan(kind="SERVER", shared=True, localEndpoint={"serviceName": "api"})
    bundle = _load_json(tmp_path, [client, client, server])
    assert len(bundle.spans) == 2 and bundle.quality.duplicates == 1
    server_span = next(s for s in bundle.spans if s.kind == SpanKind.SERVER)
    assert server_span.parent_id == "b" * 16


# --- detection details ----------------------------------------------------------------------------


def test_text_log_with_some_json_lines_goes_to_the_log_reader(tmp_path: Path) -> None:
    """A plain-text log that happens to contain JSON lines is still a log, not bad JSONL."""
    text = (
        "2024-05-01T10:00:00Z INFO starting\n"
        '{"level": "error", "msg": "payment failed"}\n'
        '{"level": "info", "msg": "retrying"}\n'
        "2024-05-01T10:00:02Z WARN slow response\n"
        "2024-05-01T10:00:03Z INFO recovered\n"
    )
    bundle = _load_text(tmp_path, text, name="app.log")
    assert len(bundle.logs) >= 3 and not bundle.spans
    assert bundle.inputs[0].kind == "logs"


def test_utf8_bom_and_utf16_files_are_read(tmp_path: Path) -> None:
    """Windows tools prepend a BOM or write UTF-16; both still parse."""
    doc = json.dumps(_otlp(_otlp_span()))
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + doc.encode())
    (tmp_path / "u16.json").write_bytes(doc.encode("utf-16"))
    for name in ("bom.json", "u16.json"):
        assert len(load([str(tmp_path / name)]).spans) == 1


def test_progress_is_reported_per_file_and_gc_is_left_enabled(tmp_path: Path) -> None:
    """The progress callback sees each file with a running count, and loading leaves the
    garbage collector as it found it, even after an error."""
    import gc

    for n in range(3):
        (tmp_path / f"{n}.json").write_text(json.dumps(_otlp(_otlp_span(spanId=f"{n + 1:016x}"))))
    seen: list[tuple[str, int, int]] = []
    load([str(tmp_path)], progress=lambda path, done, total: seen.append((path, done, total)))
    assert [(Path(p).name, d, t) for p, d, t in seen] == [
        ("0.json", 1, 3),
        ("1.json", 2, 3),
        ("2.json", 3, 3),
    ]
    assert gc.isenabled()
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FormatError):  # the error itself is tested elsewhere; here the GC state
        load([str(tmp_path / "bad.json")])
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("-5", -5),
        ("007", 7),
        ("1.5e3", 1500),
        ("abc", None),
        ("9" * 30, int("9" * 30)),
        ("\u0661\u0662", 12),  # Arabic-Indic digits: int() reads them
        ("\u00b2", None),  # a superscript passes str.isdigit() but not int(): once a crash
    ],
)
def test_odd_int_value_strings_read_as_before(tmp_path: Path, raw: str, expected: object) -> None:
    """intValue strings outside the plain decimal fast path are still read, value by value,
    and the span's other attributes and its batch neighbours are unharmed."""
    text = {"key": "s", "value": {"stringValue": "x"}}
    odd = _otlp_span(attributes=[{"key": "n", "value": {"intValue": raw}}, text])
    plain = _otlp_span(attributes=[{"key": "n", "value": {"intValue": "200"}}, text])
    plain["spanId"] = "b" * 16
    doc = _otlp(odd)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"].append(plain)
    spans = _load_json(tmp_path, doc).spans
    assert [s.attributes for s in spans] == [
        {"n": expected, "s": "x"},
        {"n": 200, "s": "x"},
    ]
