"""Log readers: formats sniffed from content, records mapped, bad lines skipped and counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incident.errors import EmptyInputError, FormatError
from incident.ingest import logs
from incident.ingest.logs.levels import level_from_value
from incident.ingest.logs.timestamps import parse_time
from incident.model import LogRecord

LOG_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"
TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def ns(text: str) -> int:
    """Nanoseconds for an ISO time with an offset, computed with the standard library."""
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000_000


def one(text: str, name: str = "app.log") -> LogRecord:
    bundle = logs.read(text, name, year=2026)
    assert len(bundle.logs) == 1
    return bundle.logs[0]


def non_empty_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip())


# --- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('{"level":"info","msg":"up","time":"2026-01-01T00:00:00Z"}\n', "jsonl"),
        ('[{"severity":"ERROR","textPayload":"boom"}]', "json-array"),
        ('{\n  "resourceLogs": [\n', "otlp-logs"),
        ('{"resourceLogs":[]}\n{"resourceSpans":[]}\n', "otlp-logs"),
        ("2026-01-01T00:00:00Z INFO started\n", "text"),
        ("[Sun Dec 04 04:47:44 2005] [notice] ready\n", "text"),
        ("", None),
        ("   \n\n", None),
        ("\x00\x01\x02binary\x00\x00", None),
        ("TraceID,SpanID,ParentID,PodName\n1,2,3,4\n", None),
        ("EventId,EventTemplate\nE1,[*]Adding an already existing block[*]\n", None),
        ("# Read me\n\nThis project turns traces into a diagnosis.\n", None),
        ('[{"traceId":"a","id":"b","name":"get","duration":5,"localEndpoint":{}}]', None),
        ('{\n  "resourceSpans": [\n', None),
        ('{"alerts": [], "receiver": "x"}\n', None),
    ],
)
def test_sniff_names_the_format_or_refuses(head: str, expected: str | None) -> None:
    """Content decides the format; binary, CSV, spans, alerts and empty heads are not logs."""
    assert logs.sniff(head) == expected


# --- OTLP -------------------------------------------------------------------------------------


def test_otlp_example_maps_every_field() -> None:
    """The canonical OTLP logs example: time, level, ids lowercased, body, attributes, service."""
    text = (LOG_FIXTURES / "opentelemetry-proto_logs.json").read_text()
    bundle = logs.read(text, "otlp.json")
    assert bundle.inputs[0].format == "otlp-logs"
    record = bundle.logs[0]
    assert record.time_ns == 1544712660300000000
    assert record.level == "INFO"  # severityNumber 10
    assert record.message == "Example log record"
    assert record.service == "my.service"
    assert (record.trace_id, record.span_id) == (TRACE, SPAN)
    assert record.fields["int.attribute"] == 10
    assert record.fields["array.attribute"] == ["many", "values"]
    assert record.fields["map.attribute"] == {"some.map.key": "some value"}
    assert record.fields["otel.scope.name"] == "my.library"
    assert record.source == "otlp.json"


def test_otlp_jsonl_with_base64_ids_and_trace_lines() -> None:
    """Collector file-exporter lines: base64 ids decoded, trace lines noted, not counted bad."""
    trace_b64 = "W47/95gDgQPSabYzgT/GDA=="
    span_b64 = "7uGbfsPBsXQ="
    log_line = json.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "cart"}},
                            {"key": "k8s.pod.name", "value": {"stringValue": "cart-7f9-x"}},
                        ]
                    },
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "timeUnixNano": "0",
                                    "observedTimeUnixNano": "1700000000000000001",
                                    "severityNumber": "SEVERITY_NUMBER_ERROR",
                                    "traceId": trace_b64,
                                    "spanId": span_b64,
                                    "body": {"stringValue": "cart store unavailable"},
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    )
    text = '{"resourceSpans":[]}\n' + log_line + "\n"
    bundle = logs.read(text, "otel.jsonl")
    record = bundle.logs[0]
    assert (record.trace_id, record.span_id) == (TRACE, SPAN)
    assert record.level == "ERROR"
    # timeUnixNano 0 means unknown: the observed time is used.
    assert record.time_ns == 1700000000000000001
    assert record.instance == "cart-7f9-x"
    assert record.source == "otel.jsonl:2"
    assert bundle.inputs[0].skipped == 0
    assert bundle.inputs[0].notes == ["1 lines hold traces or metrics, not logs"]


# --- structured JSON records ------------------------------------------------------------------


def test_structlog_event_level_timestamp() -> None:
    """structlog JSON: `event` is the message; extra keys are kept as fields."""
    record = one(
        '{"event": "payment declined", "level": "warning", '
        '"timestamp": "2026-03-02T09:01:02.123456Z", "order_id": 17, "trace_id": "' + TRACE + '"}'
    )
    assert record.message == "payment declined"
    assert record.level == "WARN"
    assert record.time_ns == ns("2026-03-02T09:01:02+00:00") + 123_456_000
    assert record.trace_id == TRACE
    assert record.fields == {"order_id": 17}


def test_ecs_nested_and_dotted_keys_read_the_same() -> None:
    """ECS writes `log.level` either nested or dotted; both give the same record."""
    nested = {
        "@timestamp": "2026-03-02T09:01:02.5Z",
        "log": {"level": "error", "logger": "db"},
        "message": "connection refused",
        "service": {"name": "orders"},
        "trace": {"id": TRACE.upper()},
        "span": {"id": SPAN},
        "host": {"name": "node-3"},
    }
    dotted = {
        "@timestamp": "2026-03-02T09:01:02.5Z",
        "log.level": "error",
        "log.logger": "db",
        "message": "connection refused",
        "service.name": "orders",
        "trace.id": TRACE.upper(),
        "span.id": SPAN,
        "host.name": "node-3",
    }
    a, b = one(json.dumps(nested)), one(json.dumps(dotted))
    assert (a.level, a.service, a.trace_id, a.span_id, a.instance) == (
        "ERROR",
        "orders",
        TRACE,
        SPAN,
        "node-3",
    )
    assert (a.time_ns, a.message, a.fields) == (b.time_ns, b.message, b.fields)
    assert (a.level, a.service, a.trace_id, a.span_id, a.instance) == (
        b.level,
        b.service,
        b.trace_id,
        b.span_id,
        b.instance,
    )
    assert a.fields == {"log.logger": "db"}


def test_gcp_cloud_logging_entry() -> None:
    """GCP: severity, jsonPayload.message, trace path, span id, resource labels."""
    entry = {
        "insertId": "abc",
        "jsonPayload": {"message": "upstream timeout", "latency_ms": 2100},
        "resource": {
            "type": "k8s_container",
            "labels": {"container_name": "checkout", "pod_name": "checkout-5d-abcde"},
        },
        "timestamp": "2026-03-02T09:01:02.000000001Z",
        "severity": "CRITICAL",
        "logging.googleapis.com/trace": f"projects/shop/traces/{TRACE}",
        "logging.googleapis.com/spanId": SPAN,
    }
    record = one(json.dumps(entry))
    assert record.message == "upstream timeout"
    assert record.level == "FATAL"
    assert record.time_ns == ns("2026-03-02T09:01:02+00:00") + 1
    assert (record.trace_id, record.span_id) == (TRACE, SPAN)
    assert (record.service, record.instance) == ("checkout", "checkout-5d-abcde")
    assert record.fields["latency_ms"] == 2100


def test_gcp_export_as_json_array_with_text_payload() -> None:
    """`gcloud logging read --format=json` writes an array; textPayload is the message."""
    text = json.dumps(
        [
            {"textPayload": "started", "severity": "INFO", "timestamp": "2026-03-02T09:00:00Z"},
            {"textPayload": "crashed", "severity": "ERROR", "timestamp": "2026-03-02T09:00:01Z"},
            "not a record",
        ],
        indent=2,
    )
    bundle = logs.read(text, "gcp.json")
    assert bundle.inputs[0].format == "json-array"
    assert [r.level for r in bundle.logs] == ["INFO", "ERROR"]
    assert bundle.logs[1].source == "gcp.json:[1]"
    assert bundle.inputs[0].skipped == 1


@pytest.mark.parametrize(
    ("line", "service", "level", "message", "instance"),
    [
        (
            '{"labels":{"app":"cart","pod":"cart-1","level":"warn"},'
            '"line":"{\\"msg\\":\\"slow\\"}","timestamp":"2026-03-02T09:00:00Z"}',
            "cart",
            "WARN",
            "slow",
            "cart-1",
        ),
        (
            '{"labels":{"job":"shop/api"},"line":"level=error msg=\\"db down\\" dur=3s",'
            '"timestamp":"2026-03-02T09:00:00Z"}',
            "api",
            "ERROR",
            "db down",
            None,
        ),
        (
            '{"labels":{"service_name":"web","container":"nginx"},"line":"GET / 502",'
            '"timestamp":"2026-03-02T09:00:00Z"}',
            "web",
            None,
            "GET / 502",
            None,
        ),
    ],
)
def test_loki_logcli_lines(
    line: str, service: str, level: str | None, message: str, instance: str | None
) -> None:
    """Loki logcli jsonl: the inner line may be JSON, logfmt or text; labels fill the gaps."""
    record = one(line)
    assert (record.service, record.level, record.message, record.instance) == (
        service,
        level,
        message,
        instance,
    )
    assert record.time_ns == ns("2026-03-02T09:00:00+00:00")


@pytest.mark.parametrize("indent", [1, None])
def test_loki_query_api_streams(indent: int | None) -> None:
    """A query_range response, pretty-printed or on one line as `curl` saves it: each
    [ts, line] under its stream's labels."""
    doc = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {
                    "stream": {"app": "search"},
                    "values": [["1772442000000000000", "ERROR index missing"], ["bad"]],
                }
            ],
        },
    }
    bundle = logs.read(json.dumps(doc, indent=indent), "loki.json")
    assert [(r.service, r.level, r.time_ns) for r in bundle.logs] == [
        ("search", "ERROR", 1772442000000000000)
    ]
    assert bundle.inputs[0].skipped == 1


