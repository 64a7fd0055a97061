"""Evidence ids for what the tools return: the report's own ids (E1..) where a tool shows the
same span, log line or alert, new ones (T1, T2, ...) for anything else.

A call proposes ids while it builds its answer; only those still cited once the answer has
been cut to size are kept, so every kept id was shown to the asker and ids stay contiguous
(answers are cut from the end, and ids are proposed in the order items are written).
Evidence text and references are redacted when they are recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from incident.analysis.evidence import Kind
from incident.redact import Redactor
from incident.report import Evidence

_CITED = re.compile(r'"([ET]\d{1,6})"')
_TEXT_CHARS = 300


class Ledger:
    def __init__(self, report_evidence: Iterable[Evidence], redactor: Redactor) -> None:
        self._redactor = redactor
        self._report: dict[str, Evidence] = {}
        self._by_ref: dict[tuple[str, str], str] = {}
        for item in report_evidence:
            self._report[item.id] = item
            if item.kind != "stat":
                self._by_ref.setdefault((item.kind, item.ref), item.id)
        self._made: list[Evidence] = []
        self._last = 0  # the number of the last kept tool id
        self._pending: list[tuple[str, Kind, str, str]] = []

    def propose(self, kind: Kind, ref: str, text: str) -> str:
        """The id for this reference: the report's or an existing tool id, else a new one
        that is kept only if the answer still cites it (see `settle`)."""
        key = (kind, ref if kind != "stat" else text)
        found = self._by_ref.get(key)
        if found is not None:
            return found
        for eid, k, r, x in self._pending:
            if (k, r if k != "stat" else x) == key:
                return eid
        eid = f"T{self._last + len(self._pending) + 1}"
        self._pending.append((eid, kind, ref, text))
        return eid

    def settle(self, content: str) -> tuple[str, ...]:
        """Keep the proposed ids `content` cites, drop the rest; the ids it cites, in order."""
        cited = list(dict.fromkeys(_CITED.findall(content)))
        wanted = set(cited)
        red = self._redactor
        for eid, kind, ref, text in self._pending:
            if eid not in wanted:
                continue
            item = Evidence(
                id=eid,
                kind=kind,
                ref=red.redact_then_truncate(ref, _TEXT_CHARS),
                text=red.redact_then_truncate(text, _TEXT_CHARS),
            )
            self._made.append(item)
            self._last = max(self._last, int(eid[1:]))
            self._by_ref[(kind, ref if kind != "stat" else text)] = eid
        self._pending.clear()
        known = self.known()
        return tuple(e for e in cited if e in known)

    def discard(self) -> None:
        self._pending.clear()

    def made(self) -> list[Evidence]:
        return list(self._made)

    def known(self) -> set[str]:
        return set(self._report) | {e.id for e in self._made}

    def get(self, eid: str) -> Evidence | None:
        """One item, from the report (raw: redact before showing) or made here (redacted)."""
        if eid in self._report:
            return self._report[eid]
        return next((e for e in self._made if e.id == eid), None)
