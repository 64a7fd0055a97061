"""The Redactor: runs the rules over text and structured values, hands out placeholders that
stay the same for the same value within a run, and can map them back afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from incident.redact.rules import Rule, default_rules, is_id_key, is_sensitive_key, whole

PLACEHOLDER = re.compile(r"<([a-z][a-z0-9_-]*):(\d+)>")
# Shorter strings cannot hold anything a rule looks for (the shortest is a 7-digit phone).
_MIN_LEN = 6
_MEMO_LIMIT = 200_000


class Redactor:
    """Replaces secrets and personal data with placeholders like `<email:1>`.

    `counts` counts occurrences (every replacement made, per kind); `distinct` counts
    distinct values per kind. `restore` maps placeholders in any text back to the originals,
    which is only ever done locally, after the model has answered.
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
        self.allow = frozenset(allow)
        self.counts: dict[str, int] = {}
        self._forward: dict[tuple[str, str], str] = {}
        self._backward: dict[str, str] = {}
        self._next: dict[str, int] = {}
        self._memo: dict[str, tuple[str, tuple[str, ...]]] = {}

    # -- placeholders ----------------------------------------------------------------------

    @property
    def distinct(self) -> dict[str, int]:
        return dict(self._next)

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
        if len(text) < _MIN_LEN:
            return text
        memo = self._memo.get(text)
        if memo is not None:
            # Same input, same placeholders: only the occurrence counts need updating.
            for kind in memo[1]:
                self._count(kind)
            return memo[0]
        kinds: list[str] = []
        out = text
        lowered = out.lower()
        for rule in self.rules:
            if not rule.applies(lowered):
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
                lowered = out.lower()
        for kind in kinds:
            self._count(kind)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[text] = (out, tuple(kinds))
        return out

    # -- structured values -----------------------------------------------------------------

    def redact_value(self, obj: Any, key: str | None = None) -> Any:
        """Redact a decoded JSON-like value; `key` is the field or attribute name it sits under.

        Values under sensitive keys are replaced whole; values under id keys are kept whole;
        everything else is redacted by content. OTLP attributes and Jaeger tags
        (`{"key": name, "value": ...}`) are judged by their sibling `key`.
        """
        if key is not None:
            if is_id_key(key):
                return obj
            if is_sensitive_key(key):
                return self.mask(obj)
        if isinstance(obj, str):
            if obj[:1] in ("{", "[") and len(obj) > 2:
                # JSON inside a string (CloudWatch alarms in SNS messages, logged payloads):
                # walk it, so its keys count, then write it back compactly.
                try:
                    inner = json.loads(obj)
                except ValueError:
                    return self.redact_text(obj)
                if isinstance(inner, dict | list):
                    return json.dumps(self.redact_value(inner), ensure_ascii=False)
            return self.redact_text(obj)
        if isinstance(obj, dict):
            name = obj.get("key")
            if isinstance(name, str) and "value" in obj:
                return {
                    k: (self.redact_value(v, name) if k == "value" else self.redact_value(v, k))
                    for k, v in obj.items()
                }
            return {
                k: self.redact_value(v, k if isinstance(k, str) else None) for k, v in obj.items()
            }
        if isinstance(obj, list | tuple):
            return [self.redact_value(v, key) for v in obj]
        return obj

    def mask(self, obj: Any) -> Any:
        """Replace every string and number inside `obj` with a secret placeholder."""
        if isinstance(obj, bool) or obj is None:
            return obj
        if isinstance(obj, str):
            if not obj or PLACEHOLDER.fullmatch(obj) or obj in self.allow:
                return obj
            self._count("secret")
            return self.placeholder("secret", obj)
        if isinstance(obj, int | float):
            self._count("secret")
            return self.placeholder("secret", str(obj))
        if isinstance(obj, dict):
            return {k: self.mask(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.mask(v) for v in obj]
        return obj


def _kind_name(name: str) -> str:
    kind = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_-")
    return kind if kind and kind[0].isalpha() else f"custom_{kind}"
