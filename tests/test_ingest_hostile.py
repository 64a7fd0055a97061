"""Inputs built to hang or exhaust the machine: FIFOs and devices, gzip bombs, stdin without
end, far-future and overflowing times, absurd nesting, crash-damaged logs and half-readable
folders. Each one ends quickly, either in exit 2 with one line naming the input and the
problem, or in a Bundle that reads around the bad part and counts it."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from incident.errors import (
    EmptyInputError,
    FormatError,
    InputError,
    UnreadableInputError,
    UsageError,
)
from incident.ingest import load, load_one
from incident.ingest.bounds import LATEST_NS, nesting_exceeds
from incident.ingest.sources import (
    DEFAULT_MAX_INPUT_BYTES,
    MAX_INPUT_ENV,
    max_input_bytes,
    parse_size,
    read_source,
)
from incident.model import Bundle

MB = 1024 * 1024
# Far more than enough for any case here; a regression that hangs fails instead of waiting.
TIMEOUT = 60
# What "finishes quickly" means on a slow shared runner.
QUICK = 15.0
# Address space for a run that must not balloon: a bomb may not be inflated past the limit.
MEMORY_CAP = 1536 * MB

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
GOOD_NS = 1_772_442_000_000_000_000  # 2026-03-02
YEAR_9999_NS = 253_402_300_799 * 10**9
HUGE_NS = 2**70


# --- helpers ---------------------------------------------------------------------------------


def run(
    *args: str,
    stdin: bytes | None = None,
    stdin_file: str | None = None,
    env: dict[str, str] | None = None,
    memory_cap: int | None = None,
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """The CLI in a child process, bounded in time (and in memory when asked)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    full_env.pop(MAX_INPUT_ENV, None)
    full_env.update(env or {})

    def limit_memory() -> None:
        if memory_cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))

    started = time.monotonic()
    with open(stdin_file or os.devnull, "rb") as source:
        proc = subprocess.run(
            [sys.executable, "-m", "incident", *args],
            input=stdin,
            stdin=None if stdin is not None else source,
            capture_output=True,
            env=full_env,
            timeout=TIMEOUT,
            check=False,
            preexec_fn=limit_memory,
        )
    return proc, time.monotonic() - started


def one_error_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    """Exit 2 and exactly one line on stderr, never a traceback."""
    text = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _zeros_gzip(size: int) -> bytes:
    """A gzip of `size` zero bytes, built a MiB at a time (200 MB compress to ~200 KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    parts = [packer.compress(block) for _ in range(size // MB)]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """200 MB of zeros in about 200 KB: with a 10 MB limit, a bomb."""
    return _zeros_gzip(200 * MB)


def _log_lines(count: int, start: int = 0) -> str:
    return "".join(
        json.dumps(
            {
                "time": f"2026-03-02T09:00:{(start + i) % 60:02d}Z",
                "level": "error",
                "msg": f"payment failed {start + i}",
            }
        )
        + "\n"
        for i in range(count)
    )


# --- not regular files -------------------------------------------------------------------------


def test_fifo_input_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO would block the reader until a writer appears: it is refused by its type."""
    fifo = tmp_path / "traces.json"
    os.mkfifo(fifo)
    proc, took = run("inspect", str(fifo))
    line = one_error_line(proc)
    assert str(fifo) in line and "is a FIFO, not a regular file" in line
    assert took < QUICK


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_device_input_is_refused_at_once(device: str) -> None:
    """A device never ends; it is refused before a byte is read, not read until memory runs out."""
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    proc, took = run("inspect", device, memory_cap=MEMORY_CAP)
    line = one_error_line(proc)
    assert device in line and "is a character device, not a regular file" in line
    assert took < QUICK


def test_a_link_to_a_device_is_refused_like_the_device(tmp_path: Path) -> None:
    """The type checked is that of the file the link points to."""
    link = tmp_path / "export.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(UnreadableInputError, match="character device"):
        load([str(link)])


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_device_on_stdin_is_refused(device: str) -> None:
    """`- < /dev/zero` is refused too; a pipe or a file on stdin is still read."""
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    proc, took = run("inspect", "-", stdin_file=device, memory_cap=MEMORY_CAP)
    line = one_error_line(proc)
    assert "<stdin>" in line and "character device" in line
    assert took < QUICK


