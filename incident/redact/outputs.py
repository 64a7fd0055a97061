"""Redaction of the documents the tool writes (the report, the triage): every string in them,
with the run's placeholders, before they are rendered into anything shareable.

The documents are pydantic models whose field names are ours; only the values came from the
telemetry. So every string is redacted by content, and under the free-form maps copied from
the data (alert labels and annotations, attributes) a sensitive key masks its value too.
Numbers are ours (counts, latencies, scores) and stay. Evidence references (trace and span
ids) pass through the rules like any other text: the rules keep ids by their shape.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from incident.redact.redactor import Redactor
from incident.redact.rules import is_sensitive_key

M = TypeVar("M", bound=BaseModel)


def redact_output(document: M, redactor: Redactor) -> M:
    """A redacted copy of `document`; the original is left as it was (for local views)."""
    data = document.model_dump(mode="python", by_alias=True)
    return type(document).model_validate(_walk(data, redactor))


def _walk(root: Any, redactor: Redactor) -> Any:
    """Iterative (explicit stack), so no document is too deep to redact."""
    holder: list[Any] = [root]
    stack: list[tuple[Any, Any, str | None]] = [(holder, 0, None)]
    while stack:
        parent, slot, key = stack.pop()
        value = parent[slot]
        if isinstance(value, str):
            if key is not None and is_sensitive_key(key) and value:
                parent[slot] = redactor.mask(value)
            else:
                parent[slot] = redactor.redact_text(value)
        elif isinstance(value, dict):
            copy = dict(value)
            parent[slot] = copy
            for k in copy:
                stack.append((copy, k, k if isinstance(k, str) else None))
        elif isinstance(value, list | tuple):
            items = list(value)
            parent[slot] = items
            for i in range(len(items)):
                stack.append((items, i, key))
    return holder[0]