@pytest.mark.parametrize(
    ("value", "expected_ns"),
    [
        (1772442000, 1772442000 * 10**9),
        (1772442000.25, 1772442000 * 10**9 + 250_000_000),
        (1772442000123, 1772442000123 * 10**6),
        (1772442000123456, 1772442000123456 * 10**3),
        (1772442000123456789, 1772442000123456789),
        ("1772442000", 1772442000 * 10**9),
        ("2026-03-02T09:00:00+02:00", 1772434800 * 10**9),
        ("2026-03-02 09:00:00,5", 1772442000 * 10**9 + 500_000_000),
        ("2015-07-17T08:42:58.315+0000", 1437122578315 * 10**6),
        ({"seconds": 1772442000, "nanos": 7}, 1772442000 * 10**9 + 7),
        ("yesterday", None),
        (True, None),
        (0, None),
    ],
)
def test_time_values_in_every_unit(value: object, expected_ns: int | None) -> None:
    """Epoch seconds, ms, µs, ns, numeric strings, ISO variants and protobuf Timestamps."""
    assert parse_time(value) == expected_ns


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("warning", "WARN"),
        ("WARN", "WARN"),
        ("err", "ERROR"),
        ("critical", "FATAL"),
        ("crit", "FATAL"),
        ("Information", "INFO"),
        ("notice", "INFO"),
        ("E", "ERROR"),
        ("W", "WARN"),
        ("I", "INFO"),
        ("emerg", "FATAL"),
        ("SEVERITY_NUMBER_WARN2", "WARN"),
        (30, "INFO"),
        (50, "ERROR"),
        (60, "FATAL"),
        (17, "ERROR"),
        ("bogus", None),
        (None, None),
    ],
)
def test_levels_normalise(value: object, level: str | None) -> None:
    """Level words, glog letters, syslog names, pino and OTLP numbers map to six levels."""
    assert level_from_value(value) == level