def test_null_device_on_stdin_is_an_empty_input() -> None:
    """/dev/null on stdin is an empty input, as before, not a refused device."""
    proc, _ = run("inspect", "-")
    assert "<stdin>" in one_error_line(proc) and "empty" in proc.stderr.decode()


def test_socket_input_is_refused(tmp_path: Path) -> None:
    """A Unix socket is named as one."""
    import socket

    path = tmp_path / "s.sock"
    if len(str(path)) > 100:
        pytest.skip("temporary path too long for a Unix socket")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(UnreadableInputError, match="is a socket, not a regular file"):
            load([str(path)])


# --- size limits -------------------------------------------------------------------------------


def test_file_over_the_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    """A file larger than max_bytes is refused before it is read, saying how to raise it."""
    path = _write(tmp_path / "app.jsonl", _log_lines(200))
    with pytest.raises(UnreadableInputError) as info:
        load([str(path)], max_bytes=1000)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "larger than" in message and "1000 bytes" in message
    assert "--max-input-size" in message and MAX_INPUT_ENV in message
    assert len(load([str(path)], max_bytes=1_000_000).logs) == 200


def test_stdin_over_the_limit_is_refused() -> None:
    """A pipe is read a chunk at a time and given up one byte past the limit."""
    proc, took = run("inspect", "-", stdin=_log_lines(500).encode(), env={MAX_INPUT_ENV: "4K"})
    line = one_error_line(proc)
    assert "<stdin>" in line and "larger than 4 KiB (4096 bytes)" in line
    assert took < QUICK


def test_gzip_bomb_is_refused_at_the_limit(tmp_path: Path, bomb: bytes) -> None:
    """Decompression stops when its output passes the limit, not when memory runs out."""
    path = _write(tmp_path / "export.json.gz", bomb)
    started = time.monotonic()
    with pytest.raises(UnreadableInputError) as info:
        load([str(path)], max_bytes=10 * MB)
    assert time.monotonic() - started < QUICK
    assert info.value.path == str(path)
    assert "expands past 10 MiB" in info.value.problem
    assert "--max-input-size" in str(info.value)


def test_gzip_bomb_stays_within_a_memory_cap(tmp_path: Path, bomb: bytes) -> None:
    """The same bomb through the CLI, the limit from the environment, under a 1.5 GB cap."""
    path = _write(tmp_path / "export.json.gz", bomb)
    proc, took = run("inspect", str(path), env={MAX_INPUT_ENV: "10M"}, memory_cap=MEMORY_CAP)
    line = one_error_line(proc)
    assert str(path) in line and "expands past 10 MiB" in line
    assert took < QUICK


def test_double_gzip_bomb_is_refused(tmp_path: Path, bomb: bytes) -> None:
    """A gzip of a bomb (a few hundred bytes) is refused as the inner layer grows."""
    double = gzip.compress(bomb)
    assert len(double) < 10_000
    path = _write(tmp_path / "tiny.gz", double)
    proc, took = run("inspect", str(path), env={MAX_INPUT_ENV: "10M"}, memory_cap=MEMORY_CAP)
    line = one_error_line(proc)
    assert str(path) in line and "expands past 10 MiB" in line
    assert took < QUICK


def test_concatenated_members_share_one_limit(tmp_path: Path, bomb: bytes) -> None:
    """A small first member does not let a second one expand without bound."""
    first = gzip.compress(_log_lines(10).encode())
    path = _write(tmp_path / "logs.gz", first + bomb)
    with pytest.raises(UnreadableInputError, match="expands past 10 MiB"):
        load([str(path)], max_bytes=10 * MB)


def test_concatenated_members_within_the_limit_are_all_read(tmp_path: Path) -> None:
    """gzip(1) reads concatenated members as one file, and so do we."""
    data = gzip.compress(_log_lines(10).encode()) + gzip.compress(_log_lines(5, 10).encode())
    path = _write(tmp_path / "logs.gz", data)
    assert len(load([str(path)]).logs) == 15


