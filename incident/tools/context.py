"""What the tools read, built once and on first use: the assessment (the same deterministic
`assess` the report came from), the per-window aggregates, trace lookup, mined log
templates, and the name lookups that turn an asker's argument into a known service,
operation or trace (or a one-line "not found" naming what is known).
"""

from __future__ import annotations

from functools import cached_property

from incident.analysis.assess import Assessment, assess
from incident.analysis.config import AnalysisConfig
from incident.analysis.logs import TemplateStats, mine
from incident.analysis.signals import WindowStats
from incident.analysis.trees import SpanTable
from incident.model import Bundle
from incident.redact import Redactor
from incident.report import Report
from incident.tools.ledger import Ledger
from incident.tools.stats import Aggregates, aggregate


class NotFound(LookupError):
    """Nothing answers the question (unknown service, trace, id); the message is one line."""


class Context:
    def __init__(
        self,
        bundle: Bundle,
        report: Report,
        redactor: Redactor,
        baseline: Bundle | None,
        ledger: Ledger,
        assessment: Assessment | None = None,
    ) -> None:
        if assessment is not None:
            self.a = assessment  # the one the report was written from: no second assess
        self.bundle = bundle
        self.baseline = baseline
        self.report = report
        self.redactor = redactor
        self.ledger = ledger

    @cached_property
    def a(self) -> Assessment:
        return assess(self.bundle, self.baseline, AnalysisConfig())

    @cached_property
    def inc(self) -> Aggregates:
        return aggregate(self.a.inc)

    @cached_property
    def base(self) -> Aggregates | None:
        return aggregate(self.a.base) if self.a.base is not None else None

    @cached_property
    def templates(self) -> list[TemplateStats]:
        base_logs = self.baseline.logs if self.baseline is not None else []
        start = self.a.change.start_ns if self.a.change else None
        return mine(self.bundle.logs, base_logs, start)

    @cached_property
    def _traces(self) -> dict[str, tuple[WindowStats, int]]:
        """Trace id -> (the window it belongs to, its index in that window's table)."""
        out: dict[str, tuple[WindowStats, int]] = {}
        windows = [w for w in (self.a.inc, self.a.base) if w is not None]
        for ws in windows:
            ids = ws.table.trace_ids
            for k in ws.traces:
                out.setdefault(ids[k].lower(), (ws, k))
        return out

    # -- lookups ---------------------------------------------------------------------------

    def restore(self, value: str) -> str:
        """An argument as the data has it: placeholders this run handed out mapped back."""
        return self.redactor.restore(value).strip()

    def services(self) -> list[str]:
        names = set(self.inc.services) | {k[1] for k in self.inc.edges}
        if self.base is not None:
            names |= set(self.base.services) | {k[1] for k in self.base.edges}
        return sorted(names)

    def service(self, name: str) -> str:
        want = self.restore(name)
        known = self.services()
        if want in known:
            return want
        folded = {s.lower(): s for s in known}
        if want.lower() in folded:
            return folded[want.lower()]
        raise NotFound(f"no service named {name!r}; known: {_few(known)}")

    def operation(self, service: str, name: str) -> str:
        want = self.restore(name)
        ops = {op for svc, op in self.inc.ops if svc == service}
        if self.base is not None:
            ops |= {op for svc, op in self.base.ops if svc == service}
        if want in ops:
            return want
        folded = {o.lower(): o for o in ops}
        if want.lower() in folded:
            return folded[want.lower()]
        if not ops:
            raise NotFound(
                f"{service} has no spans of its own (an uninstrumented dependency): "
                "compare_edge or call_pattern with it as the callee"
            )
        raise NotFound(
            f"{service} has no operation named {name!r}; its operations: {_few(sorted(ops))}"
        )

    def trace(self, trace_id: str) -> tuple[SpanTable, int, bool]:
        """(table, trace index, whether it is in the baseline window)."""
        want = self.restore(trace_id).lower()
        found = self._traces.get(want)
        if found is None:
            raise NotFound(f"no trace with id {trace_id!r} in the incident or baseline window")
        ws, k = found
        return ws.table, k, ws is not self.a.inc


def _few(names: list[str], n: int = 12) -> str:
    shown = ", ".join(names[:n])
    more = len(names) - n
    return (shown + (f" and {more} more" if more > 0 else "")) or "none"
