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

Size: about 500 lines: the retry loop, the deadline and the answer's validation are one
protocol, read top to bottom.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from incident import log
from incident.digest import Digest
from incident.errors import AIError, AIPermanentError, AITransientError
from incident.llm import cache
from incident.llm.answer import Answer
from incident.llm.budget import Deadline, Overdue, run_bounded
from incident.llm.evidence import ids_in_prose, read_citation, sort_key
from incident.llm.pricing import estimate_cost
from incident.llm.prompts import PROMPT_VERSION, load_prompt
from incident.llm.reply import (
    MAX_ANSWER_CHARS,
    MAX_RESPONSE_BYTES,
    Reply,
    Unusable,
    answer_too_long,
    read_http,
    read_object,
    read_usage,
)
from incident.llm.sdk_errors import retry_after, translate
from incident.redact import Redactor
from incident.report import AIAction, AIResult, Hypothesis, Usage

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
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# A server asking for a longer wait than this is treated as "not now": give up.
MAX_RETRY_AFTER = 60.0
# The server could not be reached at all (refused, DNS, connect timeout): nothing is
# listening, and waiting seconds between tries rarely changes that.
CONNECT_RETRIES = 2
CONNECT_BACKOFF_BASE = 0.25
CONNECT_BACKOFF_CAP = 0.5
# How long a request may overrun the deadline before it is abandoned (its own timeouts
# normally end it first).
OVERRUN_GRACE = 0.5
MAX_REASON_CHARS = 300

USAGE_UNKNOWN = (
    "the API reported no usable token usage: token counts are incomplete and the cost is unknown"
)

Sleep = Callable[[float], None]


def backoff_delay(attempt: int, server_hint: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter; a server's retry-after wins when it gives one."""
    if server_hint is not None:
        return server_hint
    return rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt)))


def connect_delay(attempt: int, rng: random.Random) -> float:
    """Short jittered waits between tries to reach a server that did not answer at all."""
    return rng.uniform(0.0, min(CONNECT_BACKOFF_CAP, CONNECT_BACKOFF_BASE * (2**attempt)))


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
        return _failed(base, str(exc))
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing here may break the report
        detail = str(exc) or "no details"
        return _failed(base, f"unexpected {type(exc).__name__} in the AI step: {detail}")


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
    folder = _cache_folder(cache_dir) if use_cache else None

    if folder is not None:
        hit = _from_cache(base, folder, key, known)
        if hit is not None:
            return hit

    answer, tally = _ask(digest, model, deadline, max_retries, client, sleep, rng)
    # Converted before it is stored: an answer that cannot become a result is never cached.
    result = _result(base, answer, tally.usage, tally.complete, known, cached=False)
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


def _cache_folder(explicit: Path | None) -> Path | None:
    try:
        return explicit or cache.default_cache_dir()
    except (OSError, RuntimeError):  # no home directory to put it in: run without a cache
        return None


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
        result = _result(base, answer, usage or Usage(), complete, known, cached=True)
    except Exception:  # noqa: BLE001 - a bad entry is a miss; the fresh answer replaces it
        log.debug("ai.cache_ignored", "AI: a cached answer did not validate; asking again")
        return None
    log.debug("ai.cache_hit", f"AI: answer taken from the cache ({key[:12]})", key=key[:12])
    return result


@dataclass
class _Tally:
    """Token usage summed over the calls of one step; incomplete when a reply had none."""

    usage: Usage = field(default_factory=Usage)
    complete: bool = True

    def add(self, usage: Usage | None) -> None:
        if usage is None:
            self.complete = False
            return
        self.usage.input_tokens += usage.input_tokens
        self.usage.output_tokens += usage.output_tokens
        self.usage.cache_creation_input_tokens += usage.cache_creation_input_tokens
        self.usage.cache_read_input_tokens += usage.cache_read_input_tokens


def _ask(
    digest: Digest,
    model: str,
    deadline: Deadline,
    max_retries: int,
    client: Any,
    sleep: Sleep,
    rng: random.Random,
) -> tuple[Answer, _Tally]:
    import anthropic  # deferred: the SDK takes about a second to import

    from incident.llm import transport

    own = client is None
    if own:
        try:
            client = transport.make_client(deadline)
        except anthropic.AnthropicError as exc:
            raise translate(exc) from exc
    try:
        params = build_request(digest, model)
        tally = _Tally()
        reply = _call(client, params, deadline, max_retries, sleep, rng, tally)
        answer, problems = _parse_answer(reply.text)
        if answer is not None:
            return answer, tally
        # One repair attempt: show the model its answer and what was wrong with it.
        params["messages"] = [
            *params["messages"],
            {"role": "assistant", "content": reply.text or "(empty)"},
            {"role": "user", "content": _repair_request(problems)},
        ]
        reply = _call(client, params, deadline, max_retries, sleep, rng, tally)
        answer, problems = _parse_answer(reply.text)
        if answer is None:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise AIPermanentError(
                f"Claude's answer failed validation after one repair attempt: {problems[0]}{more}"
            )
        return answer, tally
    finally:
        if own:
            with contextlib.suppress(Exception):
                client.close()


