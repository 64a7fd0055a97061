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


def test_without_traces_the_timeline_starts_at_the_first_error_line() -> None:
    """The earliest error-level message marks where the records start to go wrong; INFO
    lines, however early, do not."""
    logs = _logs()
    logs.append(LogRecord(T0 - 1800 * S, "ERROR", "disk quota exceeded", service="checkout"))
    report = diagnose(Bundle(logs=logs))
    firsts = [e for e in report.timeline if e.event.startswith("First error in the logs")]
    assert [(e.time, e.source) for e in firsts] == [("2025-03-18T05:40:00.000Z", "log")]
    assert firsts[0].event == "First error in the logs: backend: fetch failed"
    quiet = [r for r in logs if r.level != "ERROR"]
    assert not diagnose(Bundle(logs=quiet)).timeline
