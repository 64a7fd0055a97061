"""The Claude step: send the digest with the versioned prompts, get a structured answer
back, check its evidence ids, map placeholders back, and report usage and cost. It never
raises for API trouble: failures come back as `AIResult(status="failed", reason=...)`.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from incident.digest import Digest
from incident.errors import AIError, AIPermanentError, AITransientError
from incident.llm import cache
from incident.llm.answer import Answer
from incident.llm.pricing import estimate_cost
from incident.llm.prompts import PROMPT_VERSION, load_prompt
from incident.llm.sdk_errors import retry_after, translate
from incident.redact import Redactor
from incident.report import AIAction, AIResult, Hypothesis, Usage

# The current Sonnet model (Claude Sonnet 5.5, per Anthropic's models overview).
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_TIMEOUT = 120.0
# Room for adaptive thinking plus the JSON answer.
MAX_OUTPUT_TOKENS = 8192
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# A server asking for a longer wait than this is treated as "not now": give up.
MAX_RETRY_AFTER = 60.0

_EVIDENCE_ID = re.compile(r"\bE\d+\b")

Sleep = Callable[[float], None]


def backoff_delay(attempt: int, server_hint: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter; a server's retry-after wins when it gives one."""
    if server_hint is not None:
        return server_hint
    return rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt)))


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
    one-line reason; never raises for API or answer problems.

    `evidence_ids` defaults to the ids the digest cites; `redactor` to the digest's own (it
    holds the placeholder mapping). `client`, `sleep` and `rng` are for tests.
    """
    red = redactor or digest.redactor
    known = frozenset(evidence_ids) if evidence_ids is not None else digest.evidence_ids
    base = AIResult(model=model, prompt_version=PROMPT_VERSION)
    folder = cache_dir or cache.default_cache_dir()
    key = cache.cache_key(digest.text, model, PROMPT_VERSION)

    if use_cache:
        entry = cache.load(folder, key)
        if entry is not None:
            try:
                answer = Answer.model_validate(entry["answer"])
                usage = Usage.model_validate(entry.get("usage", {}))
            except (KeyError, ValidationError):
                entry = None  # a stale entry from another schema: ask again
            else:
                return _result(base, answer, usage, known, red, cached=True)

    try:
        answer, usage = _ask(digest, model, timeout, max_retries, client, sleep, rng)
    except AIError as exc:
        return base.model_copy(update={"status": "failed", "reason": str(exc)})

    usage.estimated_cost_usd = estimate_cost(model, usage)
    if use_cache:
        # An unwritable cache costs a repeat call next time, nothing more.
        with contextlib.suppress(OSError):
            cache.store(folder, key, {"answer": answer.model_dump(), "usage": usage.model_dump()})
    return _result(base, answer, usage, known, red, cached=False)


def _ask(
    digest: Digest,
    model: str,
    timeout: float,
    max_retries: int,
    client: Any,
    sleep: Sleep,
    rng: random.Random | None,
) -> tuple[Answer, Usage]:
    import anthropic  # deferred: the SDK takes about a second to import

    if client is None:
        try:
            # Our own retry loop below: the SDK's would hide attempts from us and the tests.
            client = anthropic.Anthropic(max_retries=0, timeout=timeout)
        except anthropic.AnthropicError as exc:
            raise translate(exc) from exc
    params = build_request(digest, model)
    usage = Usage()
    rand = rng or random.Random()
    message = _call(client, params, timeout, max_retries, sleep, rand, usage)
    text = _answer_text(message)
    try:
        return Answer.model_validate_json(text), usage
    except ValidationError as first:
        # One repair attempt: show the model its answer and what was wrong with it.
        params["messages"] = [
            *params["messages"],
            {"role": "assistant", "content": text or "(empty)"},
            {"role": "user", "content": _repair_request(first)},
        ]
    message = _call(client, params, timeout, max_retries, sleep, rand, usage)
    text = _answer_text(message)
    try:
        return Answer.model_validate_json(text), usage
    except ValidationError as second:
        raise AIPermanentError(
            "Claude's answer failed validation after one repair attempt: " + _first_error(second)
        ) from second


def _call(
    client: Any,
    params: dict[str, Any],
    timeout: float,
    max_retries: int,
    sleep: Sleep,
    rng: random.Random,
    usage: Usage,
) -> Any:
    """One logical request with bounded retries of transient failures."""
    import anthropic  # deferred: the SDK takes about a second to import

    attempt = 0
    while True:
        try:
            message = client.messages.create(**params, timeout=timeout)
        except TypeError as exc:
            # The SDK signals "no credentials at all" with a TypeError, not an SDK error.
            if "authentication method" not in str(exc):
                raise
            raise AIPermanentError(
                "no Anthropic credentials: set ANTHROPIC_API_KEY (or run with --no-ai)"
            ) from exc
        except anthropic.AnthropicError as exc:
            error = translate(exc)
            hint = retry_after(exc)
            if not isinstance(error, AITransientError) or attempt >= max_retries:
                if isinstance(error, AITransientError):
                    raise AITransientError(
                        f"{error} (gave up after {attempt + 1} attempts)"
                    ) from exc
                raise error from exc
            if hint is not None and hint > MAX_RETRY_AFTER:
                raise AITransientError(f"{error} (server asked to wait {hint:.0f} s)") from exc
            sleep(backoff_delay(attempt, hint, rng))
            attempt += 1
            continue
        _add_usage(usage, message)
        if message.stop_reason == "refusal":
            details = getattr(message, "stop_details", None)
            why = getattr(details, "explanation", None) or getattr(details, "category", None)
            raise AIPermanentError(
                "Claude declined to answer (stop_reason refusal)" + (f": {why}" if why else "")
            )
        return message


def _add_usage(usage: Usage, message: Any) -> None:
    u = message.usage
    usage.input_tokens += u.input_tokens or 0
    usage.output_tokens += u.output_tokens or 0
    usage.cache_creation_input_tokens += u.cache_creation_input_tokens or 0
    usage.cache_read_input_tokens += u.cache_read_input_tokens or 0


def _answer_text(message: Any) -> str:
    """The JSON answer: the text blocks of the reply (thinking blocks are skipped)."""
    return "".join(b.text for b in message.content if getattr(b, "type", None) == "text")


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc).splitlines()[0]
    e = errors[0]
    where = ".".join(str(p) for p in e.get("loc", ())) or "answer"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {e.get('msg', 'invalid')}{more}"


def _repair_request(exc: ValidationError) -> str:
    problems = [
        f"- {'.'.join(str(p) for p in e.get('loc', ())) or 'answer'}: {e.get('msg')}"
        for e in exc.errors()[:10]
    ] or [f"- {str(exc).splitlines()[0]}"]
    return (
        "Your answer did not validate against the required schema:\n"
        + "\n".join(problems)
        + "\nReply again with the complete corrected JSON object and nothing else."
    )


def _result(
    base: AIResult,
    answer: Answer,
    usage: Usage,
    known: frozenset[str],
    red: Redactor,
    *,
    cached: bool,
) -> AIResult:
    """Check evidence ids against the digest, restore placeholders, and fill the result."""
    unknown: set[str] = set()
    hypotheses = []
    for h in answer.hypotheses:
        good = [e for e in h.evidence if e in known]
        bad = [e for e in h.evidence if e not in known]
        unknown.update(bad)
        hypotheses.append(
            Hypothesis(
                statement=red.restore(h.statement),
                confidence=h.confidence,
                evidence=good,
                unknown_evidence=bad,
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
        unknown.update(i for i in _EVIDENCE_ID.findall(text) if i not in known)
    return base.model_copy(
        update={
            "status": "ok",
            "reason": None,
            "cached": cached,
            "usage": usage,
            "explanation": red.restore(answer.explanation),
            "hypotheses": hypotheses,
            "blast_radius_review": red.restore(answer.blast_radius_review),
            "first_actions": [
                AIAction(action=red.restore(a.action), risk=a.risk, why=red.restore(a.why))
                for a in answer.first_actions
            ],
            "open_questions": [red.restore(q) for q in answer.open_questions],
            "narrative": red.restore(answer.narrative),
            "unknown_evidence": sorted(unknown, key=lambda i: int(i[1:])),
        }
    )
