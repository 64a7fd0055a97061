"""The bounds every reader's output keeps, checked in one place rather than in each reader:
times between 1970 and 2200, and JSON values nested only a few levels deep.

A year-9999 or 2^70-nanosecond time is corruption, not a moment: let through, it would crash
whatever formats it later. Values nested hundreds of levels deep would do the same to
whatever walks them, so they are written out as (cut) JSON text instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import msgspec

from incident.model import Bundle, InputInfo

# The first instant after the last plausible year, 2200.
LATEST_NS = int(datetime(2201, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
TIME_RANGE = "the years 1970 to 2200"
# Containers deeper than this inside one attribute or field are kept as JSON text.
MAX_NESTING = 16
TOO_DEEP = "<nested too deeply>"
# How a reader says a whole document is beyond the decoder's depth.
NESTED_TOO_DEEPLY = "JSON nested too deeply"

_start = attrgetter("start_ns")
_end = attrgetter("end_ns")


def plausible_ns(ns: int) -> bool:
    """A time between 1970 and 2200; 0 (no time, as the readers write it) also passes."""
    return 0 <= ns < LATEST_NS


# --- times ---------------------------------------------------------------------------------


def screen_times(bundle: Bundle, name: str) -> None:
    """Drop spans and log records whose times are outside 1970-2200, forget such alert
    times (the alert stays, its time unknown), and count all of it."""
    q = bundle.quality
    if bundle.spans:
        dropped, events = _screen_spans(bundle)
        if dropped:
            q.skipped += dropped
            q.warn(f"{name}: {dropped} spans skipped: times outside {TIME_RANGE}")
            _recount(bundle.inputs, "traces", len(bundle.spans))
        if events:
            q.repaired += events
            q.warn(f"{name}: {events} span events dropped: times outside {TIME_RANGE}")
    if bundle.logs:
        dropped = _screen_logs(bundle)
        if dropped:
            q.log_lines_skipped += dropped
            q.warn(f"{name}: {dropped} log records skipped: times outside {TIME_RANGE}")
            _recount(bundle.inputs, "logs", len(bundle.logs))
    cleared = 0
    for alert in bundle.alerts:
        if alert.starts_ns is not None and not 0 < alert.starts_ns < LATEST_NS:
            alert.starts_ns = None
            cleared += 1
        if alert.ends_ns is not None and not 0 < alert.ends_ns < LATEST_NS:
            alert.ends_ns = None
            cleared += 1
    if cleared:
        q.repaired += cleared
        q.warn(f"{name}: {cleared} alert times outside {TIME_RANGE} read as unknown")


def _screen_spans(bundle: Bundle) -> tuple[int, int]:
    """(spans dropped, events dropped). A million spans pass the C-speed check at once."""
    spans = bundle.spans
    if not (
        min(map(_start, spans)) >= 0
        and min(map(_end, spans)) >= 0
        and max(map(_start, spans)) < LATEST_NS
        and max(map(_end, spans)) < LATEST_NS
    ):
        kept = [s for s in spans if plausible_ns(s.start_ns) and plausible_ns(s.end_ns)]
        dropped = len(spans) - len(kept)
        bundle.spans = spans = kept
    else:
        dropped = 0
    events = 0
    for span in spans:
        if span.events and not all(plausible_ns(e.time_ns) for e in span.events):
            good = tuple(e for e in span.events if plausible_ns(e.time_ns))
            events += len(span.events) - len(good)
            span.events = good
    return dropped, events


def _screen_logs(bundle: Bundle) -> int:
    times = [t for t in map(attrgetter("time_ns"), bundle.logs) if t is not None]
    if not times or (min(times) > 0 and max(times) < LATEST_NS):
        return 0
    kept = [r for r in bundle.logs if r.time_ns is None or 0 < r.time_ns < LATEST_NS]
    dropped = len(bundle.logs) - len(kept)
    bundle.logs = kept
    return dropped


def _recount(inputs: list[InputInfo], kind: str, records: int) -> None:
    """The input's record count after some were dropped (one input's bundle has one each)."""
    infos = [i for i in inputs if i.kind == kind]
    if len(infos) == 1:
        info = infos[0]
        info.skipped += max(info.records - records, 0)
        info.records = records


# --- nesting -------------------------------------------------------------------------------


def nesting_exceeds(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether lists and dicts inside `value` go deeper than `limit` levels (no recursion)."""
    if type(value) is not list and type(value) is not dict:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if type(item) is dict else item
        for child in children:
            if type(child) is list or type(child) is dict:
                stack.append((child, depth + 1))
    return False


def json_text(value: Any, limit: int) -> str:
    """`value` as JSON text of at most `limit` characters, whatever its depth."""
    try:
        encoded = msgspec.json.encode(value)
    except RecursionError:
        return TOO_DEEP
    except (TypeError, ValueError, OverflowError):
        return str(type(value).__name__)
    return encoded[: limit * 4].decode("utf-8", "ignore")[:limit]


def shallow(value: Any, limit: int) -> Any:
    """A list or dict as it is if it is shallow, else as (cut) JSON text; other values pass."""
    if nesting_exceeds(value):
        return json_text(value, limit)
    return value


def safe_str(value: Any, limit: int) -> str:
    """str(value) cut to `limit` characters; a value too deep to print says so instead."""
    try:
        return str(value)[:limit]
    except RecursionError:
        return TOO_DEEP
