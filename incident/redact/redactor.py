"""The Redactor: runs the rules over text and structured values, hands out placeholders that
stay the same for the same value within a run, and can map them back afterwards.

Public surface: `redact_text`, `redact_value` (decoded JSON-like values, walked with an
explicit stack so no depth is too deep), `mask` (every scalar of a value becomes a
placeholder), `redact_then_truncate` (for callers that shorten text: redact the whole text
first, then cut, never through a placeholder, so a secret at the edge is never half kept),
`placeholder`, `restore`, `mapping` and `counts`.

Values under id keys (`trace_id`, `spanId`, `x-request-id`, ...), and values passed to
`redact_id` by callers that know a value sits where an id goes (a CSV's SpanID column), are
kept only when they look like ids (hex, UUID, decimal, short prefixed ids): then the
look-alike kinds (cards, phones, IBANs, national ids, IPs) are not applied to them, but
token rules still are. Anything else under such a key, and any object nested under it, is
redacted as usual; a long opaque token there that no rule knows is taken for a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from incident.redact.rules import (
    Rule,
    default_rules,
    is_id_key,
    is_id_shaped,
    is_sensitive_key,
    whole,
)

PLACEHOLDER = re.compile(r"<([a-z][a-z0-9_-]*):(\d+)>")
# Shorter strings cannot hold anything a rule looks for (the shortest is a 7-digit phone).
_MIN_LEN = 6
_MEMO_LIMIT = 200_000
# Kinds whose look-alikes are ids: not applied to id-shaped values under id keys.
_LOOKALIKE_KINDS = frozenset({"card", "phone", "iban", "national_id", "ip"})
# Ids no token rule can match (lowercase hex, digits, lowercase UUIDs): kept without a look.
_PLAIN_ID = re.compile(r"[0-9a-f]{1,64}|-?\d{1,40}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_.~-]{32,512}")
# Keys that tell what a bare number under them is (`card_number`, `phone`), since the
# value alone (4111111111111111) carries no such word for the rules to see.
_CARD_KEY = re.compile(r"(?i)card|credit|debit|(?<![a-z])(?:cc|pan)(?![a-z])")
_PHONE_KEY = re.compile(r"(?i)phone|mobile|msisdn|fax|(?<![a-z])tel(?![a-z])")
# OTLP JSON AnyValue fields: `{"key": k, "value": {"stringValue": v}}` is v under key k.
_ANY_VALUE_KEYS = frozenset(
    {
        "stringValue", "intValue", "doubleValue", "boolValue", "bytesValue", "arrayValue",
        "kvlistValue", "values", "string_value", "int_value", "double_value", "bool_value",
        "bytes_value", "array_value", "kvlist_value",
    }
)  # fmt: skip


class Redactor:
    """Replaces secrets and personal data with placeholders like `<email:1>`.

    `counts` counts occurrences (every replacement made, per kind). `restore` maps
    placeholders in any text back to the originals, which is only ever done locally, after
    the model has answered.
    """

    def __init__(
        self,
        extra_patterns: Mapping[str, str] | None = None,
        allow: Iterable[str] = (),
        rules: Sequence[Rule] | None = None,
    ) -> None:
        base = list(rules) if rules is not None else default_rules()
        extra: list[Rule] = []
        for name, pattern in (extra_patterns or {}).items():
            compiled = re.compile(pattern)
            # A named group `value` narrows the replacement, as in `user=(?P<value>\w+)`.
            group: int | str = "value" if "value" in compiled.groupindex else 0
            extra.append(Rule(name, _kind_name(name), compiled, whole(group)))
        # User patterns first: they know their own formats better than the defaults do.
        self.rules: list[Rule] = extra + base
        self._id_rules: list[Rule] = extra + [r for r in base if r.kind not in _LOOKALIKE_KINDS]
        self.allow = frozenset(allow)
        self.counts: dict[str, int] = {}
        self._forward: dict[tuple[str, str], str] = {}
        self._backward: dict[str, str] = {}
        self._next: dict[str, int] = {}
        self._memo: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._id_memo: dict[str, tuple[str, tuple[str, ...]]] = {}

    # -- placeholders ----------------------------------------------------------------------

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder -> original value (keep it local: it is the secret material)."""
        return dict(self._backward)

    def placeholder(self, kind: str, value: str) -> str:
        norm = value.lower() if kind == "email" else value
        key = (kind, norm)
        found = self._forward.get(key)
        if found is None:
            n = self._next.get(kind, 0) + 1
            self._next[kind] = n
            found = f"<{kind}:{n}>"
            self._forward[key] = found
            self._backward[found] = value
        return found

    def restore(self, text: str) -> str:
        """Put the original values back where this run's placeholders appear."""
        if "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self._backward.get(m.group(0), m.group(0)), text)

    def _count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    # -- text ------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        return self._redact(text, self.rules, self._memo)

    def redact_then_truncate(self, text: str, limit: int, marker: str = "…") -> str:
        """Redact `text` whole, then shorten it to at most `limit` characters (ending with
        `marker` when cut). Cutting first could leave half a token that no rule recognises;
        cutting after never does, and never splits a placeholder either."""
        out = self.redact_text(text)
        if len(out) <= limit:
            return out
        if limit <= len(marker):
            return marker[: max(0, limit)]
        cut = limit - len(marker)
        opening = out.rfind("<", max(0, cut - 64), cut)
        if opening >= 0:
            inside = PLACEHOLDER.match(out, opening)
            if inside is not None and inside.end() > cut:
                cut = opening
        return out[:cut] + marker

    def redact_id(self, text: str) -> str:
        """Redact a value that sits where an id goes (an id key, an id column): an id-shaped
        value gets the token rules only, never the look-alike kinds (a decimal span id that
        passes Luhn is not a card); anything else is redacted as any text is."""
        if not is_id_shaped(text):
            out = self.redact_text(text)
            if out == text and _OPAQUE.fullmatch(text) and _mixed(text):
                # A long opaque token where an id goes, yet not shaped like any id: a
                # credential put in the wrong field (or an id format we do not know, which
                # is the cheaper mistake).
                self._count("secret")
                return self.placeholder("secret", text)
            return out
        if _PLAIN_ID.fullmatch(text):
            return text
        return self._redact(text, self._id_rules, self._id_memo)

    def _redact(
        self, text: str, rules: list[Rule], memo: dict[str, tuple[str, tuple[str, ...]]]
    ) -> str:
        if len(text) < _MIN_LEN:
            return text
        found = memo.get(text)
        if found is not None:
            # Same input, same placeholders: only the occurrence counts need updating.
            for kind in found[1]:
                self._count(kind)
            return found[0]
        kinds: list[str] = []
        out = text
        # Which rules are worth running is decided on the input: a replacement only ever
        # inserts placeholders, which no rule redacts.
        lowered = text.lower()
        # In a long text, a need whose first character is absent is not searched for.
        present = frozenset(lowered) if len(lowered) > 2048 else None
        for rule in rules:
            needs = rule.needs
            if needs:
                for need in needs:
                    if (present is None or need[0] in present) and need in lowered:
                        break
                else:
                    continue
            spans = rule.find(out)
            if not spans:
                continue
            pieces: list[str] = []
            last = 0
            for start, end in spans:
                value = out[start:end]
                if value in self.allow or PLACEHOLDER.fullmatch(value):
                    continue
                pieces.append(out[last:start])
                pieces.append(self.placeholder(rule.kind, value))
                kinds.append(rule.kind)
                last = end
            if pieces:
                pieces.append(out[last:])
                out = "".join(pieces)
        for kind in kinds:
            self._count(kind)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[text] = (out, tuple(kinds))
        return out

    # -- structured values -----------------------------------------------------------------

    def redact_value(self, obj: Any, key: str | None = None) -> Any:
        """Redact a decoded JSON-like value; `key` is the field or attribute name it sits under.

        Values under sensitive keys are replaced whole; id-shaped values under id keys keep
        their ids; everything else is redacted by content. OTLP attributes and Jaeger tags
        (`{"key": name, "value": ...}`) are judged by their sibling `key`. The walk uses an
        explicit stack: a document nested thousands deep is no problem.
        """
        holder: list[Any] = [obj]
        stack: list[tuple[Any, Any, str | None]] = [(holder, 0, key)]
        while stack:
            parent, slot, k = stack.pop()
            value = parent[slot]
            if k is not None and is_sensitive_key(k):
                parent[slot] = self.mask(value)
            elif isinstance(value, str):
                parent[slot] = self._redact_string(value, k)
            elif isinstance(value, dict):
                copy = dict(value)
                parent[slot] = copy
                name = copy.get("key")
                attribute = isinstance(name, str) and "value" in copy
                # OTLP's `{"stringValue": ...}` wrappers stand for the value of their key.
                wrapper = k is not None and copy.keys() <= _ANY_VALUE_KEYS
                for child in reversed(list(copy)):
                    if attribute and child == "value":
                        stack.append((copy, child, name))
                    elif wrapper:
                        stack.append((copy, child, k))
                    else:
                        stack.append((copy, child, child if isinstance(child, str) else None))
            elif isinstance(value, list | tuple):
                items = list(value)
                parent[slot] = items
                for i in range(len(items) - 1, -1, -1):
                    stack.append((items, i, k))
            elif isinstance(value, int) and not isinstance(value, bool) and k is not None:
                parent[slot] = self._redact_number(value, k)
        return holder[0]

    def _redact_string(self, value: str, key: str | None) -> str:
        if key is not None and is_id_key(key):
            return self.redact_id(value)
        if value[:1] in ("{", "[") and len(value) > 2:
            # JSON inside a string (CloudWatch alarms in SNS messages, logged payloads):
            # walk it, so its keys count, then write it back compactly.
            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                return self.redact_text(value)
            if isinstance(inner, dict | list):
                try:
                    return json.dumps(self.redact_value(inner), ensure_ascii=False)
                except (ValueError, RecursionError):
                    return self.redact_text(value)
        if key is not None:
            prefix = _context_prefix(key)
            if prefix is not None:
                return self._redact_in_context(prefix, value)
        return self.redact_text(value)

    def _redact_number(self, value: int, key: str) -> int | str:
        """A number under a card or phone key (`"card_number": 4111111111111111`)."""
        prefix = _context_prefix(key)
        digits = str(value)
        if prefix is None or not 7 <= len(digits) <= 19:
            return value
        out = self._redact_in_context(prefix, digits)
        return value if out == digits else out

    def _redact_in_context(self, prefix: str, value: str) -> str:
        """Redact `value` as if it followed `prefix` ("card: "), the word the key stood for."""
        out = self.redact_text(prefix + value)
        if out.startswith(prefix):
            return out[len(prefix) :]
        return self.redact_text(value)

    def mask(self, obj: Any) -> Any:
        """Replace every string and number inside `obj` with a secret placeholder."""
        holder: list[Any] = [obj]
        stack: list[tuple[Any, Any]] = [(holder, 0)]
        while stack:
            parent, slot = stack.pop()
            value = parent[slot]
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, str):
                if value and not PLACEHOLDER.fullmatch(value) and value not in self.allow:
                    self._count("secret")
                    parent[slot] = self.placeholder("secret", value)
            elif isinstance(value, int | float):
                self._count("secret")
                parent[slot] = self.placeholder("secret", str(value))
            elif isinstance(value, dict):
                copy = dict(value)
                parent[slot] = copy
                stack.extend((copy, k) for k in reversed(list(copy)))
            elif isinstance(value, list | tuple):
                items = list(value)
                parent[slot] = items
                stack.extend((items, i) for i in range(len(items) - 1, -1, -1))
        return holder[0]


def _mixed(value: str) -> bool:
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


@lru_cache(maxsize=4096)
def _context_prefix(key: str) -> str | None:
    if _CARD_KEY.search(key):
        return "card: "
    if _PHONE_KEY.search(key):
        return "phone: "
    return None


def _kind_name(name: str) -> str:
    kind = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_-")
    return kind if kind and kind[0].isalpha() else f"custom_{kind}"
