"""Reading the Messages API's reply ourselves, defensively: the HTTP body is checked for
its content type, size, JSON validity, nesting and shape before anything is taken from
it, so that any reply we cannot use becomes `Unusable` with a one-line reason instead of
an exception from deep inside a parser. Only the fields the step needs are read: the text
blocks, the stop reason and its details, and the token usage (optional: a reply without
usable usage is still an answer)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from incident.llm.evidence import label
from incident.report import Usage

# The most of one reply that is read: a real answer (8192 output tokens at most) is a few
# tens of kilobytes. Longer is a failure, never a giant postmortem.
MAX_RESPONSE_BYTES = 1024 * 1024
# The longest answer text accepted, in characters.
MAX_ANSWER_CHARS = 100_000
# Anything above this in a token count is not a token count.
_MAX_COUNT = 10**9
_REQUIRED_USAGE = ("input_tokens", "output_tokens")
# Content blocks sent back to the API as the assistant's turn in a conversation.
_ECHOED = frozenset({"text", "tool_use", "thinking", "redacted_thinking"})
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class Unusable(Exception):
    """A reply the step cannot use; the message is the one-line reason."""


@dataclass(frozen=True)
class Reply:
    """What the step takes from one reply. `usage` is None when the reply had none usable."""

    text: str
    stop_reason: str | None
    stop_explanation: str | None
    usage: Usage | None
    blocks: tuple[dict[str, Any], ...] = ()

    def tool_uses(self) -> list[dict[str, Any]]:
        """The `tool_use` blocks, in order (each has a str `id`, `name` and a dict `input`)."""
        return [b for b in self.blocks if b.get("type") == "tool_use"]


def read_http(
    status: int, headers: Mapping[str, str], body: bytes, request_id: str | None = None
) -> Reply:
    """A reply from its raw HTTP parts (the status is a 2xx: errors were raised before)."""
    where = f" (request-id {label(request_id)})" if request_id else ""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise Unusable(
            f"the API answered {status} with content-type {label(media)}, not JSON{where}"
        )
    if len(body) > MAX_RESPONSE_BYTES:
        raise Unusable(too_large())
    if not body.strip():
        raise Unusable(f"the API answered {status} with an empty body{where}")
    try:
        data = json.loads(body)
    except RecursionError:
        raise Unusable(f"the API's reply is JSON nested too deeply to read{where}") from None
    except (ValueError, UnicodeError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise Unusable(f"the API's reply is not valid JSON ({detail}){where}") from None
    try:
        return read_data(data)
    except Unusable as exc:
        raise Unusable(f"{exc}{where}") from None


def read_object(obj: object) -> Reply:
    """A reply from what a client's `messages.create` returned (an SDK model, a dict, or,
    from a lenient SDK, the body as text)."""
    if isinstance(obj, Mapping):
        return read_data(obj)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return read_data(dump(warnings=False))
    raise Unusable(f"the API answered with {type(obj).__name__}, not a message object")


def read_data(data: object) -> Reply:
    """A reply from parsed JSON."""
    if not isinstance(data, Mapping):
        raise Unusable(f"the API answered with a JSON {_kind(data)}, not a message object")
    if data.get("type") == "error":
        error = data.get("error")
        kind = message = ""
        if isinstance(error, Mapping):
            kind = str(error.get("type") or "")
            message = str(error.get("message") or "")
        detail = ": ".join(p for p in (label(kind) if kind else "", _first_line(message)) if p)
        raise Unusable("the API answered 200 with an error" + (f": {detail}" if detail else ""))
    content = data.get("content")
    if not isinstance(content, list):
        got = _kind(content) if "content" in data else "missing"
        raise Unusable(f"the API's reply has no content list (content is {got})")
    texts: list[str] = []
    blocks: list[dict[str, Any]] = []
    size = 0
    for block in content:
        if not isinstance(block, Mapping):
            raise Unusable("a content block of the API's reply is not an object")
        block_type = block.get("type")
        if block_type == "tool_use":
            _check_tool_use(block)
        if block_type in _ECHOED:
            blocks.append(dict(block))
        if block_type != "text":
            continue  # tool calls, thinking blocks and anything newer: not the answer
        text = block.get("text")
        if not isinstance(text, str):
            raise Unusable("a text block of the API's reply has no text")
        size += len(text)
        if size > MAX_ANSWER_CHARS:
            raise Unusable(answer_too_long(size))
        texts.append(text)
    stop = data.get("stop_reason")
    details = data.get("stop_details")
    why = None
    if isinstance(details, Mapping):
        found = details.get("explanation") or details.get("category")
        why = _first_line(str(found)) if found else None
    return Reply(
        text="".join(texts),
        stop_reason=stop if isinstance(stop, str) else None,
        stop_explanation=why,
        usage=read_usage(data.get("usage")),
        blocks=tuple(blocks),
    )


def _check_tool_use(block: Mapping[str, Any]) -> None:
    for name, kind in (("id", str), ("name", str), ("input", Mapping)):
        if not isinstance(block.get(name), kind):
            raise Unusable(f"a tool_use block of the API's reply has no usable {name}")


def read_usage(raw: object) -> Usage | None:
    """Token counts from a usage object, or None when it is missing or unusable. Optional
    counts (cache reads and writes) that are missing or malformed count as 0."""
    if not isinstance(raw, Mapping):
        return None
    counts: dict[str, int] = {}
    for name in _USAGE_FIELDS:
        value = raw.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT:
            counts[name] = value
        elif name in _REQUIRED_USAGE:
            return None
        else:
            counts[name] = 0
    return Usage(**counts)


def answer_too_long(chars: int) -> str:
    return f"Claude's answer is too long ({chars:,}+ characters; at most {MAX_ANSWER_CHARS:,})"


def too_large() -> str:
    """The reason for a body over MAX_RESPONSE_BYTES (checked while it is read, too)."""
    return (
        f"the API's reply is larger than the {MAX_RESPONSE_BYTES // (1024 * 1024)} MB cap; "
        "not read further"
    )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return "".join(c if c.isprintable() else " " for c in line.strip())[:200]
    return ""