def test_generic_json_keys_and_pino_numbers() -> None:
    """`msg`, `ts` epoch seconds and numeric pino levels; hostname is the instance."""
    record = one('{"msg":"listening","ts":1772442000.5,"level":50,"hostname":"api-1","pid":7}')
    assert (record.message, record.level, record.instance) == ("listening", "ERROR", "api-1")
    assert record.time_ns == 1772442000 * 10**9 + 500_000_000
    assert record.fields == {"pid": 7}


def test_journald_priority_and_microseconds() -> None:
    """journald JSON: MESSAGE, PRIORITY as a syslog number, __REALTIME_TIMESTAMP in µs."""
    record = one(
        '{"MESSAGE":"oom-kill","PRIORITY":"3","__REALTIME_TIMESTAMP":"1772442000000001",'
        '"_SYSTEMD_UNIT":"kubelet.service","_HOSTNAME":"node-1"}'
    )
    assert (record.level, record.service, record.instance) == ("ERROR", "kubelet.service", "node-1")
    assert record.time_ns == 1772442000000001000


def test_huge_field_values_are_truncated_to_4_kib() -> None:
    """A stack trace of 10,000 characters is kept, but only its first 4 KiB."""
    record = one(json.dumps({"msg": "boom", "stack": "x" * 10_000, "blob": ["y" * 100] * 100}))
    assert len(record.fields["stack"]) == 4096
    assert isinstance(record.fields["blob"], str)
    assert len(record.fields["blob"]) <= 4096


