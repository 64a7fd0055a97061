"""The fast paths of the trace readers: batched and typed decoding must read exactly what the
generic readers read, keep reading around a bad span inside a batch, and share repeated
strings between spans rather than hold one copy per span."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from incident.ingest import jaeger, load, zipkin
from incident.model import Bundle

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
# More spans than one decode batch holds, so batch boundaries are crossed.
MANY = 5000


def _tid(n: int) -> str:
    return f"{n + 1:032x}"


def _sid(n: int) -> str:
    return f"{n + 1:016x}"


def _otlp_spans(count: int) -> list[dict[str, Any]]:
    return [
        {
            "traceId": _tid(i // 10),
            "spanId": _sid(i),
            "name": "GET /cart",
            "kind": 2,
            "startTimeUnixNano": str(1_700_000_000_000_000_000 + i),
            "endTimeUnixNano": str(1_700_000_000_000_500_000 + i),
            "attributes": [
                {"key": "http.method", "value": {"stringValue": "GET"}},
                {"key": "http.status_code", "value": {"intValue": "200"}},
            ],
        }
        for i in range(count)
    ]


def _write_otlp(tmp_path: Path, spans: list[dict[str, Any]]) -> Path:
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]
                },
                "scopeSpans": [{"spans": spans}],
            }
        ]
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc))
    return path


def _as_plain(bundle: Bundle) -> list[Any]:
    return [msgspec.to_builtins(s) for s in bundle.spans]


def test_otlp_json_reads_every_span_across_batches_in_order(tmp_path: Path) -> None:
    """All spans of a scope larger than a decode batch arrive, in file order, converted."""
    bundle = load([str(_write_otlp(tmp_path, _otlp_spans(MANY)))])
    assert [s.span_id for s in bundle.spans] == [_sid(i) for i in range(MANY)]
    last = bundle.spans[-1]
    assert last.start_ns == 1_700_000_000_000_000_000 + MANY - 1
    assert last.attributes == {"http.method": "GET", "http.status_code": 200}
    assert bundle.quality.skipped == 0 and bundle.quality.warnings == []


def test_one_misfit_span_in_a_batch_costs_only_itself(tmp_path: Path) -> None:
    """A span with a field of the wrong type is skipped and counted; its batch survives."""
    spans = _otlp_spans(MANY)
    spans[3000]["name"] = {"not": "a string"}
    bundle = load([str(_write_otlp(tmp_path, spans))])
    assert len(bundle.spans) == MANY - 1
    assert _sid(3000) not in {s.span_id for s in bundle.spans}
    assert bundle.quality.skipped == 1
    assert any("wrong type" in w for w in bundle.quality.warnings)


def test_looser_spellings_in_a_batch_are_rescued(tmp_path: Path) -> None:
    """Spans the fast decoder refuses (exponent-string times, booleans as strings, enum
    names) are read by the slower rules, not dropped, and their repairs counted."""
    spans = _otlp_spans(MANY)
    spans[10]["startTimeUnixNano"] = "1.7e18"
    spans[10]["endTimeUnixNano"] = "1.7000000000005e18"
    spans[11]["kind"] = "SPAN_KIND_CLIENT"
    spans[12]["attributes"] = [{"key": "cache.hit", "value": {"boolValue": "true"}}]
    bundle = load([str(_write_otlp(tmp_path, spans))])
    assert len(bundle.spans) == MANY
    by_id = {s.span_id: s for s in bundle.spans}
    assert by_id[_sid(10)].start_ns == int(1.7e18)
    assert by_id[_sid(10)].end_ns == int(float("1.7000000000005e18"))
    assert bundle.quality.repaired == 1
    assert by_id[_sid(11)].kind == 3
    assert by_id[_sid(12)].attributes == {"cache.hit": True}
    assert bundle.quality.skipped == 0


def test_bad_utf8_inside_one_span_skips_that_span(tmp_path: Path) -> None:
    """Invalid UTF-8 in one span's text makes that span unreadable, not the whole file."""
    path = _write_otlp(tmp_path, _otlp_spans(MANY))
    data = path.read_bytes().replace(b"GET /cart", b"GET /c\xffrt", 1)
    path.write_bytes(data)
    bundle = load([str(path)])
    assert len(bundle.spans) == MANY - 1
    assert bundle.quality.skipped == 1