def _call(
    client: Any,
    params: dict[str, Any],
    deadline: Deadline,
    max_retries: int,
    sleep: Sleep,
    rng: random.Random,
    tally: _Tally,
) -> Reply:
    """One logical request, retrying transient failures while attempts and time are left."""
    import anthropic  # deferred: the SDK takes about a second to import

    from incident.llm import transport

    attempt = 0
    while True:
        left = deadline.remaining()
        if left <= 0:
            raise AITransientError(f"no answer from the Claude API within {deadline.label()}")
        try:
            reply = run_bounded(
                functools.partial(_send, client, params, left), left + OVERRUN_GRACE
            )
        except Overdue:
            raise AITransientError(
                f"the Claude API did not answer in time; gave up after {deadline.label()}"
            ) from None
        except Unusable as exc:
            raise AIPermanentError(str(exc)) from exc
        except TypeError as exc:
            # The SDK signals "no credentials at all" with a TypeError, not an SDK error.
            if "authentication method" not in str(exc):
                raise
            raise AIPermanentError(
                "no Anthropic credentials: set ANTHROPIC_API_KEY (or run with --no-ai)"
            ) from exc
        except anthropic.AnthropicError as exc:
            unusable = _unusable_cause(exc)
            if unusable is not None:
                raise AIPermanentError(str(unusable)) from exc
            error = translate(exc)
            if not isinstance(error, AITransientError):
                raise error from exc
            if deadline.expired():
                raise AITransientError(f"{error}; gave up after {deadline.label()}") from exc
            connect = transport.could_not_connect(exc)
            if attempt >= (min(max_retries, CONNECT_RETRIES) if connect else max_retries):
                raise AITransientError(f"{error} (gave up after {attempt + 1} attempts)") from exc
            hint = retry_after(exc)
            if hint is not None and hint > MAX_RETRY_AFTER:
                raise AITransientError(f"{error} (server asked to wait {hint:.0f} s)") from exc
            delay = connect_delay(attempt, rng) if connect else backoff_delay(attempt, hint, rng)
            if delay >= deadline.remaining():
                raise AITransientError(
                    f"{error}; gave up after {deadline.label()} "
                    f"(the next retry was due in {delay:.1f} s)"
                ) from exc
            log.info(
                "ai.retry",
                f"AI: {error}; retrying in {delay:.1f} s (attempt {attempt + 2})",
                attempt=attempt + 2,
                delay_s=round(delay, 2),
                reason=str(error),
            )
            sleep(delay)
            attempt += 1
            continue
        tally.add(reply.usage)
        if reply.stop_reason == "refusal":
            why = f": {reply.stop_explanation}" if reply.stop_explanation else ""
            raise AIPermanentError(f"Claude declined to answer (stop_reason refusal){why}")
        return reply


def _send(client: Any, params: dict[str, Any], left: float) -> Reply:
    """One HTTP attempt, its reply read by us rather than by the SDK's lenient parser."""
    from incident.llm import transport

    timeout = transport.request_timeout(left)
    messages = client.messages
    raw_api = getattr(messages, "with_raw_response", None)
    if raw_api is None:  # a client that hands back parsed objects only
        return read_object(messages.create(**params, timeout=timeout))
    http = raw_api.create(**params, timeout=timeout).http_response
    return read_http(http.status_code, http.headers, http.content, http.headers.get("request-id"))


def _unusable_cause(exc: BaseException) -> Unusable | None:
    """The Unusable our response hook raised, if the SDK wrapped one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Unusable):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _parse_answer(text: str) -> tuple[Answer | None, list[str]]:
    """The validated answer, or None and what was wrong with it (at least one line)."""
    if len(text) > MAX_ANSWER_CHARS:
        raise AIPermanentError(answer_too_long(len(text)))
    try:
        return Answer.model_validate_json(text), []
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'answer'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return None, problems or [_one_line(str(exc))]
    except (ValueError, RecursionError) as exc:
        return None, [f"answer: {_one_line(str(exc)) or type(exc).__name__}"]


def _repair_request(problems: list[str]) -> str:
    return (
        "Your answer did not validate against the required schema:\n"
        + "\n".join(f"- {_one_line(p)[:300]}" for p in problems[:10])
        + "\nReply again with the complete corrected JSON object and nothing else."
    )


def _answer_chars(answer: Answer) -> int:
    return len(answer.model_dump_json())


def _result(
    base: AIResult,
    answer: Answer,
    usage: Usage,
    usage_complete: bool,
    known: frozenset[str],
    *,
    cached: bool,
) -> AIResult:
    """Read and check evidence ids against the digest, and fill the result (placeholders
    kept as the model wrote them)."""
    unknown: list[str] = []

    def flag(item: str) -> None:
        if item not in unknown:
            unknown.append(item)

    hypotheses = []
    for h in answer.hypotheses:
        good: list[str] = []
        bad: list[str] = []
        for cited in h.evidence:
            ids, labels = read_citation(cited)
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
        ids, labels = ids_in_prose(text)
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


def _failed(base: AIResult, reason: str) -> AIResult:
    return base.model_copy(update={"status": "failed", "reason": _one_line(reason) or "unknown"})


def _one_line(text: str) -> str:
    """Whitespace and control characters collapsed to single spaces, long text cut."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[:4000]).split())
    return flat if len(flat) <= MAX_REASON_CHARS else flat[: MAX_REASON_CHARS - 1] + "…"
