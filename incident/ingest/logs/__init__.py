"""Log readers: JSON Lines, JSON arrays, OTLP logs JSON, Loki exports and plain-text lines,
sniffed from their content and mapped to LogRecords, bad lines skipped and counted.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from incident.errors import EmptyInputError, FormatError
from incident.ingest.logs import loki, otlp
from incident.ingest.logs.records import record_from_object
from incident.ingest.logs.text import TextContext, is_garbage, parse_line
from incident.model import Bundle, InputInfo, LogRecord

__all__ = ["read", "sniff"]

# What `sniff` may answer besides None.
FORMATS = ("otlp-logs", "jsonl", "json-array", "loki", "text")
EXPECTED = "JSON Lines, a JSON array of log records, OTLP logs JSON or text log lines"
_SNIFF_LINES = 200
_COLUMN = re.compile(r"[A-Za-z_][\w.()/-]*")
_LOG_KEYS = ('"message"', '"msg"', '"level"', '"severity"', '"@timestamp"', '"textPayload"')
_SPAN_MARKERS = ('"localEndpoint"', '"resourceSpans"', '"spans"', '"parentSpanId"', '"duration"')
# Runs of NUL bytes: what a crash leaves where the file was allocated but not written.
_NUL_RUN = re.compile("\x00{2,}")


def sniff(text_head: str) -> str | None:
    """The log format of a file from its first ~64 KB of text, or None if it is not logs."""
    head = _without_nul_runs(text_head).lstrip("\ufeff \t\r\n")
    if not head or _looks_binary(head[:4096]):
        return None
    first = head[0]
    if first == "[" and head[1:].lstrip()[:1] in ("{", "]"):
        return _sniff_array(head)
    lines = [line for line in head.split("\n", _SNIFF_LINES + 1)[:_SNIFF_LINES] if line.strip()]
    # The last line of a cut-off head may be cut too: it does not vote.
    complete = lines[:-1] if len(lines) > 1 and not head.endswith("\n") else lines
    if first == "{":
        decoded = _decode_line(lines[0])
        if decoded is None and _first_objects(complete[:5]) == 0:
            return _sniff_document(head)
        if isinstance(decoded, dict) and loki.is_streams_response(decoded):
            return "loki"  # a query_range answer on one line, as curl saves it
    if '"resourceLogs"' in head and first == "{":
        return "otlp-logs"
    json_logs = text_lines = garbage = stamped = 0
    ctx = TextContext(2000)
    for line in complete:
        stripped = line.strip()
        if stripped[0] == "{":
            obj = _decode_line(stripped)
            if isinstance(obj, dict):
                if loki.is_logcli_line(obj) or record_from_object(obj, "") is not None:
                    json_logs += 1
                continue
        if is_garbage(stripped):
            garbage += 1
        else:
            text_lines += 1
            record = parse_line(stripped, "", ctx)
            stamped += record.time_ns is not None or record.level is not None
    if json_logs and json_logs >= text_lines:
        return "jsonl"
    if first == "{" and not text_lines:
        return None
    # Text is logs when lines carry times or levels; a README or a CSV is not.
    if stamped and stamped * 5 >= text_lines and garbage * 2 <= text_lines:
        return None if _looks_like_csv(lines[0]) else "text"
    return None


_DAY_NS = 86_400 * 10**9


def read(text: str, name: str, *, year: int | None = None) -> Bundle:
    """LogRecords from the text of one log file, with an InputInfo saying what it was.

    `year` is assumed for lines whose time has none (syslog, glog); by default this year.
    Raises EmptyInputError for an empty file and FormatError when nothing is a log record.
    """
    if not text.strip():
        raise EmptyInputError(name, "empty log file", EXPECTED)
    head = text[:65536]
    fmt = sniff(head)
    if fmt is None:
        # Read on purpose (--logs): any text will do, only binary is refused.
        start = _without_nul_runs(head).lstrip("\ufeff \t\r\n")
        json_like = start[:1] == "{" or (start[:1] == "[" and start[1:].lstrip()[:1] in "{[]")
        if json_like or _looks_binary(start[:4096]):
            raise FormatError(name, "not a log file", EXPECTED)
        fmt = "text"
    assumed = year if year is not None else _dt.datetime.now(_dt.UTC).year
    ctx = TextContext(assumed)
    notes: list[str] = []
    stripped = text.lstrip("\ufeff \t\r\n")
    if fmt in ("json-array", "loki") or (fmt != "text" and not _first_line_decodes(stripped)):
        records, skipped, other = _read_document(stripped, name, ctx)
    else:
        records, skipped, other = _read_lines(text, name, ctx, strict_json=fmt != "text")
    if other:
        notes.append(f"{other} lines hold traces or metrics, not logs")
    if ctx.yearless and year is None:
        now_ns = _dt.datetime.now(_dt.UTC).timestamp() * 1e9
        if any(r.time_ns and r.time_ns > now_ns + _DAY_NS for r in records):
            # This year would put them in the future: they were written last year.
            again = read(text, name, year=assumed - 1)
            again.quality.warn(
                f"{name}: {ctx.yearless} lines carry no year; {assumed - 1} assumed, as "
                f"{assumed} would put them in the future"
            )
            return again
    if ctx.yearless:
        notes.append(f"{ctx.yearless} lines carry no year; {assumed} assumed")
    if not records:
        if skipped:
            raise FormatError(name, f"no usable log records ({skipped} unreadable)", EXPECTED)
        raise EmptyInputError(name, "no log records", EXPECTED)
    bundle = Bundle(logs=records)
    bundle.inputs.append(
        InputInfo(
            path=name, kind="logs", format=fmt, records=len(records), skipped=skipped, notes=notes
        )
    )
    if skipped:
        bundle.quality.log_lines_skipped = skipped
        bundle.quality.warn(f"{name}: {skipped} unreadable log lines skipped")
    return bundle


def _read_lines(
    text: str, name: str, ctx: TextContext, *, strict_json: bool
) -> tuple[list[LogRecord], int, int]:
    decode = msgspec.json.Decoder().decode
    records: list[LogRecord] = []
    append = records.append
    skipped = other = 0
    lines: Iterable[tuple[int, str]] = enumerate(text.split("\n"), 1)
    if "\x00\x00" in text:
        lines, skipped = _around_nul_runs(text)
    for lineno, raw in lines:
        line = raw.strip()
        if not line:
            continue
        source = f"{name}:{lineno}"
        if line[0] == "{":
            try:
                obj = decode(line)
            except (msgspec.DecodeError, RecursionError):
                if strict_json:
                    skipped += 1
                    continue
            else:
                if type(obj) is not dict:
                    skipped += 1
                    continue
                found, bad, is_other = _object_records(obj, source, ctx)
                if is_other and strict_json:
                    other += 1
                elif not found:
                    # Not a log record, or an OTLP batch with none inside.
                    skipped += 1
                else:
                    records.extend(found)
                    # In a text file `skipped` counts lines; elsewhere bad OTLP parts count too.
                    skipped += bad if strict_json else 0
                continue
        if is_garbage(line):
            skipped += 1
            continue
        append(parse_line(line, source, ctx))
    return records, skipped, other


def _object_records(
    obj: dict[str, Any], source: str, ctx: TextContext
) -> tuple[list[LogRecord] | None, int, bool]:
    """(records, or None if `obj` is not a log; unusable parts; whether it is another signal)."""
    if "resourceLogs" in obj or "resource_logs" in obj:
        found, bad = otlp.records_from_request(obj, source)
        return found, bad, False
    if "resourceSpans" in obj or "resourceMetrics" in obj or "resourceProfiles" in obj:
        return None, 0, True
    if "line" in obj and loki.is_logcli_line(obj):
        record = loki.record_from_logcli(obj, source, ctx)
    else:
        record = record_from_object(obj, source)
    return (None if record is None else [record]), 0, False


def _read_document(text: str, name: str, ctx: TextContext) -> tuple[list[LogRecord], int, int]:
    try:
        doc = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise FormatError(name, f"malformed JSON: {exc}", EXPECTED) from exc
    items: list[Any]
    if isinstance(doc, dict):
        if loki.is_streams_response(doc):
            found, bad = loki.records_from_streams(doc, name, ctx)
            return found, bad, 0
        entries = doc.get("entries")
        # GCP's entries.list response wraps the records.
        items = entries if isinstance(entries, list) and "resourceLogs" not in doc else [doc]
    elif isinstance(doc, list):
        items = doc
    else:
        raise FormatError(name, f"a JSON {type(doc).__name__}, not log records", EXPECTED)
    records: list[LogRecord] = []
    skipped = other = 0
    for i, item in enumerate(items):
        source = f"{name}:[{i}]" if len(items) > 1 or isinstance(doc, list) else name
        if not isinstance(item, dict):
            skipped += 1
            continue
        got, bad, is_other = _object_records(item, source, ctx)
        if is_other:
            other += 1
        elif not got:
            skipped += max(bad, 1)
        else:
            records.extend(got)
            skipped += bad
    return records, skipped, other


def _without_nul_runs(text: str) -> str:
    """NUL runs (the holes a crash leaves) as line breaks, so what follows one is a line."""
    return _NUL_RUN.sub("\n", text) if "\x00\x00" in text else text


def _around_nul_runs(text: str) -> tuple[list[tuple[int, str]], int]:
    """(line number, piece) of every line, lines cut by NUL runs split into their pieces;
    and how many lines held such a run (each counts as one unreadable line)."""
    out: list[tuple[int, str]] = []
    holes = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if "\x00\x00" not in line:
            out.append((lineno, line))
            continue
        holes += 1
        out.extend((lineno, piece) for piece in _NUL_RUN.split(line) if piece.strip())
    return out, holes


def _first_line_decodes(text: str) -> bool:
    """Whether the first line is a JSON value (or, cut by a NUL run, one of its pieces is)."""
    nl = text.find("\n")
    first = text if nl < 0 else text[:nl]
    return any(_decode_line(piece) is not None for piece in _NUL_RUN.split(first))


def _decode_line(line: str) -> Any:
    try:
        return msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError):
        # Absurd nesting is not a log line; msgspec signals its depth limit this way.
        return None


def _first_objects(lines: list[str]) -> int:
    return sum(1 for line in lines if isinstance(_decode_line(line.strip()), dict))


def _looks_binary(sample: str) -> bool:
    """Mostly noise: most lines are control characters or undecodable bytes, or (one line)
    a tenth of it is. A few garbage lines among log lines do not count."""
    lines = [line.strip() for line in sample.split("\n") if line.strip()]
    if len(lines) > 1:
        return sum(map(is_garbage, lines)) * 2 > len(lines)
    bad = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n\f") or ch == "\ufffd")
    return bad * 10 > len(sample)


def _looks_like_csv(line: str) -> bool:
    """A header row such as RCA datasets write in their trace CSVs: comma-separated column names."""
    cells = line.strip().split(",")
    return len(cells) >= 2 and all(_COLUMN.fullmatch(cell.strip('"')) for cell in cells)


def _sniff_document(head: str) -> str | None:
    """One JSON object over many lines: OTLP logs, a Loki query response or GCP entries."""
    if '"resourceLogs"' in head:
        return "otlp-logs"
    compact = head[:4096].replace(" ", "")
    if '"resultType":"streams"' in compact:
        return "loki"
    if '"entries":[' in compact and any(k in compact for k in _LOG_KEYS):
        return "json-array"
    return None


def _sniff_array(head: str) -> str | None:
    """A JSON array is logs when its first object reads as a log record and not as a span."""
    try:
        doc = msgspec.json.decode(head)
    except (msgspec.DecodeError, RecursionError):
        doc = None
    if isinstance(doc, list):
        objs = [item for item in doc[:50] if isinstance(item, dict)]
        if not objs:
            return None
        if any("resourceLogs" in o for o in objs):
            return "otlp-logs"
        if any(any(k in o for k in otlp.OTHER_SIGNAL_KEYS) for o in objs):
            return None
        hits = sum(
            1 for o in objs if loki.is_logcli_line(o) or record_from_object(o, "") is not None
        )
        return "json-array" if hits * 2 > len(objs) and not _span_like(objs[0]) else None
    if doc is not None:
        return None
    # Cut off at 64 KB: judge by the keys of the first object.
    first = head[:4096]
    if any(marker in first for marker in _SPAN_MARKERS):
        return None
    return "json-array" if any(k in first for k in _LOG_KEYS) else None


def _span_like(obj: dict[str, Any]) -> bool:
    """Zipkin and Jaeger spans have times and names too; their ids and durations give them away."""
    return ("traceId" in obj or "traceID" in obj) and (
        "duration" in obj or "localEndpoint" in obj or "spans" in obj or "parentId" in obj
    )
