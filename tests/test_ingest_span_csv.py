"""CSV span tables (the Nezha RCA dataset's export shape) read into spans."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
from realfiles import real_param

from incident.errors import FormatError
from incident.ingest import load
from incident.ingest.span_csv import looks_like_span_csv, read, service_of_pod

NEZHA = [
    # (path under realdata/traces/Nezha, spans, traces, services) as SOURCES.md states them
    ("rca_data/2022-08-22/trace/05_28_trace.csv", 14_476, 319, 10),
    ("construct_data/2022-08-23/trace/17_00_trace.csv", 22_969, 502, 10),
    ("rca_data/2023-01-30/trace/13_23_trace.csv", 3_975, 49, 28),
    ("construct_data/2023-01-30/trace/11_39_trace.csv", 4_595, 62, 28),
]
HEADER = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration"


@pytest.mark.parametrize(
    ("path", "spans", "traces", "services"),
    [real_param(f"traces/Nezha/{rel}", *counts) for rel, *counts in NEZHA],
)
def test_nezha_counts_match_the_dataset(path: Path, spans: int, traces: int, services: int) -> None:
    """Every row is a span; trace and service counts agree with the dataset and the rows
    (the copies here are gzip-compressed: the reader peels gzip by its magic bytes)."""
    with gzip.open(path, "rt") if path.suffix == ".gz" else path.open() as fh:
        rows = list(csv.DictReader(fh))
    bundle = load([str(path)])
    assert len(bundle.spans) == len(rows) == spans
    assert len({s.trace_id for s in bundle.spans}) == traces
    assert len({s.service for s in bundle.spans}) == services
    assert bundle.inputs[0].format == "span-csv"
    roots = sum(1 for r in rows if r["ParentID"] == "root")
    assert sum(1 for s in bundle.spans if s.parent_id is None) == roots


def test_pod_names_become_services_and_stay_instances() -> None:
    """Deployment pods lose both hashes; the pod itself is kept as the instance."""
    assert service_of_pod("frontend-579b9bff58-t2dbm") == "frontend"
    assert service_of_pod("ts-gateway-service-6f6cfc45b-d9pnv") == "ts-gateway-service"
    assert service_of_pod("redis") == "redis"
    row = "abc1,0a,root,cart-6d8f9c7b5d-x2x9k,GetCart,1661146072748390465,1661146072749390465,1000"
    text = f"{HEADER}\n{row}\n"
    span = read(text, "t.csv").spans[0]
    assert span.service == "cart" and span.instance == "cart-6d8f9c7b5d-x2x9k"
    assert span.parent_id is None and span.duration_ns == 1_000_000


def test_bad_rows_are_skipped_and_counted() -> None:
    """Short rows, bad ids and non-numeric times are skipped; the rest is read."""
    text = (
        f"{HEADER}\n"
        "aa,0b,root,web-7d9f8c6b5d-abcde,GET /,1000000000000000000,1000000001000000000,1000\n"
        "zz-not-hex,0c,0b,web,GET /,1,2,1\n"
        "aa,0d,0b,web\n"
        "aa,0e,0b,web,GET /x,soon,later,1\n"
    )
    bundle = read(text, "bad.csv")
    assert len(bundle.spans) == 1
    assert bundle.quality.skipped == 3
    assert bundle.inputs[0].records == 4 and bundle.inputs[0].skipped == 3


def test_duration_only_and_second_timestamps() -> None:
    """Without an end column the duration (µs) gives the end; epoch seconds become ns."""
    text = (
        "trace_id,span_id,parent_id,service,name,start_time,duration\n"
        "aa,01,,api,GET /,1700000000,2500\n"
    )
    span = read(text, "d.csv").spans[0]
    assert span.start_ns == 1_700_000_000 * 10**9
    assert span.duration_ns == 2_500_000
    assert span.service == "api"


def test_header_without_timing_is_refused() -> None:
    """A CSV that names ids but no start time is not a span table."""
    assert not looks_like_span_csv("trace_id,span_id,user,comment\n")
    with pytest.raises(FormatError):
        read("TraceID,SpanID,ParentID,Pod\nab,01,root,x\n", "x.csv")
