"""Property tests: whatever JSON lines or text arrive, the log reader either reads them or
raises an InputError subclass (exit 2) naming the file — never a crash.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.errors import InputError
from incident.ingest import logs
from incident.model import LogRecord

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(
    [
        "msg",
        "message",
        "event",
        "level",
        "severity",
        "severityNumber",
        "time",
        "ts",
        "timestamp",
        "@timestamp",
        "trace_id",
        "traceId",
        "span_id",
        "log",
        "service",
        "labels",
        "line",
        "resourceLogs",
        "scopeLogs",
        "logRecords",
        "body",
        "attributes",
        "jsonPayload",
        "textPayload",
        "logging.googleapis.com/trace",
        "data",
        "resultType",
        "result",
        "stream",
        "values",
        "entries",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["streams", "2026-03-02T09:00:00Z", "ERROR", "projects/p/traces/ab", "AAAA"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


@SETTINGS
@given(JSON_VALUES)
def test_log_read_of_one_json_document_raises_only_input_errors(value: Any) -> None:
    """One JSON document, pretty-printed as exports are, reads as logs or fails cleanly."""
    _read_or_input_error(json.dumps(value, indent=2))


@SETTINGS
@given(st.lists(JSON_VALUES, max_size=6))
def test_log_read_of_json_lines_raises_only_input_errors(values: list[Any]) -> None:
    """Arbitrary JSON values one per line read as logs or fail as an InputError."""
    text = "\n".join(json.dumps(v) for v in values)
    _read_or_input_error(text)


@SETTINGS
@given(st.text(max_size=400))
def test_log_read_of_arbitrary_text_raises_only_input_errors(text: str) -> None:
    """Any text at all: records, or an InputError naming the file."""
    _read_or_input_error(text)


TEXTISH = st.lists(
    st.sampled_from(
        [
            "2026-03-02T09:00:00Z ",
            "Dec 10 06:55:46 host app[1]: ",
            "[Sun Dec 04 04:47:44 2005] [error] ",
            "081109 203615 148 INFO ",
            "E0302 09:00:00.1 1 f.go:1] ",
            "level=error msg=",
            '{"msg":',
            '{"level":30,"time":1}',
            "[pod/a/b] ",
            "ERROR ",
            '"',
            "=",
            "\x00",
            "\ufffd",
            "\n",
            " ",
            "99999999999999999999",
            "2026-13-45T99:99:99Z",
        ]
    )
    | st.text(max_size=10),
    max_size=20,
).map("".join)


@SETTINGS
@given(TEXTISH)
def test_log_read_of_log_like_fragments_raises_only_input_errors(text: str) -> None:
    """Fragments of real dialects glued at random still read or fail cleanly."""
    _read_or_input_error(text)


def _read_or_input_error(text: str) -> None:
    assert logs.sniff(text[:65536]) in (None, *logs.FORMATS)
    try:
        bundle = logs.read(text, "input.log", year=2026)
    except InputError as exc:
        assert exc.path == "input.log"
        return
    info = bundle.inputs[0]
    assert info.records == len(bundle.logs) > 0
    assert all(isinstance(r, LogRecord) for r in bundle.logs)
    assert all(
        r.level in (None, "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL") for r in bundle.logs
    )
    if info.format == "text":
        # The line count holds for text: every non-empty line is a record or skipped; a line
        # cut by a run of NULs (a crash's hole) counts the hole as skipped and each piece.
        assert info.records + info.skipped == sum(map(_line_units, text.split("\n")))


def _line_units(line: str) -> int:
    if not line.strip():
        return 0
    if "\x00\x00" not in line:
        return 1
    return 1 + sum(1 for piece in re.split("\x00{2,}", line) if piece.strip())
