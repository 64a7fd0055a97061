"""Redaction of the documents the tool writes (the report, the triage): every string in them,
with the run's placeholders, before they are rendered into anything shareable.

The documents are pydantic models whose field names are ours; only the values came from the
telemetry. They go through the same walk as any JSON document (`Redactor.redact_value`):
strings redacted by content, a sensitive key's value masked, ids kept by their shape. None
of our own field names is a sensitive key, so counts, latencies and scores stay numbers.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from incident.redact.redactor import Redactor

M = TypeVar("M", bound=BaseModel)


def redact_output(document: M, redactor: Redactor) -> M:
    """A redacted copy of `document`; the original is left as it was (for local views)."""
    data = document.model_dump(mode="python", by_alias=True)
    return type(document).model_validate(redactor.redact_value(data))
