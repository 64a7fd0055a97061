"""The Claude step: send the digest with the versioned prompts, get a structured answer
back, check its evidence ids, and report usage and cost.

It never raises. Every failure, expected (API errors, refusals, invalid answers) or not (a
reply no parser could use, a bug), comes back as `AIResult(status="failed", reason=...)`
with a one-line reason, and the deterministic report is written regardless.

- Time: `timeout` bounds the whole step (every attempt, read and backoff sleep), and a
  request that outlives it is abandoned.
- Size: at most MAX_RESPONSE_BYTES of a reply are read and MAX_ANSWER_CHARS of answer
  text accepted; more is a failure.
- Placeholders: the result keeps redaction placeholders (`<email:1>`) exactly as the
  model wrote them, as every shareable output must. `restore_placeholders` makes a local
  copy with the original values.
- Cache: only an answer that validated and converted is stored; a cached entry is
  validated again before use, and one that fails is a miss.

The request machinery (client, retries, deadline, reply reading) lives in `calls.py`,
shared with the investigation loop (`investigate.py`), which also reuses this module's
answer validation (`parse_answer`, `to_result`).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from incident import log
from incident.digest import Digest
from incident.errors import AIError, AIPermanentError
from incident.llm import cache
from incident.llm.answer import Answer
from incident.llm.budget import Deadline
from incident.llm.calls import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    Sleep,
    Tally,
    backoff_delay,
    call,
    step_client,
)
from incident.llm.evidence import ids_in_prose, read_citation, sort_key
from incident.llm.pricing import estimate_cost
from incident.llm.prompts import PROMPT_VERSION, load_prompt
from incident.llm.reply import (
    MAX_ANSWER_CHARS,
    MAX_RESPONSE_BYTES,
    answer_too_long,
    read_usage,
)
from incident.redact import Redactor
from incident.report import AIAction, AIResult, Hypothesis, Usage

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_CHARS",
    "MAX_OUTPUT_TOKENS",
    "MAX_RESPONSE_BYTES",
    "backoff_delay",
    "build_request",
    "explain",
    "restore_placeholders",
]

# The current Sonnet model (Claude Sonnet 5.5, per Anthropic's models overview).
DEFAULT_MODEL = "claude-sonnet-5-5"
# Seconds for the whole step.
DEFAULT_TIMEOUT = 120.0
# Room for adaptive thinking plus the JSON answer.
MAX_OUTPUT_TOKENS = 8192
MAX_REASON_CHARS = 300

USAGE_UNKNOWN = (
    "the API reported no usable token usage: token counts are incomplete and the cost is unknown"
)


def build_request(digest: Digest, model: str) -> dict[str, Any]:
    """The Messages API parameters (without timeout): cached system prompt, the task and
    the fenced digest as the user turn, and the answer schema as structured output."""
    import anthropic  # deferred: the SDK takes about a second to import

    return {
        "model": model,
        "max_tokens": MAX_OUTPUT_TOKENS,
        "system": [
            {
                "type": "text",
                "text": load_prompt("system"),
                # The system prompt never changes between runs: let the API cache it.
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "messages": [
            {"role": "user", "content": load_prompt("task").rstrip() + "\n\n" + digest.text}
        ],
        "output_config": {
            "format": {"type": "json_schema", "schema": anthropic.transform_schema(Answer)}
        },
    }


def explain(
    digest: Digest,
    *,
    model: str = DEFAULT_MODEL,
    timeout: float = DEFAULT_TIMEOUT,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    max_retries: int = 4,
    redactor: Redactor | None = None,
    evidence_ids: Iterable[str] | None = None,
    client: Any = None,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> AIResult:
    """Ask Claude about the digest. Returns status "ok" with the answer, or "failed" with a
    one-line reason; never raises.

    `timeout` is the budget in seconds for the whole step, retries included. The answer
    keeps the redaction placeholders; `redactor` is accepted for older callers and unused
    (call `restore_placeholders` for a local copy with the original values).
    `evidence_ids` defaults to the ids the digest cites. `client`, `sleep` and `rng` are
    for tests.
    """
    del redactor  # placeholders are restored only on request: restore_placeholders()
    deadline = Deadline(timeout)
    base = AIResult(model=model, prompt_version=PROMPT_VERSION)
    try:
        return _explain(
            digest,
            model,
            base,
            deadline,
            use_cache,
            cache_dir,
            max_retries,
            evidence_ids,
            client,
            sleep,
            rng or random.Random(),
        )
    except AIError as exc:
        return failed_result(base, str(exc))
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing here may break the report
        detail = str(exc) or "no details"
        return failed_result(base, f"unexpected {type(exc).__name__} in the AI step: {detail}")


def restore_placeholders(result: AIResult, redactor: Redactor) -> AIResult:
    """A copy of `result` whose answer texts have this run's placeholders mapped back to the
    original values, for a local, unshared copy (`--no-redact`). `result` is unchanged."""
    r = redactor.restore
    return result.model_copy(
        deep=True,
        update={
            "explanation": r(result.explanation),
            "hypotheses": [
                h.model_copy(deep=True, update={"statement": r(h.statement)})
                for h in result.hypotheses
            ],
            "blast_radius_review": r(result.blast_radius_review),
            "first_actions": [
                a.model_copy(update={"action": r(a.action), "why": r(a.why)})
                for a in result.first_actions
            ],
            "open_questions": [r(q) for q in result.open_questions],
            "narrative": r(result.narrative),
        },
    )


def _explain(
    digest: Digest,
    model: str,
    base: AIResult,
    deadline: Deadline,
    use_cache: bool,
    cache_dir: Path | None,
    max_retries: int,
    evidence_ids: Iterable[str] | None,
    client: Any,
    sleep: Sleep,
    rng: random.Random,
) -> AIResult:
    known = frozenset(evidence_ids) if evidence_ids is not None else digest.evidence_ids
    key = cache.cache_key(digest.text, model, PROMPT_VERSION)
    folder = cache.folder(cache_dir) if use_cache else None

    if folder is not None:
        hit = _from_cache(base, folder, key, known)
        if hit is not None:
            return hit

    answer, tally = _ask(digest, model, deadline, max_retries, client, sleep, rng)
    # Converted before it is stored: an answer that cannot become a result is never cached.
    result = to_result(base, answer, tally.usage, tally.complete, known, cached=False)
    if folder is not None:
        entry = {
            "answer": answer.model_dump(),
            "usage": tally.usage.model_dump(exclude={"estimated_cost_usd"}),
            "usage_complete": tally.complete,
        }
        # An unwritable cache costs a repeat call next time, nothing more.
        with contextlib.suppress(OSError):
            cache.store(folder, key, entry)
    return result


def _from_cache(base: AIResult, folder: Path, key: str, known: frozenset[str]) -> AIResult | None:
    """The cached result, or None when there is none or it does not validate."""
    try:
        entry = cache.load(folder, key)
        if entry is None:
            return None
        answer = Answer.model_validate(entry["answer"])
        if _answer_chars(answer) > MAX_ANSWER_CHARS:
            return None
        usage = read_usage(entry.get("usage"))
        complete = usage is not None and entry.get("usage_complete", True) is True
        result = to_result(base, answer, usage or Usage(), complete, known, cached=True)
    except Exception:  # noqa: BLE001 - a bad entry is a miss; the fresh answer replaces it
        log.debug("ai.cache_ignored", "AI: a cached answer did not validate; asking again")
        return None
    log.debug("ai.cache_hit", f"AI: answer taken from the cache ({key[:12]})", key=key[:12])
    return result


def _ask(
    digest: Digest,
    model: str,
    deadline: Deadline,
    max_retries: int,
    client: Any,
    sleep: Sleep,
    rng: random.Random,
) -> tuple[Answer, Tally]:
    with step_client(client, deadline) as client:
        params = build_request(digest, model)
        tally = Tally()
        reply = call(client, params, deadline, max_retries, sleep, rng, tally)
        answer, problems = parse_answer(reply.text, Answer)
        if answer is not None:
            return answer, tally
        # One repair attempt: show the model its answer and what was wrong with it.
        params["messages"] = [
            *params["messages"],
            {"role": "assistant", "content": reply.text or "(empty)"},
            {"role": "user", "content": _repair_request(problems)},
        ]
        reply = call(client, params, deadline, max_retries, sleep, rng, tally)
        answer, problems = parse_answer(reply.text, Answer)
        if answer is None:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise AIPermanentError(
                f"Claude's answer failed validation after one repair attempt: {problems[0]}{more}"
            )
        return answer, tally


def parse_answer(text: str, model: type[M]) -> tuple[M | None, list[str]]:
    """The validated answer (of `model`), or None and what was wrong with it (at least one
    line)."""
    if len(text) > MAX_ANSWER_CHARS:
        raise AIPermanentError(answer_too_long(len(text)))
    try:
        return model.model_validate_json(text), []
    except ValidationError as exc:
        return None, problems_of(exc)
    except (ValueError, RecursionError) as exc:
        return None, [f"answer: {one_line(str(exc)) or type(exc).__name__}"]


def problems_of(exc: ValidationError) -> list[str]:
    """What a validation error found, one line per problem (at least one)."""
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ())) or 'answer'}: {e.get('msg', 'invalid')}"
        for e in exc.errors()
    ]
    return problems or [one_line(str(exc))]


def _repair_request(problems: list[str]) -> str:
    return (
        "Your answer did not validate against the required schema:\n"
        + "\n".join(f"- {one_line(p)[:300]}" for p in problems[:10])
        + "\nReply again with the complete corrected JSON object and nothing else."
    )


def _answer_chars(answer: Answer) -> int:
    return len(answer.model_dump_json())


def to_result(
    base: AIResult,
    answer: Answer,
    usage: Usage,
    usage_complete: bool,
    known: frozenset[str],
    *,
    cached: bool,
    prefixes: str = "E",
) -> AIResult:
    """Read and check evidence ids against the digest (`prefixes`: the id letters in use),
    and fill the result (placeholders kept as the model wrote them)."""
    unknown: list[str] = []

    def flag(item: str) -> None:
        if item not in unknown:
            unknown.append(item)

    hypotheses = []
    for h in answer.hypotheses:
        good: list[str] = []
        bad: list[str] = []
        for cited in h.evidence:
            ids, labels = read_citation(cited, prefixes)
            for item in [*ids, *labels]:
                target = good if item in known else bad
                if item not in target:
                    target.append(item)
        for item in bad:
            flag(item)
        hypotheses.append(
            Hypothesis(
                statement=h.statement, confidence=h.confidence, evidence=good, unknown_evidence=bad
            )
        )
    texts = [
        answer.explanation,
        answer.blast_radius_review,
        answer.narrative,
        *answer.open_questions,
        *(h.statement for h in answer.hypotheses),
        *(a.action + " " + a.why for a in answer.first_actions),
    ]
    for text in texts:
        ids, labels = ids_in_prose(text, prefixes)
        for item in [*(i for i in ids if i not in known), *labels]:
            flag(item)
    counted = usage.model_copy()
    counted.estimated_cost_usd = estimate_cost(base.model or "", usage) if usage_complete else None
    return base.model_copy(
        update={
            "status": "ok",
            "reason": None if usage_complete else USAGE_UNKNOWN,
            "cached": cached,
            "usage": counted,
            "explanation": answer.explanation,
            "hypotheses": hypotheses,
            "blast_radius_review": answer.blast_radius_review,
            "first_actions": [
                AIAction(action=a.action, risk=a.risk, why=a.why) for a in answer.first_actions
            ],
            "open_questions": list(answer.open_questions),
            "narrative": answer.narrative,
            "unknown_evidence": sorted(unknown, key=sort_key),
        }
    )


def failed_result(base: AIResult, reason: str) -> AIResult:
    return base.model_copy(update={"status": "failed", "reason": one_line(reason) or "unknown"})


def one_line(text: str) -> str:
    """Whitespace and control characters collapsed to single spaces, long text cut."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[:4000]).split())
    return flat if len(flat) <= MAX_REASON_CHARS else flat[: MAX_REASON_CHARS - 1] + "…"
