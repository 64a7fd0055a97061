"""Real exports from public projects are read completely: span, trace and service counts are
derived independently here (json.load) and checked against what `load` returns, for every
container the same bytes can arrive in (file, .gz, stdin, directory, protobuf)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from realfiles import FIXTURES

from incident.analysis.inventory import inventory
from incident.ingest import load
from incident.model import SpanKind, StatusCode

TRACES = Path(__file__).resolve().parent / "fixtures" / "traces"
OTEL_TUI = TRACES / "otel-tui_test_data.json"


# --- independent counting -------------------------------------------------------------------


def _otlp_lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text().splitlines():
        if line.strip():
            yield json.loads(line)


def _otlp_counts(path: Path) -> tuple[int, int, set[str]]:
    spans, traces, services = 0, set(), set()
    for doc in _otlp_lines(path):
        for rs in doc.get("resourceSpans", []):
            attrs = {a["key"]: a["value"] for a in rs.get("resource", {}).get("attributes", [])}
            service = attrs["service.name"]["stringValue"]
            for ss in rs.get("scopeSpans", []):
                for sp in ss["spans"]:
                    spans += 1
                    traces.add(sp["traceId"].lower())
                    services.add(service)
    return spans, len(traces), services


def _zipkin_counts(path: Path) -> tuple[int, int, set[str]]:
    records = json.loads(path.read_text())
    return (
        len(records),
        len({r["traceId"] for r in records}),
        {r["localEndpoint"]["serviceName"] for r in records},
    )


def _jaeger_counts(path: Path) -> tuple[int, int, set[str]]:
    trace = json.loads(path.read_text())
    names = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    return (
        len(trace["spans"]),
        len({s["traceID"] for s in trace["spans"]}),
        {names[s["processID"]] for s in trace["spans"]},
    )


def _counts(path: str | Path) -> tuple[int, int, set[str]]:
    bundle = load([str(path)])
    return (
        len(bundle.spans),
        len({s.trace_id for s in bundle.spans}),
        {s.service for s in bundle.spans},
    )


# --- OTLP JSON Lines (Collector file exporter) ---------------------------------------------


def test_otel_tui_capture_counts_match_an_independent_count() -> None:
    """All 547 spans, 141 traces and 8 services of the capture are read (SOURCES.md numbers)."""
    expected = _otlp_counts(OTEL_TUI)
    assert expected[:2] == (547, 141) and len(expected[2]) == 8
    assert _counts(OTEL_TUI) == expected


def test_otel_tui_capture_keeps_logs_and_ignores_metrics() -> None:
    """The mixed JSON Lines file yields its log records too, and says metric lines were skipped."""
    expected_logs = sum(
        len(sl.get("logRecords", []))
        for doc in _otlp_lines(OTEL_TUI)
        for rl in doc.get("resourceLogs", [])
        for sl in rl.get("scopeLogs", [])
    )
    bundle = load([str(OTEL_TUI)])
    assert len(bundle.logs) == expected_logs > 0
    kinds = {(i.kind, i.format) for i in bundle.inputs}
    assert kinds == {("traces", "otlp-jsonl"), ("logs", "otlp-jsonl")}
    assert any("40 metric lines" in w for w in bundle.quality.warnings)


def test_otel_tui_capture_statuses_events_and_links_survive() -> None:
    """Error statuses, exception events (39) and links (53) from SOURCES.md are all kept.

    SOURCES.md counts 80 bare `{"code": 2}` statuses; 27 more carry a message as well.
    """
    raw = [
        sp
        for doc in _otlp_lines(OTEL_TUI)
        for rs in doc.get("resourceSpans", [])
        for ss in rs["scopeSpans"]
        for sp in ss["spans"]
    ]
    errors = sum(sp.get("status", {}).get("code") == 2 for sp in raw)
    assert errors >= 80
    bundle = load([str(OTEL_TUI)])
    assert sum(s.status == StatusCode.ERROR for s in bundle.spans) == errors
    assert sum(e.name == "exception" for s in bundle.spans for e in s.events) == 39
    assert sum(len(s.links) for s in bundle.spans) == 53


def test_otel_tui_capture_shares_one_resource_dict_per_resource() -> None:
    """Spans of one resource point at the same dict object, not copies."""
    bundle = load([str(OTEL_TUI)])
    distinct = {id(s.resource) for s in bundle.spans}
    resources = sum(len(d.get("resourceSpans", [])) for d in _otlp_lines(OTEL_TUI))
    assert len(distinct) == resources
    assert all(s.resource["service.name"] == s.service for s in bundle.spans)


# --- the same capture in other containers --------------------------------------------------


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP JSON writes ids in hex; protobuf's JSON mapping wants base64 for bytes fields."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                value = base64.b64encode(bytes.fromhex(value)).decode()
            out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def _as_protobuf(path: Path) -> bytes:
    request = ExportTraceServiceRequest()
    for doc in _otlp_lines(path):
        if "resourceSpans" in doc:
            part = ExportTraceServiceRequest()
            json_format.Parse(json.dumps(_hex_ids_to_base64(doc)), part)
            request.MergeFrom(part)
    return request.SerializeToString()


def test_protobuf_version_of_the_capture_gives_the_same_counts(tmp_path: Path) -> None:
    """ExportTraceServiceRequest bytes are detected without a name hint and read in full."""
    target = tmp_path / "capture.bin"
    target.write_bytes(_as_protobuf(OTEL_TUI))
    assert _counts(target) == _otlp_counts(OTEL_TUI)
    assert load([str(target)]).inputs[0].format == "otlp-proto"


def test_protobuf_and_json_readers_agree_span_by_span(tmp_path: Path) -> None:
    """The protobuf reader produces the same ids, parents, kinds, times and statuses as JSON."""
    target = tmp_path / "capture.pb"
    target.write_bytes(_as_protobuf(OTEL_TUI))

    def key(s: Any) -> tuple[Any, ...]:
        return (
            s.trace_id,
            s.span_id,
            s.parent_id,
            s.service,
            s.name,
            s.kind,
            s.start_ns,
            s.end_ns,
            s.status,
        )

    from_json = sorted(key(s) for s in load([str(OTEL_TUI)]).spans)
    from_proto = sorted(key(s) for s in load([str(target)]).spans)
    assert from_json == from_proto


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    """A gzip named like plain JSON is still unpacked and read."""
    target = tmp_path / "not-obviously-compressed.json"
    target.write_bytes(gzip.compress(OTEL_TUI.read_bytes()))
    assert _counts(target) == _otlp_counts(OTEL_TUI)


def test_stdin_is_read_when_the_input_is_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`-` reads the bytes of standard input (here gzip-compressed) like a file."""
    data = gzip.compress(OTEL_TUI.read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    bundle = load(["-"])
    assert (len(bundle.spans), bundle.quality.traces) == _otlp_counts(OTEL_TUI)[:2]
    assert bundle.inputs[0].path == "<stdin>"


def test_directory_reads_every_recognised_file_and_warns_about_others(tmp_path: Path) -> None:
    """A folder of exports is read recursively in name order; a stray file only warns."""
    nested = tmp_path / "b" / "deeper"
    nested.mkdir(parents=True)
    (tmp_path / "a.json").write_bytes((TRACES / "skew.json").read_bytes())
    (nested / "kafka.json").write_bytes((TRACES / "messaging-kafka.json").read_bytes())
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01\x02binary junk")
    bundle = load([str(tmp_path)])
    assert [Path(i.path).name for i in bundle.inputs] == ["a.json", "kafka.json"]
    assert len(bundle.spans) == 4 + 28
    assert any("notes.bin" in w for w in bundle.quality.warnings)


# --- Zipkin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "spans", "services"),
    [
        ("smartthings-mobile-web-install.json", 1041, 16),
        ("smartthings-oauth-authorization.json", 175, 8),
        ("messaging-kafka.json", 28, 2),
        ("skew.json", 4, 2),
    ],
)
def test_zipkin_files_count_every_record(name: str, spans: int, services: int) -> None:
    """Every Zipkin record is a span, shared client/server ids included (SOURCES.md numbers)."""
    expected = _zipkin_counts(TRACES / name)
    assert expected[0] == spans and len(expected[2]) == services
    assert _counts(TRACES / name) == expected


