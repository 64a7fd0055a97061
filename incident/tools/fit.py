"""An answer cut to its size cap: compact JSON of an already redacted payload, with strings
clipped (never through a placeholder) and the payload's main list cut at an item boundary,
saying how many items were left out (`"omitted": N`). Never longer than the cap.
"""

from __future__ import annotations

import json
import re
from typing import Any

from incident.redact import PLACEHOLDER
from incident.text import clip

# Longest string kept inside an answer; past it, a string is clipped.
MAX_STRING = 300
_OPEN_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_-]*(?::\d*)?…?$")


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


def clip_text(text: str, limit: int) -> str:
    """`text` shortened like `incident.text.clip`, dropping a placeholder the cut went into."""
    if len(text) <= limit:
        return text
    out = clip(text, limit)
    body = out.removesuffix("…")
    # A placeholder cut in the middle reads as garbage: drop its opening part.
    opening = body.rfind("<")
    if opening >= 0 and not PLACEHOLDER.match(body, opening):
        tail = body[opening:]
        if _OPEN_PLACEHOLDER.match(tail):
            body = body[:opening].rstrip()
    return body + "…"


def clip_strings(value: Any, limit: int = MAX_STRING) -> Any:
    """Every string inside `value` clipped to `limit` characters (a copy)."""
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, dict):
        return {k: clip_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clip_strings(v, limit) for v in value]
    return value


def fit(payload: dict[str, Any], items_key: str | None, max_chars: int) -> tuple[str, int]:
    """(JSON text of at most `max_chars` characters, items of `items_key` kept)."""
    payload = clip_strings(payload)
    items: list[Any] = list(payload.get(items_key, [])) if items_key else []
    already = int(payload.get("omitted", 0) or 0)

    def render(k: int, data: dict[str, Any]) -> str:
        doc = dict(data)
        if items_key:
            doc[items_key] = items[:k]
            left = already + len(items) - k
            doc.pop("omitted", None)
            if left:
                doc["omitted"] = left
        return dumps(doc)

    text = render(len(items), payload)
    if len(text) <= max_chars:
        return text, len(items)
    # The largest prefix of the items that fits (the rendered length grows with k).
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(render(mid, payload)) <= max_chars:
            lo = mid
        else:
            hi = mid - 1
    text = render(lo, payload)
    if len(text) <= max_chars:
        return text, lo
    # Even without items it is too long: shorter strings, then a bare notice.
    for limit in (120, 40):
        text = render(0, clip_strings(payload, limit))
        if len(text) <= max_chars:
            return text, 0
    return dumps({"omitted": "the answer did not fit the size cap"})[:max_chars], 0
