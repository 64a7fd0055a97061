"""Log mining: repeated messages grouped into templates (numbers, ids, addresses and quoted
strings masked), counted per window, with what is new or surging in the incident flagged."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from incident.model import LogRecord
from incident.text import clip

# Variable parts, masked in this order: redaction placeholders, e-mails, values of
# key=value pairs, UUIDs, addresses, quoted strings, long tokens mixing letters and digits
# (request ids, keys), hex ids, numbers with their units.
_MASKS = (
    re.compile(r"<[a-z][a-z0-9_-]{0,30}:\d{1,9}>"),
    re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}"),
    re.compile(r"(?<=[\w.-]=)[^\s,;&)\]}]{1,200}"),
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    re.compile(r"\"[^\"]*\"|'[^']*'"),
    re.compile(r"\b(?=[\w-]{0,80}\d)(?=[\w-]{0,80}[A-Za-z])[\w-]{16,80}\b"),
    re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b"),
    re.compile(r"(?<![A-Za-z])[-+]?\d+(?:\.\d+)?(?:ms|s|µs|us|ns|%|MB|KB|GB)?\b"),
)


# Terminal output that is no message: progress bars and spinners.
_BAR = re.compile(r"[█▉▊▋▌▍▎▏▓▒░#=>\-|]{6,}|\d{1,3}%\s*\|")


def template_of(message: str) -> str:
    """The message with its variable parts replaced by <*>."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for rx in _MASKS:
        text = rx.sub("<*>", text)
    # Masks next to each other are one variable part.
    text = re.sub(r"(?:<\*>[\s:/._-]{0,2}){2,}", "<*> ", text).rstrip()
    return clip(text, 240)


def is_junk(template: str) -> bool:
    """Progress meters and spinners: mostly bar characters and masked numbers, no words."""
    words = re.findall(r"[A-Za-z]{3,}", template.replace("<*>", " "))
    return bool(_BAR.search(template)) and len(words) <= 2


@dataclass
class TemplateStats:
    template: str
    count: int = 0
    baseline_count: int = 0
    level: str | None = None
    services: set[str] = field(default_factory=set)
    first_ns: int | None = None
    last_ns: int | None = None
    example: str = ""
    example_ref: int = -1  # index into the incident logs

    @property
    def error_like(self) -> bool:
        return (self.level or "") in ("ERROR", "FATAL", "WARN")


def mine(
    logs: Sequence[LogRecord], baseline: Sequence[LogRecord], incident_start: int | None
) -> list[TemplateStats]:
    """Templates of the incident window, with the baseline count of the same template.

    `logs` before `incident_start` count as baseline when no separate baseline is given."""
    cache: dict[str, str] = {}
    stats: dict[str, TemplateStats] = {}

    def key_of(msg: str) -> str:
        k = cache.get(msg)
        if k is None:
            k = cache[msg] = template_of(msg)
        return k

    for rec in baseline:
        k = key_of(rec.message)
        st = stats.get(k)
        if st is None:
            st = stats[k] = TemplateStats(k)
        st.baseline_count += 1
    for idx, rec in enumerate(logs):
        k = key_of(rec.message)
        st = stats.get(k)
        if st is None:
            st = stats[k] = TemplateStats(k)
        if incident_start is not None and rec.time_ns is not None and rec.time_ns < incident_start:
            st.baseline_count += 1
            continue
        st.count += 1
        if rec.level and (st.level is None or _rank(rec.level) > _rank(st.level)):
            st.level = rec.level
        if rec.service:
            st.services.add(rec.service)
        t = rec.time_ns
        if t is not None:
            if st.first_ns is None or t < st.first_ns:
                st.first_ns = t
            if st.last_ns is None or t > st.last_ns:
                st.last_ns = t
        if st.example_ref < 0:
            st.example, st.example_ref = clip(rec.message, 300), idx
    return [s for s in stats.values() if s.count]


def surge(st: TemplateStats, ratio: float) -> float | None:
    """Incident rate over baseline rate (ratio = incident duration / baseline duration)."""
    if not st.baseline_count:
        return None
    return st.count / (st.baseline_count * ratio) if ratio > 0 else None


def _rank(level: str) -> int:
    return {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}.get(level, 2)
