"""Claude investigates: a tool-use loop over the Messages API, starting from the digest,
for `diagnose --investigate` and `ask`.

Protocol. The request carries the cached system prompt (the explanation's, plus the
investigation addendum), the tools (the Toolbox's specs, plus `submit_explanation` whose
input schema is the answer's JSON schema with a `conclusion`), and the task with the fenced
digest (and, for `ask`, the engineer's redacted question) as the first user turn. Each turn
Claude may call tools; every `tool_use` gets a `tool_result` (the Toolbox's answer, re-
redacted, cut at `max_tool_chars` and fenced as telemetry; unknown tools, bad arguments and
a tool that fails come back with `is_error: true`, never an exception). The loop ends when
Claude calls `submit_explanation` with an input that validates (an invalid one is answered
with the problems, as an error result, so the model can correct it).

Budgets. At most `max_turns` requests (the last one reserved for the answer), `max_tokens`
tokens in all (input, output and cache, as the API reports them) and `max_cost` USD
(estimated from `pricing.py`; a model not in its table is priced as the dearest one).
Before each exploring turn the loop projects one more turn plus a final answer from the
last reply's size; when that does not fit, or the turns or most of the time
(`--ai-timeout`) are used up, it asks for the answer at once with `tool_choice` forced to
`submit_explanation` (one repair request if that answer does not validate). A budget too
small even for that final request ends the investigation "failed" without asking.

Everything else is shared with the single-call explanation (`calls.py` for the client,
retries and deadline; `explain.to_result` for the evidence check). Like `explain`, this
never raises: a failure is an `AIResult(status="failed")` whose `investigation` keeps the
partial transcript, and the caller falls back (see `pipeline.investigate`). Investigations
are not cached. The transcript holds only redacted text: what was sent and received.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from incident.digest import FENCE_CLOSE, FENCE_OPEN, Digest, estimate_tokens, neutralise_fences
from incident.errors import AIError, AIPermanentError
from incident.llm.answer import InvestigationAnswer
from incident.llm.budget import Deadline
from incident.llm.calls import Sleep, Tally, call, step_client
from incident.llm.conversation import (
    SUBMIT,
    append_user,
    build_investigation_request,
    mark_cache,
    result_block,
)
from incident.llm.explain import (
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    failed_result,
    one_line,
    problems_of,
    to_result,
)
from incident.llm.pricing import PRICES, estimate_cost
from incident.llm.prompts import PROMPT_VERSION
from incident.llm.reply import Reply
from incident.redact import Redactor
from incident.report import (
    AIResult,
    Evidence,
    Investigation,
    InvestigationTurn,
    ToolCall,
    Usage,
)

DEFAULT_MAX_TURNS = 8
DEFAULT_MAX_TOKENS = 200_000
DEFAULT_MAX_COST = 1.00
DEFAULT_MAX_TOOL_CHARS = 4000
# Output tokens assumed for each request still to come when the budget is projected.
OUTPUT_RESERVE = 4096
# The answer is asked for when less than this share of --ai-timeout (or 10 s) is left.
TIME_RESERVE_SHARE = 0.25
TIME_RESERVE_MIN = 10.0
# How much of each call's arguments, answer and the model's notes the transcript keeps.
EXCERPT_CHARS = 600
ARGUMENT_CHARS = 300
NOTE_CHARS = 400

Stop = Literal["turns", "tokens", "cost", "time"]


class ToolboxLike(Protocol):
    """What the loop needs of `incident.tools.Toolbox`."""

    def specs(self) -> list[Any]: ...
    def call(self, name: str, arguments: Mapping[str, Any]) -> Any: ...
    def evidence(self) -> list[Evidence]: ...
    def known_ids(self) -> set[str]: ...


@dataclass(frozen=True)
class Limits:
    """The bounds of one investigation (the CLI's --max-turns, --max-ai-tokens, --max-cost)."""

    max_turns: int = DEFAULT_MAX_TURNS
    max_tokens: int = DEFAULT_MAX_TOKENS
    max_cost: float = DEFAULT_MAX_COST
    max_tool_chars: int = DEFAULT_MAX_TOOL_CHARS


class BudgetSpent(AIPermanentError):
    """Not even the final answer fits in what is left of the budget."""

    def __init__(self, stop: Stop, message: str) -> None:
        super().__init__(message)
        self.stop = stop


def investigate(
    digest: Digest,
    toolbox: ToolboxLike,
    *,
    question: str | None = None,
    model: str = DEFAULT_MODEL,
    timeout: float = DEFAULT_TIMEOUT,
    limits: Limits | None = None,
    redactor: Redactor | None = None,
    max_retries: int = 4,
    client: Any = None,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> AIResult:
    """Let Claude investigate through `toolbox`. Returns status "ok" with the answer and
    the transcript in `investigation`, or "failed" with a one-line reason and the partial
    transcript; never raises. `question` (for `ask`) is redacted with `redactor` (the
    digest's by default) before it is sent. `client`, `sleep` and `rng` are for tests."""
    limits = limits or Limits()
    base = AIResult(model=model, prompt_version=PROMPT_VERSION)
    loop: _Loop | None = None
    stopped: Literal["tokens", "cost", "time", "turns", "failed"] = "failed"
    try:
        red = redactor or digest.redactor
        asked = red.redact_text(question) if question is not None else None
        loop = _Loop(digest, toolbox, model, limits, red, Deadline(timeout), asked)
        answer = loop.run(client, max_retries, sleep, rng or random.Random())
        known = frozenset(set(digest.evidence_ids) | toolbox.known_ids())
        result = to_result(
            base, answer, loop.tally.usage, loop.tally.complete, known, cached=False, prefixes="ET"
        )
        loop.trace.conclusion = answer.conclusion
        return result.model_copy(update={"investigation": loop.finish(toolbox, "ok", None)})
    except AIError as exc:
        reason = one_line(str(exc)) or "unknown"
        if isinstance(exc, BudgetSpent):
            stopped = exc.stop
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing here may break the report
        reason = one_line(f"unexpected {type(exc).__name__} in the AI step: {exc or 'no details'}")
    if loop is None:  # failed before the first request: an empty transcript says why
        trace = Investigation(status="failed", reason=reason, stopped="failed")
        return failed_result(base, reason).model_copy(update={"investigation": trace})
    loop.trace.stopped = stopped
    failed = failed_result(base, reason)
    usage = _costed(model, loop.tally)
    return failed.model_copy(
        update={"usage": usage, "investigation": loop.finish(toolbox, "failed", reason)}
    )


class _Loop:
    """The state of one investigation: the conversation, the tally and the transcript."""

    def __init__(
        self,
        digest: Digest,
        toolbox: ToolboxLike,
        model: str,
        limits: Limits,
        redactor: Redactor,
        deadline: Deadline,
        question: str | None,
    ) -> None:
        self.toolbox = toolbox
        self.model = model
        self.limits = limits
        self.redactor = redactor
        self.deadline = deadline
        self.tally = Tally()
        specs = list(toolbox.specs())
        self.tool_names = {s.name for s in specs} - {SUBMIT}
        self.params = build_investigation_request(digest, model, specs, question)
        self.trace = Investigation(
            question=question,
            max_turns=limits.max_turns,
            max_tokens=limits.max_tokens,
            max_cost_usd=limits.max_cost,
        )
        self.next_input = estimate_tokens(json.dumps(self.params))
        self._problem = "no answer submitted"

    def run(
        self, client: Any, max_retries: int, sleep: Sleep, rng: random.Random
    ) -> InvestigationAnswer:
        with step_client(client, self.deadline) as client:

            def ask(params: dict[str, Any]) -> Reply:
                mark_cache(params["messages"])
                return call(client, params, self.deadline, max_retries, sleep, rng, self.tally)

            while (stop := self._stop(explore=True)) is None:
                reply = ask(self.params)
                answer = self._take(reply)
                if answer is not None:
                    self.trace.stopped = "answered"
                    return answer
            self.trace.stopped = stop
            return self._final(ask, stop)

    def _final(self, ask: Callable[[dict[str, Any]], Reply], stop: Stop) -> InvestigationAnswer:
        """The answer, asked for with the tool choice forced; one repair if it is invalid."""
        spent = self._stop(explore=False)
        if spent is not None:
            raise BudgetSpent(spent, f"the {_NAMES[spent]} was spent before an answer")
        why = {
            "turns": f"the {self.limits.max_turns} turns are used up",
            "tokens": "the token budget is nearly spent",
            "cost": "the cost budget is nearly spent",
            "time": "the time limit is near",
        }[stop]
        append_user(
            self.params,
            [
                {
                    "type": "text",
                    "text": f"The investigation must end now: {why}. Call {SUBMIT} with your "
                    "best answer from the evidence you have; set conclusion to inconclusive "
                    "if it does not single out a cause.",
                }
            ],
        )
        # The conversation (`messages`) is shared: a rejected answer and its problems are
        # in it when the request is repeated once as the repair.
        forced = {**self.params, "tool_choice": {"type": "tool", "name": SUBMIT}}
        for _ in range(2):
            answer = self._take(ask(forced))
            if answer is not None:
                return answer
        raise AIPermanentError(
            f"Claude's final answer failed validation after one repair attempt: {self._problem}"
        )

    # -- one turn --------------------------------------------------------------------------

    def _take(self, reply: Reply) -> InvestigationAnswer | None:
        """Record a reply, run its tool calls, and queue their results as the next user
        turn; the answer when `submit_explanation` was called with a valid input."""
        self._problem = "no answer submitted"
        turn = InvestigationTurn(
            turn=len(self.trace.turns) + 1,
            stop_reason=reply.stop_reason,
            usage=reply.usage or Usage(),
            note=self._excerpt(reply.text, NOTE_CHARS),
        )
        self.trace.turns.append(turn)
        blocks = [b for b in reply.blocks if not (b.get("type") == "text" and not b.get("text"))]
        self.params["messages"].append(
            {"role": "assistant", "content": blocks or [{"type": "text", "text": "(no reply)"}]}
        )
        uses = reply.tool_uses()
        if not uses:
            self._problem = "the reply called no tool"
            append_user(
                self.params,
                [{"type": "text", "text": f"Use the tools, or call {SUBMIT} with your answer."}],
            )
            self._grow(reply, 200)
            return None
        results: list[dict[str, Any]] = []
        answer: InvestigationAnswer | None = None
        for use in uses:
            if use["name"] == SUBMIT:
                found, result = self._submitted(use)
                answer = answer or found
            else:
                result = self._run_tool(use, turn)
            results.append(result)
        if answer is not None:
            return answer
        append_user(self.params, results)
        self._grow(reply, sum(len(str(r.get("content", ""))) for r in results))
        return None

    def _submitted(self, use: dict[str, Any]) -> tuple[InvestigationAnswer | None, dict[str, Any]]:
        try:
            answer = InvestigationAnswer.model_validate(use["input"])
        except ValidationError as exc:
            problems = problems_of(exc)
            self._problem = problems[0] + (
                f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            )
            text = "The answer did not validate against the schema:\n" + "\n".join(
                f"- {one_line(p)[:300]}" for p in problems[:10]
            )
            text += f"\nCall {SUBMIT} again with the complete corrected answer."
            return None, result_block(use["id"], text, is_error=True)
        return answer, result_block(use["id"], "accepted")

    def _run_tool(self, use: dict[str, Any], turn: InvestigationTurn) -> dict[str, Any]:
        name = str(use["name"])
        arguments: Mapping[str, Any] = use["input"]
        evidence: tuple[str, ...] = ()
        if name not in self.tool_names:
            known = ", ".join(sorted(self.tool_names)) or "none"
            content, is_error = f"unknown tool {name[:64]!r}; the tools are: {known}", True
        else:
            try:
                answer = self.toolbox.call(name, arguments)
                content, is_error = str(answer.content), bool(answer.is_error)
                evidence = tuple(answer.evidence_ids)
            except Exception as exc:  # noqa: BLE001 - a tool bug is the model's error result
                content, is_error = f"the tool failed ({type(exc).__name__})", True
        full = self.redactor.redact_text(content)
        cap = self.limits.max_tool_chars
        shown = self.redactor.redact_then_truncate(full, cap, marker="")
        if len(full) > cap:
            shown += (
                f"\n[answer cut at {cap:,} of {len(full):,} characters; ask a narrower question]"
            )
        turn.calls.append(
            ToolCall(
                tool=self._excerpt(name, 64),
                arguments=self._excerpt(json.dumps(arguments, ensure_ascii=False), ARGUMENT_CHARS),
                result=self._excerpt(shown, EXCERPT_CHARS),
                result_chars=len(full),
                is_error=is_error,
                evidence=list(evidence),
            )
        )
        self.trace.tool_calls += 1
        self.trace.tool_errors += int(is_error)
        fenced = f"{FENCE_OPEN}\n{neutralise_fences(shown)}\n{FENCE_CLOSE}"
        return result_block(str(use["id"]), fenced, is_error=is_error)

    # -- budgets ---------------------------------------------------------------------------

    def _grow(self, reply: Reply, added_chars: int) -> None:
        """Project the next request's input from the last one and what was added since."""
        if reply.usage is not None:
            u = reply.usage
            last = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
            self.next_input = last + u.output_tokens + added_chars // 3 + 50
        else:
            self.next_input = estimate_tokens(json.dumps(self.params))

    def _stop(self, *, explore: bool) -> Stop | None:
        """Which budget stops the next request: with `explore`, one more exploring turn
        plus the answer must fit; without, the answer alone."""
        requests = 2 if explore else 1
        if explore and len(self.trace.turns) >= self.limits.max_turns - 1:
            return "turns"
        reserve = max(TIME_RESERVE_MIN, TIME_RESERVE_SHARE * self.deadline.seconds)
        if explore and self.deadline.remaining() < reserve:
            return "time"
        per_request = self.next_input + OUTPUT_RESERVE
        if _total(self.tally.usage) + requests * per_request > self.limits.max_tokens:
            return "tokens"
        projected = Usage(
            input_tokens=requests * self.next_input, output_tokens=requests * OUTPUT_RESERVE
        )
        spent = _cost(self.model, self.tally.usage)
        if spent + _cost(self.model, projected) > self.limits.max_cost:
            return "cost"
        return None

    # -- the transcript --------------------------------------------------------------------

    def _excerpt(self, text: str, limit: int) -> str:
        return self.redactor.redact_then_truncate(text.strip(), limit)

    def finish(
        self, toolbox: ToolboxLike, status: Literal["ok", "failed"], reason: str | None
    ) -> Investigation:
        trace = self.trace.model_copy(deep=True)
        trace.status = status
        trace.reason = reason
        trace.usage = _costed(self.model, self.tally)
        try:
            trace.evidence = list(toolbox.evidence())
        except Exception:  # noqa: BLE001 - the transcript is still worth keeping
            trace.evidence = []
        return trace


_NAMES = {
    "tokens": "--max-ai-tokens budget",
    "cost": "--max-cost budget",
    "time": "--ai-timeout",
    "turns": "--max-turns",
}


def _total(u: Usage) -> int:
    return (
        u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    )


def _cost(model: str, usage: Usage) -> float:
    """The estimated cost; a model missing from the price table is priced as the dearest."""
    cost = estimate_cost(model, usage)
    if cost is not None:
        return cost
    dearest = max(PRICES, key=lambda m: PRICES[m][1])
    return estimate_cost(dearest, usage) or 0.0


def _costed(model: str, tally: Tally) -> Usage:
    usage = tally.usage.model_copy()
    usage.estimated_cost_usd = estimate_cost(model, usage) if tally.complete else None
    return usage