def test_layers_of_gzip_count_against_the_limit_together(tmp_path: Path) -> None:
    """Every layer's output counts, and too many layers is a trick, not an export."""
    data = _log_lines(100).encode()
    layered = data
    for _ in range(5):
        layered = gzip.compress(layered)
    with pytest.raises(UnreadableInputError, match="nested more than 4 times"):
        load([str(_write(tmp_path / "five.gz", layered))])
    twice = gzip.compress(gzip.compress(data))
    assert len(load([str(_write(tmp_path / "two.gz", twice))]).logs) == 100


def test_truncated_gzip_is_still_refused(tmp_path: Path) -> None:
    """Streaming decompression still notices a stream that stops short."""
    data = gzip.compress(_log_lines(100).encode())
    with pytest.raises(UnreadableInputError, match="truncated gzip"):
        load([str(_write(tmp_path / "cut.gz", data[: len(data) // 2]))])


def test_read_source_and_load_one_take_the_limit(tmp_path: Path) -> None:
    """Every entry point accepts max_bytes (the CLI's --max-input-size goes there)."""
    path = str(_write(tmp_path / "app.jsonl", _log_lines(50)))
    with pytest.raises(UnreadableInputError, match="larger than"):
        read_source(path, max_bytes=100)
    with pytest.raises(UnreadableInputError, match="larger than"):
        load_one(path, max_bytes=100)
    assert read_source(path, max_bytes=10**6)[1].count(b"\n") == 50


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", MB),
        ("512K", 512 * 1024),
        ("100m", 100 * MB),
        ("4G", 4 * 1024**3),
        ("1.5GiB", 3 * 512 * MB),
        (" 2 MB ", 2 * MB),
    ],
)
def test_size_texts_parse(text: str, size: int) -> None:
    """Bytes, or a number with K, M or G (binary multiples)."""
    assert parse_size(text) == size


def test_limit_comes_from_keyword_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The keyword wins, then the environment, then 4 GiB; nonsense is a usage error."""
    monkeypatch.delenv(MAX_INPUT_ENV, raising=False)
    assert max_input_bytes() == DEFAULT_MAX_INPUT_BYTES == 4 * 1024**3
    monkeypatch.setenv(MAX_INPUT_ENV, "64M")
    assert max_input_bytes() == 64 * MB
    assert max_input_bytes(1000) == 1000
    monkeypatch.setenv(MAX_INPUT_ENV, "lots")
    with pytest.raises(UsageError, match=MAX_INPUT_ENV):
        max_input_bytes()
    monkeypatch.setenv(MAX_INPUT_ENV, "0")
    with pytest.raises(UsageError):
        max_input_bytes()


# --- times out of range ------------------------------------------------------------------------


def _otlp(start: object, end: object) -> dict[str, Any]:
    def span(sid: str, s: object, e: object) -> dict[str, Any]:
        return {
            "traceId": TRACE_ID,
            "spanId": sid,
            "name": "GET /cart",
            "kind": 2,
            "startTimeUnixNano": s,
            "endTimeUnixNano": e,
        }

    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            span("b7ad6b7169203331", str(GOOD_NS), str(GOOD_NS + 10**6)),
                            span("b7ad6b7169203332", start, end),
                        ]
                    }
                ],
            }
        ]
    }


def _jaeger(start: object) -> dict[str, Any]:
    def span(sid: str, s: object) -> dict[str, Any]:
        return {
            "traceID": TRACE_ID,
            "spanID": sid,
            "operationName": "GET /cart",
            "startTime": s,
            "duration": 1000,
            "processID": "p1",
        }

    return {
        "data": [
            {
                "traceID": TRACE_ID,
                "spans": [
                    span("b7ad6b7169203331", GOOD_NS // 1000),
                    span("b7ad6b7169203332", start),
                ],
                "processes": {"p1": {"serviceName": "cart"}},
            }
        ]
    }


def _zipkin(start: object) -> list[dict[str, Any]]:
    def span(sid: str, s: object) -> dict[str, Any]:
        return {
            "traceId": TRACE_ID,
            "id": sid,
            "name": "get /cart",
            "timestamp": s,
            "duration": 1000,
            "localEndpoint": {"serviceName": "cart"},
        }

    return [span("b7ad6b7169203331", GOOD_NS // 1000), span("b7ad6b7169203332", start)]


def _csv(start: str) -> str:
    rows = [
        "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano",
        f"{TRACE_ID},b7ad6b7169203331,,cart-5d9c7b8f6d-x2x9k,GET,{GOOD_NS},{GOOD_NS + 10**6}",
        f"{TRACE_ID},b7ad6b7169203332,,cart-5d9c7b8f6d-x2x9k,GET,{start},{start}",
    ]
    return "\n".join(rows) + "\n"


SPAN_CASES = {
    "otlp-year-9999": json.dumps(_otlp(str(YEAR_9999_NS), str(YEAR_9999_NS + 1))),
    "otlp-2^70-ns": json.dumps(_otlp(str(HUGE_NS), str(HUGE_NS + 5))),
    "otlp-negative": json.dumps(_otlp(-5, 10)),
    "otlp-end-2^64": json.dumps(_otlp(str(GOOD_NS), str(2**64 - 1))),
    "jaeger-year-9999": json.dumps(_jaeger(YEAR_9999_NS // 1000)),
    "jaeger-2^70-ns": json.dumps(_jaeger(HUGE_NS // 1000)),
    "zipkin-year-9999": json.dumps(_zipkin(YEAR_9999_NS // 1000)),
    "zipkin-2^70-ns": json.dumps(_zipkin(HUGE_NS // 1000)),
    "csv-year-9999": _csv(str(YEAR_9999_NS)),
    "csv-2^70-ns": _csv(str(HUGE_NS)),
}


def _assert_counted(bundle: Bundle, what: str) -> None:
    assert any("1970 to 2200" in w and what in w for w in bundle.quality.warnings), (
        bundle.quality.warnings
    )


@pytest.mark.parametrize("case", sorted(SPAN_CASES))
def test_spans_with_impossible_times_are_skipped_and_counted(tmp_path: Path, case: str) -> None:
    """The span with the far-future or negative time is dropped and counted; its sibling stays."""
    path = _write(tmp_path / "export", SPAN_CASES[case])
    bundle = load([str(path)])
    assert [s.span_id for s in bundle.spans] == ["b7ad6b7169203331"]
    assert bundle.quality.skipped >= 1
    assert bundle.inputs[0].records == 1 and bundle.inputs[0].skipped >= 1
    _assert_counted(bundle, "spans skipped")


@pytest.mark.parametrize("case", ["otlp-2^70-ns", "jaeger-year-9999", "csv-2^70-ns"])
def test_diagnose_survives_impossible_span_times(tmp_path: Path, case: str) -> None:
    """The time that used to crash diagnose later (year 39381) never reaches it."""
    path = _write(tmp_path / "export", SPAN_CASES[case])
    proc, _ = run("diagnose", "--no-ai", "--format", "json", str(path))
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert any("1970 to 2200" in w for w in report["data_quality"]["warnings"])


OVERFLOWING = [
    1e30,
    -1e30,
    1e300,
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    -5,
    2**64,
    2**70,
    10**30,
]
SPAN_BUILDERS: dict[str, Callable[[object], object]] = {
    "otlp": lambda v: _otlp(v, v),
    "jaeger": _jaeger,
    "zipkin": _zipkin,
}


@pytest.mark.parametrize("value", OVERFLOWING, ids=str)
@pytest.mark.parametrize("fmt", sorted(SPAN_BUILDERS))
def test_span_times_that_overflow_never_raise(tmp_path: Path, fmt: str, value: object) -> None:
    """Whatever number (or non-number) stands for a time, the reader does not raise, and no
    time outside 1970-2200 reaches the Bundle; the good span always does."""
    path = _write(tmp_path / "export.json", json.dumps(SPAN_BUILDERS[fmt](value)))
    bundle = load([str(path)])
    assert "b7ad6b7169203331" in {s.span_id for s in bundle.spans}
    for span in bundle.spans:
        assert 0 <= span.start_ns <= span.end_ns < LATEST_NS


@pytest.mark.parametrize(
    "value",
    ["NaN", "Infinity", "-Infinity", "1e400", "nan", "inf", "-1"],
)
def test_csv_times_that_overflow_are_skipped_rows(tmp_path: Path, value: str) -> None:
    """float('inf') cannot become an int: the row is skipped, not a crash."""
    bundle = load([str(_write(tmp_path / "spans.csv", _csv(value)))])
    assert [s.span_id for s in bundle.spans] == ["b7ad6b7169203331"]
    assert bundle.quality.skipped == 1


@pytest.mark.parametrize("duration", ["infs", "1e999s", "nans", "-infs"])
def test_jaeger_durations_that_overflow_are_read_as_missing(tmp_path: Path, duration: str) -> None:
    """The gateway form's "1.5s" durations may be nonsense too; the span stays, untimed."""
    doc = _jaeger(GOOD_NS // 1000)
    doc["data"][0]["spans"][1]["duration"] = duration
    bundle = load([str(_write(tmp_path / "jaeger.json", json.dumps(doc)))])
    assert len(bundle.spans) == 2
    assert all(0 <= s.start_ns <= s.end_ns < LATEST_NS for s in bundle.spans)


def test_span_events_with_impossible_times_are_dropped(tmp_path: Path) -> None:
    """An event at 2^70 ns goes; the span and its other events stay."""
    doc = _otlp(str(GOOD_NS), str(GOOD_NS + 10))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["events"] = [
        {"timeUnixNano": str(HUGE_NS), "name": "bad"},
        {"timeUnixNano": str(GOOD_NS + 1), "name": "good"},
    ]
    bundle = load([str(_write(tmp_path / "otlp.json", json.dumps(doc)))])
    events = [e.name for s in bundle.spans for e in s.events]
    assert events == ["good"]
    _assert_counted(bundle, "span events dropped")


LOG_CASES = {
    "jsonl-year-9999": '{"time": "9999-12-31T23:59:59Z", "level": "error", "msg": "bad"}\n',
    "jsonl-2^69-ns": json.dumps({"time": str(2**69), "level": "error", "msg": "bad"}) + "\n",
    "jsonl-int-2^69-ns": json.dumps({"ts": 2**69, "level": "error", "msg": "bad"}) + "\n",
    "text-year-9999": "9999-12-31T23:59:59Z ERROR bad\n",
}


@pytest.mark.parametrize("case", sorted(LOG_CASES))
def test_log_records_with_impossible_times_are_skipped_and_counted(
    tmp_path: Path, case: str
) -> None:
    """The record at year 9999 (or 2^69 ns) is skipped and counted; the others are read."""
    good = (
        "2026-03-02T09:00:00Z ERROR good one\n2026-03-02T09:00:01Z INFO good two\n"
        if case.startswith("text")
        else _log_lines(2)
    )
    path = _write(tmp_path / "app.log", good + LOG_CASES[case])
    bundle = load([str(path)])
    assert len(bundle.logs) == 2
    assert all(r.time_ns is not None and 0 < r.time_ns < LATEST_NS for r in bundle.logs)
    assert bundle.quality.log_lines_skipped == 1
    _assert_counted(bundle, "log records skipped")


@pytest.mark.parametrize("value", [1e30, -5, "NaN", "Infinity", 2**70, 1e300, "1e999"])
def test_log_times_that_overflow_never_raise(tmp_path: Path, value: object) -> None:
    """Numbers no clock can hold become "no time" or a skipped record, never an exception."""
    line = json.dumps({"time": value, "level": "error", "msg": "odd"}) + "\n"
    bundle = load([str(_write(tmp_path / "app.jsonl", _log_lines(2) + line))])
    assert 2 <= len(bundle.logs) <= 3
    assert all(r.time_ns is None or 0 < r.time_ns < LATEST_NS for r in bundle.logs)


@pytest.mark.parametrize("starts", ["9999-12-31T23:59:59Z", str(HUGE_NS), "1e30"])
def test_alert_with_an_impossible_time_keeps_the_alert_with_time_unknown(
    tmp_path: Path, starts: str
) -> None:
    """An alert is not dropped for its time: the time becomes unknown, and that is counted."""
    payload = {
        "receiver": "pager",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "service": "cart"},
                "annotations": {},
                "startsAt": starts,
            },
            {
                "status": "firing",
                "labels": {"alertname": "ErrorRate", "service": "cart"},
                "annotations": {},
                "startsAt": "2026-03-02T09:00:00Z",
            },
        ],
    }
    path = _write(tmp_path / "alert.json", json.dumps(payload))
    bundle = load([], alerts=[str(path)])
    by_name = {a.name: a for a in bundle.alerts}
    assert set(by_name) == {"HighLatency", "ErrorRate"}
    assert by_name["HighLatency"].starts_ns is None
    assert by_name["ErrorRate"].starts_ns == GOOD_NS
    if starts.startswith("9999"):
        # The others are no time at all to the parser; this one parses, then fails the range.
        _assert_counted(bundle, "alert times")
    proc, _ = run("triage", "--format", "json", str(path))
    assert proc.returncode == 0, proc.stderr.decode()


# --- absurd nesting ----------------------------------------------------------------------------

DEEP = b"[" * 100_000


@pytest.mark.parametrize(
    ("flag", "payload"),
    [
        ("", DEEP),
        ("", DEEP + b"]" * 100_000),
        ("", b'{"resourceSpans":' + DEEP),
        ("", b'{"data":' + DEEP),
        ("--logs", DEEP),
        ("--alerts", DEEP),
        ("", gzip.compress(DEEP)),
    ],
    ids=["open", "closed", "otlp", "jaeger", "logs", "alerts", "gzip"],
)
def test_hundred_thousand_levels_of_nesting_exit_2(
    tmp_path: Path, flag: str, payload: bytes
) -> None:
    """100,000 levels of `[`: one line saying the JSON is nested too deeply, no RecursionError."""
    path = _write(tmp_path / "deep.json", payload)
    args = ["diagnose", "--no-ai"]
    args += (
        [flag, str(path), str(_write(tmp_path / "ok.jsonl", _log_lines(3)))]
        if flag
        else [str(path)]
    )
    proc, took = run(*args)
    line = one_error_line(proc)
    assert str(path) in line and "nested too deeply" in line
    assert took < QUICK


def test_hundred_thousand_levels_on_stdin_exit_2() -> None:
    """The same through standard input."""
    proc, _ = run("inspect", "-", stdin=DEEP)
    line = one_error_line(proc)
    assert "<stdin>" in line and "nested too deeply" in line


def test_a_deep_line_among_log_lines_is_read_around(tmp_path: Path) -> None:
    """In JSON Lines, one absurd line is one skipped line."""
    deep = '{"a":' * 100_000
    path = _write(tmp_path / "app.jsonl", _log_lines(3) + deep + "\n" + _log_lines(2, 3))
    bundle = load([str(path)])
    assert len(bundle.logs) == 5
    assert bundle.quality.log_lines_skipped == 1


def _nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


def _deep_value_inputs(depth: int) -> dict[str, tuple[str, str]]:
    """Otherwise valid inputs with one value nested `depth` levels inside: (flag, text)."""
    deep = _nested(depth)
    zipkin = _zipkin(GOOD_NS // 1000)
    zipkin[1]["tags"] = {"deep": deep}
    jaeger = _jaeger(GOOD_NS // 1000)
    jaeger["data"][0]["spans"][1]["tags"] = [{"key": "deep", "value": deep}]
    alert = {
        "receiver": "pager",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "A", "deep": deep},
                "annotations": {"deep": deep},
                "startsAt": "2026-03-02T09:00:00Z",
            }
        ],
    }
    log = json.dumps({"time": "2026-03-02T09:00:00Z", "msg": "x", "deep": deep})
    return {
        "zipkin": ("", json.dumps(zipkin)),
        "jaeger": ("", json.dumps(jaeger)),
        "alert": ("--alerts", json.dumps(alert)),
        "log": ("--logs", _log_lines(2) + log + "\n"),
    }