@pytest.mark.parametrize(
    "name", ["smartthings-mobile-web-install.json", "smartthings-oauth-authorization.json"]
)
def test_zipkin_shared_ids_still_form_one_tree(name: str) -> None:
    """After splitting shared ids, ids are unique, every parent exists and there is one root."""
    bundle = load([str(TRACES / name)])
    ids = {(s.trace_id, s.span_id) for s in bundle.spans}
    assert len(ids) == len(bundle.spans)
    assert all((s.trace_id, s.parent_id) in ids for s in bundle.spans if s.parent_id)
    assert sum(s.parent_id is None for s in bundle.spans) == 1


def test_zipkin_server_half_hangs_under_its_client_half() -> None:
    """In skew.json the serviceb SERVER shares servicea's CLIENT id; it becomes its child,
    and serviceb's async local span moves under the server half."""
    spans = load([str(TRACES / "skew.json")]).spans
    by_name = {(s.service, s.kind): s for s in spans}
    client = by_name[("servicea", SpanKind.CLIENT)]
    server = by_name[("serviceb", SpanKind.SERVER)]
    local = by_name[("serviceb", SpanKind.UNSPECIFIED)]
    assert client.span_id == "74280ae0c10d8062"
    assert server.span_id != client.span_id and server.parent_id == client.span_id
    assert local.parent_id == server.span_id


