"""Numbered evidence (E1..En) that root causes, timeline events and the model's answer cite."""

from __future__ import annotations

from typing import Literal

from incident.report import Evidence

Kind = Literal["span", "log", "alert", "stat"]


class EvidenceLog:
    """Hands out ids in order of first mention; the same reference gets the same id."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[Evidence] = []
        self._by_ref: dict[tuple[str, str], str] = {}

    def add(self, kind: Kind, ref: str, text: str) -> str | None:
        """The id for this reference, or None once the limit is reached."""
        key = (kind, ref if kind != "stat" else text)
        found = self._by_ref.get(key)
        if found:
            return found
        if len(self.items) >= self.limit:
            return None
        eid = f"E{len(self.items) + 1}"
        self.items.append(Evidence(id=eid, kind=kind, ref=ref, text=text[:300]))
        self._by_ref[key] = eid
        return eid