def test_ids_are_normalised_or_dropped() -> None:
    """Upper-case hex is lowered; all-zero ids are no ids; Datadog decimal ids become hex."""
    zero = one('{"msg":"a","trace_id":"00000000000000000000000000000000"}')
    assert zero.trace_id is None
    dd = one('{"msg":"a","dd.trace_id":"1234567890123456789","dd.span_id":"42"}')
    assert dd.trace_id == format(1234567890123456789, "016x")
    assert dd.span_id == format(42, "016x")
    tp = one('{"msg":"a","traceparent":"00-' + TRACE + "-" + SPAN + '-01"}')
    assert (tp.trace_id, tp.span_id) == (TRACE, SPAN)


# --- text lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "time_iso", "level", "message"),
    [
        (
            "2026-03-02T09:00:00.123456789Z GET /health 200",
            "2026-03-02T09:00:00+00:00",
            None,
            "GET /health 200",
        ),
        (
            "2026-03-02 09:00:00,123 - app.db - ERROR - pool exhausted",
            "2026-03-02T09:00:00+00:00",
            "ERROR",
            "pool exhausted",
        ),
        (
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state 6",
            "2005-12-04T04:47:44+00:00",
            "ERROR",
            "mod_jk child in error state 6",
        ),
        (
            "081109 203615 148 WARN dfs.DataNode: slow block",
            "2008-11-09T20:36:15+00:00",
            "WARN",
            "dfs.DataNode: slow block",
        ),
        (
            "E0302 09:00:00.000001    1 controller.go:42] sync failed",
            "2026-03-02T09:00:00+00:00",
            "ERROR",
            "sync failed",
        ),
        (
            '10.0.0.1 - - [02/Mar/2026:10:00:00 +0100] "GET /pay HTTP/1.1" 503 12',
            "2026-03-02T09:00:00+00:00",
            "ERROR",
            '10.0.0.1 "GET /pay HTTP/1.1" 503 12',
        ),
        ("[ERROR] something broke", None, "ERROR", "[ERROR] something broke"),
        (
            "Dec 10 06:55:46 host app: backup of 2017-01-01T00:00:00Z done",
            "2026-12-10T06:55:46+00:00",
            None,
            "backup of 2017-01-01T00:00:00Z done",
        ),
        ("just words", None, None, "just words"),
    ],
)
def test_text_dialects(line: str, time_iso: str | None, level: str | None, message: str) -> None:
    """kubectl, Python logging, Apache, HDFS, glog, access logs and bare lines."""
    record = one(line)
    assert record.level == level
    assert record.message == message
    if time_iso is None:
        assert record.time_ns is None
    else:
        assert record.time_ns is not None
        assert record.time_ns // 10**9 * 10**9 == ns(time_iso)
    assert record.source == "app.log:1"


