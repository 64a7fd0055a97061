"""What every trace reader shares: the size caps on attribute values, the name for a span
without a service, the tally of what a reader read around, integer coercion, GC pausing and
JSON Lines iteration.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from incident.model import Bundle

# Longer attribute strings are cut (real stack traces stay whole, a 5 MB blob does not).
MAX_ATTR_CHARS = 16 * 1024
# Deeper nested attribute values are stringified rather than walked.
MAX_VALUE_DEPTH = 16
UNKNOWN_SERVICE = "unknown_service"
# String values up to this length are interned (enum-like values: methods, hosts, routes
# repeat on every span); longer ones (URLs with ids, messages) are rarely repeated exactly.
INTERN_CHARS = 64


class Tally:
    """What a reader read around, turned into counters and warnings at the end."""

    __slots__ = (
        "bad_ids",
        "bad_spans",
        "duplicates",
        "name",
        "repaired",
        "self_parent",
        "truncated",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.bad_ids = 0
        self.bad_spans = 0
        self.repaired = 0
        self.self_parent = 0
        self.truncated = 0
        self.duplicates = 0

    def cut(self, text: str) -> str:
        """`text`, longer than MAX_ATTR_CHARS, cut to that length and counted."""
        self.truncated += 1
        return text[:MAX_ATTR_CHARS] + "…"

    def apply(self, bundle: Bundle) -> None:
        q = bundle.quality
        q.skipped += self.bad_ids + self.bad_spans
        q.repaired += self.repaired + self.self_parent + self.truncated
        q.duplicates += self.duplicates
        n = self.name
        if self.duplicates:
            q.warn(f"{n}: {self.duplicates} duplicate span records dropped")
        if self.bad_ids:
            q.warn(f"{n}: {self.bad_ids} spans skipped: missing or invalid trace/span id")
        if self.bad_spans:
            q.warn(f"{n}: {self.bad_spans} spans skipped: fields of the wrong type or bad bytes")
        if self.repaired:
            q.warn(f"{n}: {self.repaired} spans repaired: end before start or bad timestamps")
        if self.self_parent:
            q.warn(f"{n}: {self.self_parent} spans named themselves as parent (made roots)")
        if self.truncated:
            q.warn(f"{n}: {self.truncated} attribute values cut to {MAX_ATTR_CHARS} characters")


def to_int(value: object) -> int | None:
    """An integer from an int, a decimal string or an integral float; None otherwise."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                f = float(value)
            except ValueError:
                return None
            return int(f) if f == f and abs(f) < 1e30 else None
    if isinstance(value, float) and value == value and abs(value) < 1e30:
        return int(value)
    return None


class Paused:
    """GC off for a block: decoding allocates millions of objects and has no cycles."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def iter_lines(data: bytes) -> Iterator[tuple[int, memoryview]]:
    """(line number, line) of JSON Lines bytes without copying the buffer; blank lines are
    left out but counted, so the numbers are the file's."""
    view = memoryview(data)
    pos, lineno, size = 0, 0, len(data)
    while pos < size:
        lineno += 1
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = size
        line = view[pos:nl]
        pos = nl + 1
        if bytes(line[:64]).strip() or (len(line) > 64 and bytes(line).strip()):
            yield lineno, line
