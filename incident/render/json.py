"""The full report as JSON ("incident.report/1"): the contract scripts read, byte-stable."""

from __future__ import annotations

from incident.report import Report


def render_json(report: Report) -> str:
    """`report.to_json()` with map keys sorted, so equal reports give equal bytes; ends in \\n."""
    stable = report.model_copy(update={"redactions": dict(sorted(report.redactions.items()))})
    return stable.to_json() + "\n"
