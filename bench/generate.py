"""Exports of a chosen size for the benchmark, from the project's scenario generator.

The incident is a slow database under a random topology (seeded), written in one of the
formats the tool reads. Generation is not measured; files are cached in bench/out/.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

# The scenario generator is test support (tests/synth), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from synth import generate
from synth.writers import otlp_request, write_jaeger, write_otlp_json, write_zipkin


def _spans_per_trace(seed: int) -> float:
    probe = generate("slow-db", seed=seed, traces=200, baseline_traces=1, logs=False)
    return len(probe.spans) / 200


def _ids_to_base64(span: dict[str, object]) -> None:
    """OTLP JSON spells ids in hex; protobuf's JSON mapping of bytes wants base64."""
    for key in ("traceId", "spanId", "parentSpanId"):
        value = span.get(key)
        if isinstance(value, str) and value:
            span[key] = base64.b64encode(bytes.fromhex(value)).decode()


def write_export(path: Path, *, spans: int, fmt: str, seed: int = 7) -> int:
    """Write about `spans` spans to `path` in `fmt`; return how many were written."""
    traces = max(10, round(spans / _spans_per_trace(seed)))
    scenario = generate("slow-db", seed=seed, traces=traces, baseline_traces=1, logs=False)
    if fmt == "otlp-json":
        write_otlp_json(scenario.spans, path)
    elif fmt == "jaeger":
        write_jaeger(scenario.spans, path)
    elif fmt == "zipkin":
        write_zipkin(scenario.spans, path)
    elif fmt == "otlp-proto":
        # protobuf's dict parser is slow, but generation is not what is measured.
        from google.protobuf.json_format import ParseDict
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = otlp_request(scenario.spans)
        for rs in request["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    _ids_to_base64(span)
        message = ParseDict(request, ExportTraceServiceRequest())
        path.write_bytes(message.SerializeToString())
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return len(scenario.spans)


if __name__ == "__main__":
    import sys

    target, count, fmt_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(write_export(Path(target), spans=count, fmt=fmt_name))
