"""Plain-text log lines: kubectl output, syslog, Apache, HDFS, glog/klog, BGL, OpenStack,
logfmt and anything that starts with an ISO time. The time and level are parsed where a line
has them; the rest of the line is the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from incident.ingest.logs.levels import level_from_name
from incident.ingest.logs.records import MAX_FIELD_CHARS, record_from_object
from incident.ingest.logs.timestamps import NS, civil_ns, fraction_ns, month_number, search_iso
from incident.model import LogRecord

# What a parser learns from one line: time, level, message, and extra pieces.
Parsed = tuple[int | None, str | None, str, dict[str, Any]]
LineParser = Callable[[str, "TextContext"], Parsed | None]

_SYSLOG = re.compile(
    r"(?:<\d{1,3}>)?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? "
    r"(\S+) ([^\s:\[]+)(?:\[(\d+)\])?: ?(.*)"
)
_CTIME_BRACKET = re.compile(
    r"\[\w{3} (\w{3}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\d{4})\] \[([^\]]+)\] ?(.*)"
)
_HDFS = re.compile(r"(\d\d)(\d\d)(\d\d) (\d\d)(\d\d)(\d\d) (\d+) ([A-Z]+) (.*)")
_GLOG = re.compile(
    r"([IWEFD])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s+(\d+) ([^\]\s]+)\] ?(.*)"
)
_BGL = re.compile(
    r"(\S+) (\d{9,10}) \d{4}\.\d\d\.\d\d (\S+) \d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.(\d+) \S+ "
    r"(\S+) (\S+) ([A-Z]+) ?(.*)"
)
_CLF = re.compile(
    r"(\S+) \S+ (\S+) \[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d+))? ([+-]\d{4})\] "
    r'"([^"]*)" (\d{3}) (.*)'
)
_LOGFMT_START = re.compile(r'[\w.\-/@]+=(?:"|\S)')
_LOGFMT_PAIR = re.compile(r'([\w.\-/@]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
# kubectl logs --prefix: "[pod/<pod>/<container>] ".
_KUBECTL_PREFIX = re.compile(r"\[pod/([^/\]]+)/([^\]]+)\] ?")
_STRIP = "[]():|,<>-*"
_TOKEN = re.compile(r"\S+")


class TextContext:
    """Per-file state: the year assumed for year-less times, and which parser fits best."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.yearless = 0
        self.last_month = 0
        # Move-to-front: the parser that matched last is tried first on the next line.
        # The anchored dialects go before the ISO search, which could find a time in a message.
        self.parsers: list[LineParser] = [
            _syslog_line,
            _ctime_bracket_line,
            _hdfs_line,
            _glog_line,
            _bgl_line,
            _clf_line,
            _iso_line,
        ]


def is_garbage(line: str) -> bool:
    """Binary noise or mis-decoded bytes, not a log line."""
    if line.isprintable():
        return False
    bad = sum(1 for ch in line if (ch < " " and ch != "\t") or ch in "\x7f\ufffd")
    return "\x00" in line or bad * 10 > len(line)


def parse_line(line: str, source: str, ctx: TextContext) -> LogRecord:
    """One text line as a LogRecord; a line nothing recognises is kept whole as the message."""
    pod = container = None
    m = _KUBECTL_PREFIX.match(line)
    if m:
        pod, container = m.group(1), m.group(2)
        line = line[m.end() :]
    parsed = None
    if _LOGFMT_START.match(line) and (parsed_lf := _logfmt_line(line, source)) is not None:
        record = parsed_lf
    else:
        for i, parser in enumerate(ctx.parsers):
            parsed = parser(line, ctx)
            if parsed is not None:
                if i:
                    ctx.parsers.insert(0, ctx.parsers.pop(i))
                break
        if parsed is None:
            parsed = (None, _leading_level(line), line.strip(), {})
        time_ns, level, message, extra = parsed
        embedded = _embedded_json(message, source, time_ns)
        if embedded is not None:
            embedded.instance = embedded.instance or extra.get("instance")
            embedded.service = embedded.service or extra.get("service")
            return _with_pod(embedded, pod, container)
        record = LogRecord(
            time_ns=time_ns,
            level=level,
            message=message[:MAX_FIELD_CHARS],
            service=extra.pop("service", None),
            instance=extra.pop("instance", None),
            fields=extra,
            source=source,
        )
    return _with_pod(record, pod, container)


def _with_pod(record: LogRecord, pod: str | None, container: str | None) -> LogRecord:
    if pod:
        record.instance = record.instance or pod
        record.service = record.service or container
    return record


def _embedded_json(message: str, source: str, time_ns: int | None) -> LogRecord | None:
    """`kubectl logs --timestamps` puts its time in front of the app's own JSON line."""
    if not (message.startswith("{") and message.endswith("}")):
        return None
    try:
        obj = msgspec.json.decode(message)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    record = record_from_object(obj, source)
    if record is not None and record.time_ns is None:
        record.time_ns = time_ns
    return record


def _logfmt_line(line: str, source: str) -> LogRecord | None:
    pairs = _LOGFMT_PAIR.findall(line)
    if len(pairs) < 2:
        return None
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        obj.setdefault(key, value)
    keys = obj.keys()
    if not ({"msg", "message", "level", "lvl", "ts", "time"} & keys):
        return None
    return record_from_object(obj, source)


