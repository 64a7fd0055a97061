"""Log levels from every convention seen in the wild, normalised to the six the model uses:
TRACE DEBUG INFO WARN ERROR FATAL.
"""

from __future__ import annotations

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")

_NAMES = {
    "trace": "TRACE",
    "finest": "TRACE",
    "finer": "TRACE",
    "verbose": "TRACE",
    "debug": "DEBUG",
    "dbg": "DEBUG",
    "fine": "DEBUG",
    "config": "DEBUG",
    "info": "INFO",
    "inf": "INFO",
    "information": "INFO",
    "informational": "INFO",
    "notice": "INFO",
    "default": "INFO",
    "log": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "wrn": "WARN",
    "error": "ERROR",
    "err": "ERROR",
    "eror": "ERROR",
    "severe": "ERROR",
    "failure": "ERROR",
    "dpanic": "ERROR",
    "critical": "FATAL",
    "crit": "FATAL",
    "fatal": "FATAL",
    "panic": "FATAL",
    "alert": "FATAL",
    "emerg": "FATAL",
    "emergency": "FATAL",
    # glog / klog single-letter prefixes, and Serilog's short names.
    "t": "TRACE",
    "d": "DEBUG",
    "i": "INFO",
    "w": "WARN",
    "e": "ERROR",
    "f": "FATAL",
    "c": "FATAL",
    "vrb": "TRACE",
    "ftl": "FATAL",
}
# Syslog priorities 0..7 (emerg..debug), as journald's PRIORITY and GELF's level carry them.
_SYSLOG = ("FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")


def level_from_name(text: str) -> str | None:
    """The normalised level for a level word ("warning", "E", "Information"), else None."""
    key = text.strip().lower()
    found = _NAMES.get(key)
    if found is None and key.startswith("severity_number_"):
        # OTLP enum names: SEVERITY_NUMBER_WARN2 and the like.
        found = _NAMES.get(key[16:].rstrip("0123456789"))
    return found


def level_from_otlp_number(number: int) -> str | None:
    """OTLP SeverityNumber: 1-4 TRACE, 5-8 DEBUG, ..., 21-24 FATAL; 0 means unset."""
    if 1 <= number <= 24:
        return LEVELS[(number - 1) // 4]
    return None


def level_from_syslog_number(number: int) -> str | None:
    """Syslog priority 0 (emergency) .. 7 (debug)."""
    if 0 <= number <= 7:
        return _SYSLOG[number]
    return None


def level_from_number(number: int) -> str | None:
    """A bare numeric `level`: pino/bunyan use 10..60 in steps of ten, OTLP uses 1..24."""
    if number >= 10 and number % 10 == 0:
        return LEVELS[min(number // 10, 6) - 1]
    return level_from_otlp_number(number)


def level_from_value(value: object) -> str | None:
    """The normalised level for a level field of any JSON type."""
    if isinstance(value, str):
        found = level_from_name(value)
        if found is None and value.isdigit():
            return level_from_number(int(value))
        return found
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return level_from_number(value)
    if isinstance(value, float) and value.is_integer():
        return level_from_number(int(value))
    return None