def _values_in(bundle: Bundle) -> Iterator[Any]:
    for span in bundle.spans:
        yield from span.attributes.values()
        yield from span.resource.values()
    for record in bundle.logs:
        yield from record.fields.values()
    for alert in bundle.alerts:
        yield from alert.labels.values()
        yield from alert.annotations.values()


@pytest.mark.parametrize("depth", [40, *range(900, 1000, 7)])
def test_deep_values_inside_records_are_refused_or_flattened(tmp_path: Path, depth: int) -> None:
    """Near the decoder's own limit a value may decode yet be too deep to walk: either the
    input is refused as too deep, or the value reaches the Bundle as shallow text."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))  # for json.dumps above
    for kind, (flag, text) in _deep_value_inputs(depth).items():
        path = str(_write(tmp_path / f"{kind}.json", text))
        try:
            bundle = (
                load([], alerts=[path])
                if flag == "--alerts"
                else load([], logs=[path])
                if flag == "--logs"
                else load([path])
            )
        except InputError as exc:
            assert "nested too deeply" in str(exc) or isinstance(exc, FormatError), (kind, exc)
            continue
        assert not any(nesting_exceeds(v) for v in _values_in(bundle)), kind


# --- crash-damaged and binary logs -------------------------------------------------------------


def test_log_with_nul_runs_is_read_around_them(tmp_path: Path) -> None:
    """A crash leaves blocks of NUL bytes; the lines around them are read, each hole counted."""
    data = (
        _log_lines(3).encode()
        + b"\x00" * 4096
        + _log_lines(2, 3).encode()
        + b'{"time": "2026-03-02T09:01:00Z", "msg": "cut sho'
        + b"\x00" * 8192
        + _log_lines(2, 5).encode()
    )
    bundle = load([str(_write(tmp_path / "app.jsonl", data))])
    assert [r.message for r in bundle.logs] == [f"payment failed {i}" for i in range(7)]
    assert bundle.quality.log_lines_skipped >= 2
    assert any("unreadable log lines skipped" in w for w in bundle.quality.warnings)


def test_log_starting_with_a_nul_run_is_read(tmp_path: Path) -> None:
    """A file whose first block was never written still has its later lines."""
    data = b"\x00" * 65536 + _log_lines(20).encode()
    bundle = load([str(_write(tmp_path / "app.jsonl", data))])
    assert len(bundle.logs) == 20 and bundle.quality.log_lines_skipped == 1


def test_text_log_with_nul_runs_and_garbage_lines_is_read_around(tmp_path: Path) -> None:
    """Plain text too: binary garbage lines (not even UTF-8) are skipped, the rest read."""
    good = "".join(f"2026-03-02T09:00:{i:02d}Z ERROR request {i} failed\n" for i in range(20))
    garbage = bytes(range(128, 256)) + b"\x01\x02\x03\n"
    data = good[:200].encode() + b"\x00" * 1000 + garbage + good[200:].encode() + garbage
    bundle = load([], logs=[str(_write(tmp_path / "app.log", data))])
    assert len(bundle.logs) >= 18
    assert bundle.quality.log_lines_skipped >= 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: os.urandom(256 * 1024),
        lambda: b"\x89PNG\r\n\x1a\n" + os.urandom(64 * 1024),
        lambda: b"\x00" * 100_000,
        lambda: b"[" + os.urandom(64 * 1024),
        lambda: b"  {" + os.urandom(64 * 1024),
    ],
    ids=["random", "png", "all-nul", "bracket-then-noise", "brace-then-noise"],
)
def test_mostly_binary_files_are_still_refused(tmp_path: Path, make: Callable[[], bytes]) -> None:
    """Decided by the share of good lines: noise with no good lines is binary, exit 2."""
    path = _write(tmp_path / "blob.dat", make())
    with pytest.raises(InputError) as info:
        load([str(path)])
    assert info.value.path == str(path)
    assert "binary" in info.value.problem or "UTF-8" in info.value.problem


def test_urandom_bytes_through_the_cli_exit_2(tmp_path: Path) -> None:
    """Random bytes in a regular file: one line, exit 2."""
    path = _write(tmp_path / "noise.json", os.urandom(1 * MB))
    proc, took = run("inspect", str(path))
    assert str(path) in one_error_line(proc)
    assert took < QUICK


# --- half-readable directories ------------------------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    (root / "locked").mkdir(parents=True)
    (root / "open").mkdir()
    _write(root / "open" / "app.jsonl", _log_lines(4))
    _write(root / "locked" / "more.jsonl", _log_lines(3))
    _write(root / "top.jsonl", _log_lines(2, 10))
    return root


def test_unreadable_subfolder_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that cannot be listed (simulated: the tests may run as root) is skipped."""
    root = _folder(tmp_path)
    real = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    bundle = load([str(root)])
    assert len(bundle.logs) == 6
    assert any("locked" in w and "Permission denied" in w for w in bundle.quality.warnings)


