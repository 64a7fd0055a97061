"""Wall-clock times as logs and alert payloads write them, turned into integer nanoseconds
since the Unix epoch (UTC). A time without a zone is taken as UTC.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

NS = 1_000_000_000

# RFC 3339 and its common relatives: a space instead of "T", a comma before the fraction
# (Python logging), an offset without a colon ("+0000", CloudWatch), or no zone at all.
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
    r"\s*(?:([Zz])|(?:UTC|GMT)|([+-])(\d\d):?(\d\d)?)?"
)
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
# Epoch numbers are told apart by magnitude: seconds until the year 5138, then ms, µs, ns.
_MS_FROM = 100_000_000_000
_US_FROM = 100_000_000_000_000
_NS_FROM = 100_000_000_000_000_000


def month_number(name: str) -> int | None:
    """1..12 for an English month name or its three-letter abbreviation."""
    return _MONTHS.get(name[:3].lower())


@lru_cache(maxsize=4096)
def _day_ns(year: int, month: int, day: int) -> int | None:
    """Nanoseconds at midnight UTC of a civil date (cached: logs repeat the same days)."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1 <= year <= 9999):
        return None
    # Days from civil (Howard Hinnant): exact for the proleptic Gregorian calendar.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 * NS


def civil_ns(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    frac_ns: int = 0,
    offset_s: int = 0,
) -> int | None:
    """Nanoseconds for a civil date and time at a UTC offset; None if the date is impossible."""
    base = _day_ns(year, month, day)
    if base is None or hour > 24 or minute > 59 or second > 60:
        return None
    return base + ((hour * 60 + minute) * 60 + second - offset_s) * NS + frac_ns


def fraction_ns(digits: str | None) -> int:
    """Nanoseconds for the digits after a decimal point (extra precision is dropped)."""
    if not digits:
        return 0
    return int(digits[:9].ljust(9, "0"))


def parse_iso(text: str) -> int | None:
    """Nanoseconds for an RFC 3339-like time at the start of `text`, else None."""
    if len(text) >= 19 and text[10] in "T ":
        try:
            # The C parser is many times faster than the regex; it stops at microseconds.
            dt = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            day = _day_ns(dt.year, dt.month, dt.day)
            if day is not None:
                offset = dt.utcoffset()
                ns = (
                    day
                    + ((dt.hour * 60 + dt.minute) * 60 + dt.second) * NS
                    + dt.microsecond * 1000
                    - (int(offset.total_seconds()) * NS if offset else 0)
                )
                return ns + _sub_micro_ns(text)
    m = _ISO.match(text)
    if m is None:
        return None
    return _iso_match_ns(m)


def _sub_micro_ns(text: str) -> int:
    """The 7th-9th fractional digits that datetime drops ("...00.123456789Z" -> 789)."""
    if len(text) > 26 and text[19] in ".,":
        end = 20
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - 20 > 6:
            return int(text[26 : min(end, 29)].ljust(3, "0"))
    return 0


def search_iso(text: str) -> tuple[int, int, int] | None:
    """(ns, start, end) of the first RFC 3339-like time anywhere in `text`."""
    m = _ISO.search(text)
    if m is None:
        return None
    ns = _iso_match_ns(m)
    if ns is None:
        return None
    return ns, m.start(), m.end()


def _iso_match_ns(m: re.Match[str]) -> int | None:
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = m.groups()
    offset = 0
    if sign:
        offset = int(off_h) * 3600 + int(off_m or 0) * 60
        if sign == "-":
            offset = -offset
    return civil_ns(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second or 0),
        fraction_ns(frac),
        offset,
    )


def epoch_to_ns(value: float) -> int | None:
    """Nanoseconds for an epoch number in seconds, ms, µs or ns (told apart by size)."""
    if value != value or value <= 0:  # NaN or not after the epoch
        return None
    if value >= 1e21:
        return None
    if value < _MS_FROM:
        unit = NS
    elif value < _US_FROM:
        unit = 1_000_000
    elif value < _NS_FROM:
        unit = 1000
    else:
        return int(value)
    if isinstance(value, int):
        return value * unit
    # A float epoch holds about microsecond precision: keep the whole part exact and round
    # the fraction to whole microseconds, so 1772442000.25 is exactly .250000000 s.
    whole = int(value)
    micros = round((value - whole) * unit / 1000)
    return whole * unit + micros * 1000


def parse_time(value: object) -> int | None:
    """Nanoseconds for any time value a log or alert carries, or None when there is none.

    Accepts epoch numbers (any unit), numeric strings, RFC 3339-like strings and
    `{"seconds": s, "nanos": n}` objects (protobuf Timestamp as JSON).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return epoch_to_ns(value) if value < 1 << 70 else None
    if isinstance(value, float):
        return epoch_to_ns(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[0].isdigit() and ":" not in text and "-" not in text[1:] and _is_number(text):
            return epoch_to_ns(float(text) if "." in text or "e" in text else int(text))
        return parse_iso(text)
    if isinstance(value, dict):
        seconds = value.get("seconds")
        if isinstance(seconds, int | str) and not isinstance(seconds, bool):
            try:
                whole = int(seconds)
                nanos = int(value.get("nanos") or 0)
            except (TypeError, ValueError):
                return None
            return whole * NS + nanos if whole > 0 else None
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
