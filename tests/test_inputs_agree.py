"""Inputs checked against each other, and log templates that group what is one message."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from synth import generate

from incident.analysis import diagnose
from incident.analysis.logs import is_junk, template_of
from incident.ingest import load
from incident.ingest.logs import read as read_logs
from incident.model import Alert, Bundle, LogRecord


def test_one_message_one_template_whatever_ids_tokens_and_values_it_carries() -> None:
    variants = [
        "payment failed for order=A81F-22 user=alice@example.org token=tok_8fa93kdl2mzq91xd",
        "payment failed for order=ZZ-9 user=bob@shop.example token=tok_2bb81mzz0qq7k3lp",
        "payment failed for order=17 user=<email:3> token=<secret:9>",
    ]
    assert len({template_of(v) for v in variants}) == 1
    ids = [
        "request req_7Hk2pQ9sLm3x8Zt1 finished in 35 ms",
        "request req_Q2w8Er5tY7u1I9oP finished in 1200 ms",
    ]
    assert len({template_of(v) for v in ids}) == 1


def test_progress_meters_are_junk_and_sentences_are_not() -> None:
    assert is_junk(template_of("100%|██████████| 50/50 [00:02<00:00, 21.3it/s]"))
    assert is_junk(template_of("[=====>        ] 42%"))
    assert not is_junk(template_of("connection refused by db-main:5432 after 3 retries"))


def test_progress_meters_sink_below_real_messages() -> None:
    sc = generate("slow-db", seed=2, traces=200)
    t0 = min(s.start_ns for s in sc.spans)
    junk = [
        LogRecord(
            t0 + k * 10**9, "INFO", f"{k % 100}%|{'█' * (k % 10 + 6)}| {k}/500", service="job"
        )
        for k in range(400)
    ]
    bundle = sc.bundle()
    bundle.logs = [*bundle.logs, *junk]
    templates = diagnose(bundle).log_templates
    assert templates and not is_junk(templates[0].template)


def test_a_service_comes_from_the_pod_when_no_service_field_says_it() -> None:
    line = {
        "ts": "2026-03-14T10:00:00Z",
        "level": "error",
        "msg": "boom",
        "pod": "cart-6d8f9c7b5d-x2x9k",
    }
    bundle = read_logs(json.dumps(line) + "\n", "app.jsonl")
    (record,) = bundle.logs
    assert record.service == "cart" and record.instance == "cart-6d8f9c7b5d-x2x9k"


def test_year_less_syslog_never_lands_in_the_future() -> None:
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    line = tomorrow.strftime("%b %d %H:%M:%S") + " web01 sshd[42]: Accepted publickey\n"
    bundle = read_logs(line, "auth.log")
    (record,) = bundle.logs
    assert record.time_ns is not None
    assert record.time_ns < dt.datetime.now(dt.UTC).timestamp() * 1e9
    assert any("would put them in the future" in w for w in bundle.quality.warnings)


def test_logs_and_alerts_outside_the_trace_window_are_warned_about(tmp_path: Path) -> None:
    sc = generate("error-burst", seed=1, traces=200)
    t0 = min(s.start_ns for s in sc.spans)
    year = 365 * 86_400 * 10**9
    bundle = Bundle(
        spans=list(sc.spans),
        logs=[LogRecord(t0 - year, "ERROR", "old failure", service="web")],
        alerts=[Alert(source="generic", status="firing", name="OldAlert", starts_ns=t0 - year)],
    )
    warnings = diagnose(bundle).data_quality.warnings
    assert any("outside the traces' window" in w and "log records" in w for w in warnings)
    assert any("OldAlert" in w for w in warnings)


def test_traces_from_different_years_are_warned_about() -> None:
    a = generate("slow-db", seed=1, traces=100)
    b = generate("slow-db", seed=2, traces=100)
    shift = 2 * 365 * 86_400 * 10**9
    import msgspec

    later = [
        msgspec.structs.replace(s, start_ns=s.start_ns + shift, end_ns=s.end_ns + shift)
        for s in b.spans
    ]
    warnings = diagnose(Bundle(spans=[*a.spans, *later])).data_quality.warnings
    assert any("different periods" in w for w in warnings)


def test_the_sample_has_no_cross_input_warning() -> None:
    report = diagnose(load(["samples/checkout-db-latency"]))
    assert not any(
        "outside the traces' window" in w or "different periods" in w
        for w in report.data_quality.warnings
    )