def test_unreadable_file_in_a_folder_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be opened is one warning; the rest of the folder is read."""
    root = _folder(tmp_path)
    real = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == "more.jsonl":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    bundle = load([str(root)])
    assert len(bundle.logs) == 6
    assert any("more.jsonl" in w and "permission denied" in w for w in bundle.quality.warnings)


def test_folder_with_nothing_readable_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only when nothing at all can be read is the folder itself an error."""
    root = tmp_path / "export"
    (root / "locked").mkdir(parents=True)
    real = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(UnreadableInputError) as info:
        load([str(root)])
    assert info.value.path == str(root) and "nothing readable" in info.value.problem


def test_unlistable_folder_given_directly_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder named on the command line itself cannot be listed: that is the error."""
    root = _folder(tmp_path)

    def scandir(path: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(UnreadableInputError, match="cannot list directory"):
        load([str(root)])


def test_special_files_and_links_inside_a_folder(tmp_path: Path) -> None:
    """Links to regular files are followed (even outside); FIFOs, links to devices, links to
    folders and broken links are skipped with a warning each, without blocking."""
    outside = _write(tmp_path / "outside.jsonl", _log_lines(5, 20))
    root = _folder(tmp_path)
    (root / "to-outside.jsonl").symlink_to(outside)
    (root / "to-zero").symlink_to("/dev/zero")
    (root / "to-folder").symlink_to(tmp_path)
    (root / "broken").symlink_to(tmp_path / "nowhere")
    os.mkfifo(root / "pipe.jsonl")
    # In a child process: a regression that opened the FIFO would block, not fail.
    proc, took = run("inspect", "--format", "json", str(root))
    assert proc.returncode == 0, proc.stderr.decode()
    assert took < QUICK
    report = json.loads(proc.stdout)
    for name, reason in [
        ("to-zero", "is a character device, not a regular file"),
        ("to-folder", "link to a directory, not followed"),
        ("broken", "broken symbolic link"),
        ("pipe.jsonl", "is a FIFO, not a regular file"),
    ]:
        assert any(name in w and reason in w for w in report["warnings"]), (name, report)
    read = sorted(Path(i["path"]).name for i in report["inputs"])
    assert read == ["app.jsonl", "more.jsonl", "to-outside.jsonl", "top.jsonl"]
    assert report["logs"] == 4 + 3 + 2 + 5


def test_empty_folder_is_still_an_empty_input(tmp_path: Path) -> None:
    """Nothing inside at all is the old EmptyInputError."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyInputError, match="empty directory"):
        load([str(tmp_path / "empty")])


def test_running_out_of_memory_while_reading_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A limit above the machine's memory still ends in exit 2 naming the input (simulated)."""
    from incident.ingest import sources

    def exhausted(*args: object) -> bytes:
        raise MemoryError

    path = _write(tmp_path / "big.gz", gzip.compress(b"{}"))
    monkeypatch.setattr(sources, "_inflate", exhausted)
    with pytest.raises(UnreadableInputError, match="does not fit in memory") as info:
        load([str(path)])
    assert info.value.path == str(path) and MAX_INPUT_ENV in str(info.value)
