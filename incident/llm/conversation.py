"""The messages of an investigation: the first request (tools, cached system prompt, task and
fenced digest), tool results, user turns merged so roles alternate, and the one cache
breakpoint moved to the newest block each turn."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from incident.digest import Digest, neutralise_fences
from incident.llm.answer import InvestigationAnswer
from incident.llm.explain import MAX_OUTPUT_TOKENS
from incident.llm.prompts import load_prompt

SUBMIT = "submit_explanation"


class ToolSpecLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...


def submit_tool() -> dict[str, Any]:
    """The tool definition through which the answer is submitted."""
    import anthropic  # deferred: the SDK takes about a second to import

    return {
        "name": SUBMIT,
        "description": "Submit the final answer of the investigation. Call it exactly once, "
        "at the end, with the complete answer.",
        "input_schema": anthropic.transform_schema(InvestigationAnswer),
    }


def build_investigation_request(
    digest: Digest,
    model: str,
    specs: Iterable[ToolSpecLike],
    question: str | None = None,
) -> dict[str, Any]:
    """The first request of an investigation (the question already redacted)."""
    tools = [
        {"name": s.name, "description": s.description, "input_schema": s.input_schema}
        for s in specs
        if s.name != SUBMIT
    ]
    system = load_prompt("system").rstrip() + "\n\n" + load_prompt("investigate")
    if question is None:
        task = load_prompt("investigate_task").rstrip()
    else:
        flat = neutralise_fences(" ".join(question.split()))
        task = load_prompt("ask_task").rstrip() + f"\n\nThe engineer's question: {flat}"
    return {
        "model": model,
        "max_tokens": MAX_OUTPUT_TOKENS,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "tools": [*tools, submit_tool()],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": task + "\n\n" + digest.text}]}
        ],
    }


def result_block(tool_use_id: str, content: str, *, is_error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block


def append_user(params: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    """Add blocks to the conversation as a user turn (merged into a trailing user turn: the
    API wants the roles to alternate, and tool results first)."""
    messages: list[dict[str, Any]] = params["messages"]
    if messages and messages[-1]["role"] == "user":
        messages[-1]["content"] = [*messages[-1]["content"], *blocks]
    else:
        messages.append({"role": "user", "content": blocks})


def mark_cache(messages: list[dict[str, Any]]) -> None:
    """One cache breakpoint, on the newest block: each turn reads the conversation so far
    from the cache instead of paying for it again."""
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            message["content"] = [
                {k: v for k, v in b.items() if k != "cache_control"} for b in content
            ]
    last = messages[-1]["content"]
    if isinstance(last, list) and last and last[-1].get("type") in ("text", "tool_result"):
        last[-1] = {**last[-1], "cache_control": {"type": "ephemeral"}}