def test_zipkin_smartthings_quirks_are_mapped() -> None:
    """175 records lack a duration (no_duration), 2 carry an error tag (status ERROR), and a
    remote endpoint's name becomes peer.service."""
    path = TRACES / "smartthings-mobile-web-install.json"
    raw = json.loads(path.read_text())
    bundle = load([str(path)])
    assert sum(s.no_duration for s in bundle.spans) == sum("duration" not in r for r in raw) == 175
    assert sum(s.status == StatusCode.ERROR for s in bundle.spans) == 2
    with_remote = sum(bool(r.get("remoteEndpoint", {}).get("serviceName")) for r in raw)
    assert sum("peer.service" in s.attributes for s in bundle.spans) == with_remote


def test_zipkin_microseconds_become_nanoseconds() -> None:
    """Zipkin timestamps and durations are microseconds; the model is nanoseconds."""
    spans = load([str(TRACES / "skew.json")]).spans
    root = next(s for s in spans if s.parent_id is None)
    assert root.start_ns == 1470150004071068 * 1000
    assert root.duration_ns == 99411 * 1000


# --- Jaeger ----------------------------------------------------------------------------------


def test_jaeger_genai_trace_counts() -> None:
    """The jaeger-ui genai trace has 57 spans and 10 services (SOURCES.md)."""
    expected = _jaeger_counts(TRACES / "genaiTestTrace.json")
    assert expected[0] == 57 and len(expected[2]) == 10
    assert _counts(TRACES / "genaiTestTrace.json") == expected


def test_jaeger_tags_set_kind_and_error_status() -> None:
    """`span.kind` tags become kinds and the one `error` span becomes status ERROR."""
    bundle = load([str(TRACES / "genaiTestTrace.json")])
    assert sum(s.status == StatusCode.ERROR for s in bundle.spans) == 1
    root = next(s for s in bundle.spans if s.parent_id is None)
    assert root.kind == SpanKind.SERVER
    assert root.attributes["http.response.status_code"] == 200


def test_jaeger_overlapping_children_keep_their_times() -> None:
    """Children outliving the parent are not clipped by the reader (analysis decides)."""
    spans = load([str(TRACES / "traceWithOverlappingChildrenLongerThanParent.json")]).spans
    assert len(spans) == 4
    parent = next(s for s in spans if s.parent_id is None)
    assert parent.kind == SpanKind.PRODUCER and parent.duration_ns == 40_000
    assert max(s.end_ns for s in spans) == 500 * 1000
    assert {s.service for s in spans} == {"service-one", "service-two"}


# --- OTLP JSON with a repeated span id -------------------------------------------------------


def test_otlp2jaeger_repeated_span_id_is_one_span_and_one_duplicate() -> None:
    """Two records with the same trace and span id: the first is kept, the copy counted."""
    bundle = load([str(TRACES / "otlp2jaeger-in.json")])
    assert bundle.inputs[0].records == 2
    assert len(bundle.spans) == 1 and bundle.quality.duplicates == 1
    span = bundle.spans[0]
    assert span.kind == SpanKind.SERVER and span.parent_id == "909541b92cf05311"
    assert span.attributes["peer.service"] == "telemetrygen-client"


# --- everything at once, through the inventory ------------------------------------------------


def test_inventory_of_all_fixtures_adds_up() -> None:
    """Loading every fixture together gives the sum of the per-file counts."""
    files = sorted(p for p in TRACES.glob("*.json"))
    per_file = [load([str(p)]) for p in files]
    inv = inventory(load([str(p) for p in files]))
    assert inv["spans"] == sum(len(b.spans) for b in per_file)
    assert inv["traces"] == len({s.trace_id for b in per_file for s in b.spans})
    assert inv["services"] == sorted({s.service for b in per_file for s in b.spans})


def test_real_trace_folders_read_as_directories() -> None:
    """The real trace exports load as directories; label files that are not traces are
    skipped with warnings, not errors."""
    bundle = load([str(FIXTURES / "traces"), str(FIXTURES / "nezha")])
    formats = {i.format for i in bundle.inputs}
    assert {"otlp-jsonl", "zipkin", "jaeger", "otlp-json", "span-csv"} <= formats
    assert any("fault_list.json" in w for w in bundle.quality.warnings)
