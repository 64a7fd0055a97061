"""`diagnose`: decide once (`assess`), then write the report one field at a time.

The table of contents of a report is `SECTIONS`: each entry names a report field and the
pure function that writes it from the assessment and the evidence log. Their order is the
order evidence ids are handed out (E1, E2, ...), so it is part of the output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from incident.analysis import actions as action_rules
from incident.analysis import context, sections
from incident.analysis.assess import Assessment, assess
from incident.analysis.config import AnalysisConfig
from incident.analysis.evidence import EvidenceLog
from incident.analysis.sections import Fields
from incident.model import Bundle
from incident.report import Report

Writer = Callable[[Assessment, EvidenceLog, Fields], Any]


def _actions(a: Assessment, ev: EvidenceLog, done: Fields) -> Any:
    """First actions, tied to the kind of cause and to the alerts' runbooks."""
    return action_rules.suggest(a.causes, done["alerts"])


def _evidence(a: Assessment, ev: EvidenceLog, done: Fields) -> Any:
    return ev.items


def _services(a: Assessment, ev: EvidenceLog, done: Fields) -> list[str]:
    names = set(a.inc.calls) | {c.component for c in a.causes}
    names |= {r.service for r in a.bundle.logs if r.service}
    return sorted(names)


def _inputs(a: Assessment, ev: EvidenceLog, done: Fields) -> list[str]:
    """The files read, each once (one file can hold both spans and logs)."""
    return list(dict.fromkeys(i.path for i in a.bundle.inputs))


SECTIONS: tuple[tuple[str, Writer], ...] = (
    ("root_causes", sections.root_causes),
    ("blast_radius", sections.blast_radius),
    ("impact", sections.impact),
    ("latency_inflation", sections.latency_inflation),
    ("failures", sections.failures),
    ("critical_paths", sections.critical_paths),
    ("log_templates", context.log_templates),
    ("alerts", context.alerts),
    # Causes also cite the log and alert evidence written just above.
    ("root_causes", sections.linked_root_causes),
    ("timeline", context.timeline),
    ("actions", _actions),
    ("evidence", _evidence),
    ("data_quality", context.data_quality),
    ("services", _services),
    ("inputs", _inputs),
)


def diagnose(
    bundle: Bundle, baseline: Bundle | None = None, config: AnalysisConfig | None = None
) -> Report:
    """The deterministic diagnosis of one incident bundle (optionally against a baseline)."""
    return assessed(bundle, baseline, config)[1]


def assessed(
    bundle: Bundle, baseline: Bundle | None = None, config: AnalysisConfig | None = None
) -> tuple[Assessment, Report]:
    """The assessment and the report written from it (the tools read the former)."""
    a = assess(bundle, baseline, config or AnalysisConfig())
    return a, write(a)


def write(a: Assessment) -> Report:
    """The report, one field at a time in the order of SECTIONS."""
    ev = EvidenceLog(a.config.max_evidence)
    fields: dict[str, Any] = {"window": a.window, "verdict": a.verdict}
    for name, write in SECTIONS:
        fields[name] = write(a, ev, fields)
    return Report(**fields)