def test_repeated_strings_are_shared_between_spans(tmp_path: Path) -> None:
    """Attribute keys, short values and span names are one object across all spans."""
    bundle = load([str(_write_otlp(tmp_path, _otlp_spans(50)))])
    first, last = bundle.spans[0], bundle.spans[-1]
    assert first.name is last.name
    (k1, v1), (k2, v2) = next(iter(first.attributes.items())), next(iter(last.attributes.items()))
    assert k1 is k2 and v1 is v2
    assert k1 is sys.intern("http.method")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (zipkin, "smartthings-oauth-authorization.json"),
        (zipkin, "messaging-kafka.json"),
        (zipkin, "skew.json"),
    ],
)
def test_typed_zipkin_reader_agrees_with_the_generic_one(module: Any, name: str) -> None:
    """On real Zipkin exports the typed path yields the generic path's spans and counters."""
    data = (FIXTURES / name).read_bytes()
    typed = module.read_bytes(data, name)
    generic = module.read(msgspec.json.decode(data), name)
    assert typed is not None and typed.spans
    assert _as_plain(typed) == _as_plain(generic)
    assert typed.quality == generic.quality


def _jaeger_doc() -> dict[str, Any]:
    def span(sid: str, parent: str | None, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "traceID": "00000000000000000000000000abcdef",
            "spanID": sid,
            "operationName": "op " + sid[-1],
            "references": (
                [{"refType": "CHILD_OF", "traceID": "abcdef", "spanID": parent}] if parent else []
            ),
            "startTime": 1_700_000_000_000_000,
            "duration": 1500,
            "tags": [
                {"key": "span.kind", "type": "string", "value": "server"},
                {"key": "http.status_code", "type": "int64", "value": "503"},
                {"key": "error", "type": "bool", "value": True},
            ],
            "logs": [
                {
                    "timestamp": 1_700_000_000_000_100,
                    "fields": [{"key": "event", "type": "string", "value": "retry"}],
                }
            ],
            "processID": "p1",
        }
        out.update(extra)
        return out

    return {
        "data": [
            {
                "traceID": "abcdef",
                "spans": [
                    span("00000000000000a1", None),
                    span("00000000000000a2", "a1"),
                    span("00000000000000a3", "a1", duration=-5),
                ],
                "processes": {
                    "p1": {
                        "serviceName": "cart",
                        "tags": [{"key": "hostname", "type": "string", "value": "node-1"}],
                    }
                },
            },
            # The api_v2 gateway spelling: not the typed shape, read generically.
            {
                "spans": [
                    {
                        "traceId": "abcdef",
                        "spanId": "b1",
                        "operationName": "gw",
                        "startTime": "2023-11-14T22:13:20Z",
                        "duration": "0.002s",
                        "tags": [{"key": "k", "vType": "INT64", "vInt64": "7"}],
                        "process": {"serviceName": "gateway"},
                    }
                ],
            },
        ]
    }


def test_typed_jaeger_reader_agrees_with_the_generic_one() -> None:
    """Typed and generic Jaeger reading give the same spans, repairs and counters, even
    when one trace of the document is in another spelling and goes generic."""
    doc = _jaeger_doc()
    data = json.dumps(doc).encode()
    typed = jaeger.read_bytes(data, "j.json")
    generic = jaeger.read(doc, "j.json")
    assert typed is not None and len(typed.spans) == 4
    assert _as_plain(typed) == _as_plain(generic)
    assert typed.quality == generic.quality
    gateway = typed.spans[-1]
    assert gateway.service == "gateway" and gateway.attributes == {"k": 7}


def test_typed_readers_decline_what_they_do_not_recognise() -> None:
    """A `data` wrapper or array that holds no spans is left to the generic dispatcher."""
    assert jaeger.read_bytes(b'{"data": [{"alert": "x"}]}', "a.json") is None
    assert zipkin.read_bytes(b'[{"level": "info", "msg": "hi"}]', "l.json") is None
