"""Logs and alerts without traces: the report frames the time they cover and says what the
candidate rests on, never "0 failures" of a service that is named for its log lines."""

from __future__ import annotations

from incident.analysis import diagnose
from incident.model import Bundle, LogRecord

S = 1_000_000_000
T0 = 1_742_280_000 * S  # 2025-03-18T06:40:00Z


def _logs() -> list[LogRecord]:
    """Two files' worth, read one after the other: the second file's records are earlier,
    and the first and last lines carry no time."""
    first_file = [LogRecord(None, "INFO", "starting", service="checkout")]
    first_file += [
        LogRecord(T0 + k * S, "INFO", f"request {k} completed", service="checkout")
        for k in range(5)
    ]
    second_file = [
        LogRecord(T0 - 3600 * S + k * S, "ERROR", "fetch failed", service="backend")
        for k in range(3)
    ]
    second_file.append(LogRecord(None, "INFO", "shutting down", service="backend"))
    return first_file + second_file


def test_the_window_spans_every_timed_record() -> None:
    report = diagnose(Bundle(logs=_logs()))
    assert report.window.start == "2025-03-18T05:40:00.000Z"
    assert report.window.end == "2025-03-18T06:40:04.000Z"


def test_a_candidate_named_for_its_log_lines_says_so() -> None:
    report = diagnose(Bundle(logs=_logs()))
    assert report.verdict.status == "inconclusive"
    first = report.root_causes[0]
    assert first.service == "backend"
    assert "0 failures" not in first.summary
    assert first.summary.startswith("Named by the records that were read (3 warning or error")
