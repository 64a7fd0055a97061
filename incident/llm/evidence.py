"""Evidence ids as the model cites them, read tolerantly.

The digest's ids are `E<digits>`; an investigation's tools add `T<digits>` (pass
`prefixes="ET"`). Models also write `" E3"`, `"e3"`, `"[E3]"`, `"E03"` or
`"see E4242"`; each id in such a string with at most MAX_ID_DIGITS digits is normalised to
`E<n>`. Anything else (`"E-three"`, an empty string, a 5,000-digit id) is kept as a short,
one-line label so it can be flagged as unknown: never shown as fact, never a crash.
"""

from __future__ import annotations

import re
from functools import cache

MAX_ID_DIGITS = 6
# How much of one label is kept when it is flagged.
MAX_LABEL = 32
# How much of one citation string is searched for ids: a citation is short.
_SCAN = 2_000

_SPACE = re.compile(r"\s+")
_NORMAL = re.compile(rf"([A-Z])(\d{{1,{MAX_ID_DIGITS}}})")


def label(text: str) -> str:
    """One short line: whitespace and control characters collapsed, long text cut."""
    flat = _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in text[:200])).strip()
    if len(flat) > MAX_LABEL or len(text) > 200:
        flat = flat[: MAX_LABEL - 1] + "…"
    return flat or "(empty)"


@cache
def _patterns(prefixes: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(citation pattern, prose pattern) for ids starting with one of `prefixes`."""
    upper = re.escape(prefixes.upper())
    both = re.escape(prefixes.upper() + prefixes.lower())
    return (
        re.compile(rf"(?<![0-9A-Za-z_])([{both}])(\d+)(?![0-9A-Za-z_])"),
        re.compile(rf"\b([{upper}])(\d+)\b"),
    )


def _one(prefix: str, digits: str) -> str | None:
    return f"{prefix.upper()}{int(digits)}" if len(digits) <= MAX_ID_DIGITS else None


def read_citation(raw: str, prefixes: str = "E") -> tuple[list[str], list[str]]:
    """(normalised ids, labels of what could not be read) for one cited string."""
    ids: list[str] = []
    bad: list[str] = []
    for m in _patterns(prefixes)[0].finditer(raw[:_SCAN]):
        found = _one(m.group(1), m.group(2))
        if found is None:
            bad.append(label(m.group(0)))
        elif found not in ids:
            ids.append(found)
    if not ids and not bad:
        bad.append(label(raw))
    return ids, bad


def ids_in_prose(text: str, prefixes: str = "E") -> tuple[list[str], list[str]]:
    """(ids, labels of over-long ids) mentioned in free text, in order of appearance."""
    ids: list[str] = []
    bad: list[str] = []
    for m in _patterns(prefixes)[1].finditer(text):
        found = _one(m.group(1), m.group(2))
        if found is None:
            bad.append(label(m.group(0)))
        elif found not in ids:
            ids.append(found)
    return ids, bad


def sort_key(item: str) -> tuple[int, int, str]:
    """Normalised ids by prefix (E first) and number, then labels alphabetically."""
    m = _NORMAL.fullmatch(item)
    if m is None:
        return (1, 0, item)
    rank = 0 if m.group(1) == "E" else 10 ** (MAX_ID_DIGITS + 1)
    return (0, rank + int(m.group(2)), m.group(1))