def test_kubectl_timestamps_prefix_in_front_of_json() -> None:
    """`kubectl logs --timestamps --prefix`: pod and container from the prefix, app JSON inside."""
    line = '[pod/cart-7d-x/server] 2026-03-02T09:00:00Z {"level":"error","msg":"redis down"}'
    record = one(line)
    assert (record.level, record.message) == ("ERROR", "redis down")
    assert (record.instance, record.service) == ("cart-7d-x", "server")
    assert record.time_ns == ns("2026-03-02T09:00:00+00:00")


def test_syslog_without_year_uses_the_given_year_and_says_so() -> None:
    """Syslog lines carry no year: the caller's year is used and a note records it."""
    bundle = logs.read("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user x\n", "auth.log", year=2017)
    record = bundle.logs[0]
    assert record.time_ns == ns("2017-12-10T06:55:46+00:00")
    assert (record.service, record.instance, record.fields["pid"]) == ("sshd", "LabSZ", "24200")
    assert bundle.inputs[0].notes == ["1 lines carry no year; 2017 assumed"]


def test_a_message_opening_with_a_level_and_a_colon_has_that_level() -> None:
    """sshd and many C programs write "error: ..." and "fatal: ..."; a level word that only
    starts a sentence ("error handling ...") or is a plural ("errors: 3") is not a level."""
    text = (
        "Dec 10 07:07:38 LabSZ sshd[24206]: error: Received disconnect from 1.2.3.4: 3\n"
        "Dec 10 07:07:39 LabSZ sshd[24206]: fatal: Read from socket failed\n"
        "Dec 10 07:07:40 LabSZ sshd[24206]: error handling took 3 ms\n"
        "Dec 10 07:07:41 LabSZ sshd[24206]: errors: 3 found\n"
        "Dec 10 07:07:42 LabSZ sshd[24206]: pam_unix(sshd:auth): authentication failure\n"
    )
    levels = [r.level for r in logs.read(text, "auth.log", year=2025).logs]
    assert levels == ["ERROR", "FATAL", None, None, None]


def test_year_less_log_crossing_new_year_moves_to_the_next_year() -> None:
    """December then January in a syslog file: January belongs to the following year."""
    text = "Dec 31 23:59:59 h app: last\nJan  1 00:00:01 h app: first\n"
    times = [r.time_ns for r in logs.read(text, "rollover.log", year=2025).logs]
    assert times == [ns("2025-12-31T23:59:59+00:00"), ns("2026-01-01T00:00:01+00:00")]


def test_garbage_lines_are_skipped_and_counted() -> None:
    """Binary noise and truncated JSON are skipped; the count reaches InputInfo and quality."""
    text = (
        '{"msg":"ok","level":"info"}\n'
        '{"msg":"trunc\n'
        "\x00\x01\x02\x03\x04\n"
        '{"msg":"ok again","level":"info"}\n'
        "\n"
    )
    bundle = logs.read(text, "mixed.jsonl")
    assert len(bundle.logs) == 2
    assert bundle.inputs[0].skipped == 2
    assert bundle.quality.log_lines_skipped == 2
    assert bundle.quality.warnings == ["mixed.jsonl: 2 unreadable log lines skipped"]


def test_text_read_on_purpose_needs_no_times() -> None:
    """Plain lines are not sniffed as logs, but read with --logs they are records all the same."""
    text = "Backend server is running\n** headers health -> undefined\n"
    assert logs.sniff(text) is None
    bundle = logs.read(text, "stdout.txt")
    assert [r.message for r in bundle.logs] == [
        "Backend server is running",
        "** headers health -> undefined",
    ]
    assert bundle.inputs[0].format == "text"


