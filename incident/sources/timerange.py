"""Time windows for live sources, from the command line's words: `--since 30m`,
`--from 2026-11-29T21:00:00Z --to ...` (RFC 3339), and the same for the baseline.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from incident.errors import UsageError

_NS = 10**9
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)([smhdw]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


@dataclass(frozen=True)
class Window:
    """[start, end) in nanoseconds since the Unix epoch."""

    start_ns: int
    end_ns: int

    def shifted(self, delta_ns: int) -> Window:
        return Window(self.start_ns + delta_ns, self.end_ns + delta_ns)

    def text(self) -> str:
        return f"{rfc3339(self.start_ns, 0)} to {rfc3339(self.end_ns, 0)}"


def now_ns() -> int:
    return time.time_ns()


def last(length_ns: int, end_ns: int | None = None) -> Window:
    """The window of `length_ns` ending now (or at `end_ns`)."""
    end = now_ns() if end_ns is None else end_ns
    return Window(end - length_ns, end)


def parse_duration(text: str, flag: str) -> int:
    """Nanoseconds in "30m", "1h30m", "2d", "90s", "1w"."""
    raw = text.strip().lower()
    if not _DURATION.fullmatch(raw):
        raise UsageError(f"{flag} {text!r} is not a duration: give e.g. 30m, 2h, 1h30m or 1d")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))
    if seconds <= 0:
        raise UsageError(f"{flag} {text!r}: the duration must be positive")
    return int(seconds * _NS)


def parse_time(text: str, flag: str) -> int:
    """Nanoseconds for an RFC 3339 time with a zone ("2026-11-29T21:00:00Z", "...+02:00")."""
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise UsageError(
            f"{flag} {text!r} is not an RFC 3339 time: give e.g. 2026-11-29T21:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise UsageError(f"{flag} {text!r} has no time zone: add Z (UTC) or an offset (+02:00)")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * _NS + delta.microseconds * 1000


def window(
    since: str | None, start: str | None, end: str | None, *, prefix: str = ""
) -> Window | None:
    """The window the flags name; None when none was given. `prefix` is "baseline-"."""
    f_since, f_from, f_to = f"--{prefix}since", f"--{prefix}from", f"--{prefix}to"
    if since is not None and (start is not None or end is not None):
        raise UsageError(f"give {f_since} or {f_from}/{f_to}, not both")
    if since is not None:
        return last(parse_duration(since, f_since))
    if start is None:
        if end is not None:
            raise UsageError(f"{f_to} needs {f_from}")
        return None
    begin = parse_time(start, f_from)
    finish = parse_time(end, f_to) if end is not None else now_ns()
    if finish <= begin:
        raise UsageError(f"{f_from} must be before {f_to or 'now'}")
    return Window(begin, finish)


def baseline_window(
    since: str | None, start: str | None, end: str | None, incident: Window
) -> Window | None:
    """The baseline's own window: --baseline-since D is the D just before the incident
    window starts; --baseline-from/--baseline-to name it outright."""
    if since is not None and (start is not None or end is not None):
        raise UsageError("give --baseline-since or --baseline-from/--baseline-to, not both")
    if since is not None:
        length = parse_duration(since, "--baseline-since")
        return Window(incident.start_ns - length, incident.start_ns)
    return window(None, start, end, prefix="baseline-")


def rfc3339(ns: int, digits: int = 9) -> str:
    """UTC RFC 3339 with `digits` fractional digits (0: whole seconds)."""
    seconds, frac = divmod(ns, _NS)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        stamp += "." + f"{frac:09d}"[:digits]
    return stamp + "Z"