def _leading_level(text: str) -> str | None:
    """A level word among the first tokens, written as levels are ("ERROR", "[warn]"), or
    opening the message with a colon ("error: ...", as sshd and many C programs write)."""
    for k, token in enumerate(text.split(None, 4)[:4]):
        core = token.strip(_STRIP)
        prefix = k == 0 and token.endswith(":")
        if len(core) >= 3 and (core.isupper() or token[0] in "[(<" or prefix):
            found = level_from_name(core)
            if found:
                return found
    return None


def _year_for(ctx: TextContext, month: int) -> int:
    """The assumed year, moved on when a year-less log runs from December into January."""
    ctx.yearless += 1
    if month < ctx.last_month - 6:
        ctx.year += 1
    ctx.last_month = month
    return ctx.year


def _iso_line(line: str, ctx: TextContext) -> Parsed | None:
    found = search_iso(line[:120])
    # A line's own time comes first, after at most a short prefix (a file name, a level);
    # a time further in is part of the message.
    if found is None or found[1] > 48:
        return None
    ns, start, end = found
    extra: dict[str, Any] = {}
    before = line[:start].strip()
    after = line[end:]
    level = None
    message_from = 0
    context: list[str] = []
    for i, m in enumerate(_TOKEN.finditer(after)):
        if i == 4:
            break
        token = m.group()
        core = token.strip(_STRIP)
        if len(core) >= 3 and (core.isupper() or token[0] in "[(<"):
            level = level_from_name(core)
            if level:
                message_from = m.end()
                break
        if core:
            context.append(core)
    if level is None:
        level = _leading_level(before) if before else None
        message = after.strip()
    else:
        message = after[message_from:].lstrip(" \t-:|")
        if context and context[0].isdigit():
            extra["pid"] = context.pop(0)
        if context:
            extra["logger"] = " ".join(context)
    if before and level_from_name(before.strip(_STRIP)) is None:
        extra["prefix"] = before
    return ns, level, message or line.strip(), extra


def _syslog_line(line: str, ctx: TextContext) -> Parsed | None:
    m = _SYSLOG.match(line)
    if m is None:
        return None
    mon, day, hh, mm, ss, frac, host, app, pid, message = m.groups()
    month = month_number(mon)
    if month is None:
        return None
    year = _year_for(ctx, month)
    ns = civil_ns(year, month, int(day), int(hh), int(mm), int(ss), fraction_ns(frac))
    extra: dict[str, Any] = {"instance": host, "service": app}
    if pid:
        extra["pid"] = pid
    return ns, _leading_level(message), message, extra


def _ctime_bracket_line(line: str, ctx: TextContext) -> Parsed | None:
    m = _CTIME_BRACKET.match(line)
    if m is None:
        return None
    mon, day, hh, mm, ss, frac, year, level_text, message = m.groups()
    month = month_number(mon)
    if month is None:
        return None
    ns = civil_ns(int(year), month, int(day), int(hh), int(mm), int(ss), fraction_ns(frac))
    # Apache 2.4 writes "[module:level]".
    level = level_from_name(level_text.rsplit(":", 1)[-1])
    return ns, level, message, {}


def _hdfs_line(line: str, ctx: TextContext) -> Parsed | None:
    m = _HDFS.match(line)
    if m is None:
        return None
    yy, mo, dd, hh, mi, ss, pid, level_text, message = m.groups()
    level = level_from_name(level_text)
    if level is None:
        return None
    ns = civil_ns(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss))
    if ns is None:
        return None
    return ns, level, message, {"pid": pid}


def _glog_line(line: str, ctx: TextContext) -> Parsed | None:
    m = _GLOG.match(line)
    if m is None:
        return None
    letter, mo, dd, hh, mi, ss, frac, pid, caller, message = m.groups()
    year = _year_for(ctx, int(mo))
    ns = civil_ns(year, int(mo), int(dd), int(hh), int(mi), int(ss), fraction_ns(frac))
    if ns is None:
        return None
    return ns, level_from_name(letter), message, {"pid": pid, "caller": caller}


def _bgl_line(line: str, ctx: TextContext) -> Parsed | None:
    m = _BGL.match(line)
    if m is None:
        return None
    label, epoch, node, micros, kind, component, level_text, message = m.groups()
    level = level_from_name(level_text)
    if level is None:
        return None
    # The epoch column is UTC; the spelled-out time beside it is local, so only its
    # microseconds are taken.
    ns = int(epoch) * NS + fraction_ns(micros[:6].rjust(6, "0"))
    extra: dict[str, Any] = {"instance": node, "service": component.lower(), "type": kind}
    if label != "-":
        extra["alert_label"] = label
    return ns, level, message, extra


def _clf_line(line: str, ctx: TextContext) -> Parsed | None:
    m = _CLF.match(line)
    if m is None:
        return None
    client, _user, dd, mon, yyyy, hh, mi, ss, frac, zone, request, status, rest = m.groups()
    month = month_number(mon)
    if month is None:
        return None
    offset = (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60) * (-1 if zone[0] == "-" else 1)
    ns = civil_ns(int(yyyy), month, int(dd), int(hh), int(mi), int(ss), fraction_ns(frac), offset)
    code = int(status)
    level = "ERROR" if code >= 500 else "INFO"
    extra: dict[str, Any] = {"client": client, "http.status_code": code, "request": request}
    return ns, level, f'{client} "{request}" {status} {rest}'.rstrip(), extra