def test_empty_and_all_garbage_inputs_are_errors_naming_the_file() -> None:
    """Nothing usable is an input error that names the file."""
    with pytest.raises(EmptyInputError) as empty:
        logs.read("\n  \n", "empty.log")
    assert empty.value.path == "empty.log"
    with pytest.raises(FormatError) as binary:
        logs.read("\x00\x01\x02\x03" * 100, "core.bin")
    assert binary.value.path == "core.bin"
    with pytest.raises(FormatError):
        logs.read('{"msg": 1\n{"msg": 2\n', "broken.jsonl")
    with pytest.raises(FormatError):
        logs.read('[{"msg": "a"}, {"msg": ', "cut.json")


# --- real files ---------------------------------------------------------------------------------


def test_kubernetes_pod_logs_with_interleaved_text() -> None:
    """Real pino logs from `kubectl logs`: JSON records, stdout text kept, tool headers skipped."""
    text = (LOG_FIXTURES / "kubectl_logs_all_containers_backend.txt").read_text()
    bundle = logs.read(text, "backend.txt")
    info = bundle.inputs[0]
    assert info.format == "jsonl"
    # The two HolmesGPT header lines are JSON but not log records.
    assert info.skipped == 2
    assert info.records + info.skipped == non_empty_lines(text)
    errors = [r for r in bundle.logs if r.level == "ERROR"]
    assert errors
    assert all(r.instance == "backend-service-66468d89c8-sxrjj" for r in errors)
    assert any("EAI_AGAIN" in json.dumps(r.fields) for r in errors)
    pino_lines = sum(1 for line in text.split("\n") if line.startswith('{"level"'))
    assert sum(1 for r in bundle.logs if r.time_ns is not None) == pino_lines


LOGHUB = {
    "Apache_2k.log": lambda line: line.split("] [", 1)[1].split("]", 1)[0],
    "HDFS_2k.log": lambda line: line.split()[3],
    "BGL_2k.log": lambda line: line.split()[8],
    "OpenStack_2k.log": lambda line: line.split()[4],
}
NORMAL = {"notice": "INFO", "error": "ERROR", "WARNING": "WARN", "SEVERE": "ERROR"}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(LOGHUB))
def test_loghub_samples_parse_time_and_level_on_every_line(realdata: Path, name: str) -> None:
    """Each 2,000-line loghub sample: one record per line, each timed, levels as written."""
    text = (realdata / "logs" / "loghub" / name).read_text(encoding="utf-8")
    bundle = logs.read(text, name, year=2026)
    info = bundle.inputs[0]
    assert info.format == "text"
    assert info.records + info.skipped == non_empty_lines(text) == 2000
    assert all(r.time_ns is not None for r in bundle.logs)
    column = LOGHUB[name]
    expected = [NORMAL.get(column(line), column(line)) for line in text.splitlines()]
    assert [r.level for r in bundle.logs] == expected


@pytest.mark.realdata
def test_openssh_syslog_sample(realdata: Path) -> None:
    """The OpenSSH sample is syslog: sshd is the service, LabSZ the host, every line timed."""
    text = (realdata / "logs" / "loghub" / "OpenSSH_2k.log").read_text(encoding="utf-8")
    bundle = logs.read(text, "ssh.log", year=2026)
    assert len(bundle.logs) == 2000
    assert {r.service for r in bundle.logs} == {"sshd"}
    assert {r.instance for r in bundle.logs} == {"LabSZ"}
    first = datetime.fromtimestamp(bundle.logs[0].time_ns // 10**9, UTC)  # type: ignore[operator]
    assert (first.month, first.day, first.hour, first.minute) == (12, 10, 6, 55)


@pytest.mark.realdata
def test_bgl_times_come_from_the_utc_epoch_column(realdata: Path) -> None:
    """BGL's epoch column is UTC; its spelled-out time is local and must not shift records."""
    text = (realdata / "logs" / "loghub" / "BGL_2k.log").read_text(encoding="utf-8")
    record = logs.read(text, "bgl.log").logs[0]
    assert record.time_ns == 1117838570 * 10**9 + 675_872_000
    assert record.instance == "R02-M1-N0-C:J12-U11"
