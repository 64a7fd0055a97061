"""Bounded, redacted, read-only queries over the assessed evidence, for Claude's tool use
(`diagnose --investigate`, `ask`) and for MCP clients (`incident mcp`).

`Toolbox(bundle, report, redactor)` answers `call(name, arguments)` with compact JSON:
arguments checked against the tool's schema, every string passed through the run's
redactor (the digest's placeholders), the answer cut at an item boundary to `max_chars`
with `"omitted": N` saying what was left out, and the evidence it shows cited by id (the
report's E ids, or new T ids, see `evidence()`). Bad input never raises: it comes back as an
answer with `is_error` set and a one-line reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from incident.analysis.assess import Assessment
from incident.model import Bundle
from incident.redact import Redactor
from incident.report import Evidence, Report
from incident.tools.context import Context, NotFound
from incident.tools.fit import clip_text, fit
from incident.tools.ledger import Ledger
from incident.tools.schema import ArgumentError, check
from incident.tools.specs import DEFINITIONS, Definition

__all__ = ["ToolAnswer", "ToolSpec", "Toolbox", "tool_specs"]

# Smallest cap that still holds a useful answer; asked for less, the toolbox uses this.
MIN_CHARS = 200


@dataclass(frozen=True)
class ToolSpec:
    name: str  # snake_case, e.g. "list_operations"
    description: str  # one or two sentences for the model
    input_schema: dict[str, Any]  # JSON Schema object, closed (additionalProperties: false)


@dataclass(frozen=True)
class ToolAnswer:
    content: str  # compact JSON (or one line for an error), redacted, at most the cap
    is_error: bool = False
    evidence_ids: tuple[str, ...] = ()  # ids cited in content (report E.., tool T..)


def tool_specs() -> list[ToolSpec]:
    """The tools' specs (they do not depend on the data): fresh copies, safe to change."""
    return [
        ToolSpec(d.name, d.description, json.loads(json.dumps(d.input_schema))) for d in DEFINITIONS
    ]


class Toolbox:
    """The tools over one assessed bundle and its raw report (see the module docstring)."""

    def __init__(
        self,
        bundle: Bundle,
        report: Report,
        redactor: Redactor,
        *,
        baseline: Bundle | None = None,
        max_chars: int = 4000,
        assessment: Assessment | None = None,
    ) -> None:
        self.max_chars = max(MIN_CHARS, max_chars)
        self._redactor = redactor
        self._ledger = Ledger(report.evidence, redactor)
        self._ctx = Context(bundle, report, redactor, baseline, self._ledger, assessment)
        self._by_name: dict[str, Definition] = {d.name: d for d in DEFINITIONS}

    def specs(self) -> list[ToolSpec]:
        return tool_specs()

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> ToolAnswer:
        """One tool's answer; unknown tools, bad arguments and empty results are errors."""
        found = self._by_name.get(name) if isinstance(name, str) else None
        if found is None:
            known = ", ".join(self._by_name)
            return self._error(f"unknown tool {str(name)[:60]!r}; tools: {known}")
        try:
            args = check(found.input_schema, arguments)
            result = found.run(self._ctx, args)
        except (ArgumentError, NotFound) as exc:
            self._ledger.discard()
            return self._error(f"{name}: {exc}")
        # Through JSON first: values the telemetry holds that JSON has no type for become
        # strings before the redactor looks at them, so none passes it unseen.
        plain = json.loads(json.dumps(result.payload, default=str))
        shared = self._redactor.redact_value(plain)
        content, _kept = fit(shared, result.items_key, self.max_chars)
        return ToolAnswer(content, False, self._ledger.settle(content))

    def evidence(self) -> list[Evidence]:
        """The evidence items the calls so far created (T1, T2, ...), redacted."""
        return self._ledger.made()

    def known_ids(self) -> set[str]:
        """The report's evidence ids and the ones the tools created."""
        return self._ledger.known()

    def _error(self, reason: str) -> ToolAnswer:
        line = " ".join(self._redactor.redact_text(reason).split())
        return ToolAnswer(clip_text(line, self.max_chars), True, ())
