"""Claude's review of an alert triage: the redacted triage, fenced as telemetry, in one
request with the answer schema as structured output; the answer validated (one repair
attempt), its group names checked against the triage, usage and cost reported.

The same machinery as the explanation (`calls.py`: client, retries with backoff, the
step's deadline, defensive reply reading) and the same cache (keyed by the fenced text,
the model and the triage prompt's version). Never raises: a failure is a
`TriageAI(status="failed")` with a one-line reason.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from incident import log
from incident.digest import FENCE_CLOSE, FENCE_OPEN, estimate_tokens, neutralise_fences
from incident.errors import AIError, AIPermanentError
from incident.llm import cache
from incident.llm.answer import TriageAnswer
from incident.llm.budget import Deadline
from incident.llm.calls import Sleep, Tally, call, step_client
from incident.llm.explain import DEFAULT_MODEL, DEFAULT_TIMEOUT, one_line, parse_answer
from incident.llm.pricing import estimate_cost
from incident.llm.prompts import PROMPT_VERSION, load_prompt
from incident.llm.reply import read_usage
from incident.report import TriageAI, TriageAIAction, Usage

# Room for the short answer (and thinking, should a model use it).
MAX_OUTPUT_TOKENS = 4096
# Fields of the triage document that help the model; links and ranks are left out, and so
# are the clock (`now`, durations): the same alerts make the same request, and its cache
# entry is reused.
_GROUP_FIELDS = (
    "name",
    "service",
    "status",
    "severity",
    "count",
    "started_at",
    "ended_at",
    "role",
    "role_reason",
    "summary",
    "instances",
    "runbooks",
    "actions",
    "matches_likely_cause",
)
_CACHE_VERSION = f"triage-{PROMPT_VERSION}"


def fence_triage(document: Mapping[str, Any], max_tokens: int = 8000) -> str:
    """The (already redacted) triage document as compact JSON inside the fence: strings
    stay quoted and escaped, look-alikes of the fence tags are neutralised, and groups are
    left out from the end (and counted) until it fits `max_tokens`."""
    groups = [
        {k: g[k] for k in _GROUP_FIELDS if g.get(k) not in (None, [], "")}
        for g in document.get("groups", [])
        if isinstance(g, Mapping)
    ]
    head = {
        k: document[k]
        for k in ("headline", "firing", "resolved", "likely_cause", "notices")
        if document.get(k) not in (None, [], "")
    }
    kept = len(groups)
    while True:
        body = {**head, "groups": groups[:kept]}
        if kept < len(groups):
            body["groups_left_out"] = len(groups) - kept
        text = neutralise_fences(json.dumps(body, ensure_ascii=False, indent=1))
        if kept == 0 or estimate_tokens(text) <= max_tokens:
            return f"{FENCE_OPEN}\n{text}\n{FENCE_CLOSE}"
        kept = max(0, kept - max(1, kept // 5))


def build_triage_request(fenced: str, model: str) -> dict[str, Any]:
    import anthropic  # deferred: the SDK takes about a second to import

    return {
        "model": model,
        "max_tokens": MAX_OUTPUT_TOKENS,
        "system": [
            {
                "type": "text",
                "text": load_prompt("triage"),
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "messages": [
            {"role": "user", "content": load_prompt("triage_task").rstrip() + "\n\n" + fenced}
        ],
        "output_config": {
            "format": {"type": "json_schema", "schema": anthropic.transform_schema(TriageAnswer)}
        },
    }


def review_triage(
    fenced: str,
    groups: Iterable[str],
    *,
    model: str = DEFAULT_MODEL,
    timeout: float = DEFAULT_TIMEOUT,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    max_retries: int = 4,
    client: Any = None,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> TriageAI:
    """Ask Claude to review the fenced triage (see `fence_triage`); `groups` are the names
    its actions may refer to. Never raises."""
    base = TriageAI(model=model, prompt_version=PROMPT_VERSION)
    names = frozenset(groups)
    key = cache.cache_key(fenced, model, _CACHE_VERSION)
    folder = cache.folder(cache_dir) if use_cache else None
    try:
        if folder is not None:
            hit = _from_cache(base, folder, key, names)
            if hit is not None:
                return hit
        deadline = Deadline(timeout)
        with step_client(client, deadline) as live:
            answer, tally = _ask(
                live,
                build_triage_request(fenced, model),
                deadline,
                max_retries,
                sleep,
                rng or random.Random(),
            )
        result = _result(base, answer, tally.usage, tally.complete, names, cached=False)
        if folder is not None:
            entry = {
                "answer": answer.model_dump(),
                "usage": tally.usage.model_dump(exclude={"estimated_cost_usd"}),
                "usage_complete": tally.complete,
            }
            with contextlib.suppress(OSError):
                cache.store(folder, key, entry)
        return result
    except AIError as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - the boundary: the triage stands without it
        reason = f"unexpected {type(exc).__name__} in the AI step: {exc or 'no details'}"
    return base.model_copy(update={"status": "failed", "reason": one_line(reason) or "unknown"})


def _ask(
    client: Any,
    params: dict[str, Any],
    deadline: Deadline,
    max_retries: int,
    sleep: Sleep,
    rng: random.Random,
) -> tuple[TriageAnswer, Tally]:
    tally = Tally()
    reply = call(client, params, deadline, max_retries, sleep, rng, tally)
    answer, problems = parse_answer(reply.text, TriageAnswer)
    if answer is not None:
        return answer, tally
    params["messages"] = [
        *params["messages"],
        {"role": "assistant", "content": reply.text or "(empty)"},
        {
            "role": "user",
            "content": "Your answer did not validate against the required schema:\n"
            + "\n".join(f"- {one_line(p)[:300]}" for p in problems[:10])
            + "\nReply again with the complete corrected JSON object and nothing else.",
        },
    ]
    reply = call(client, params, deadline, max_retries, sleep, rng, tally)
    answer, problems = parse_answer(reply.text, TriageAnswer)
    if answer is None:
        raise AIPermanentError(
            f"Claude's triage review failed validation after one repair attempt: {problems[0]}"
        )
    return answer, tally


def _result(
    base: TriageAI,
    answer: TriageAnswer,
    usage: Usage,
    complete: bool,
    names: frozenset[str],
    *,
    cached: bool,
) -> TriageAI:
    unknown = sorted({a.group for a in answer.first_actions if a.group not in names})
    counted = usage.model_copy()
    counted.estimated_cost_usd = estimate_cost(base.model or "", usage) if complete else None
    return base.model_copy(
        update={
            "status": "ok",
            "reason": None if complete else "the API reported no usable token usage",
            "cached": cached,
            "usage": counted,
            "explanation": answer.explanation,
            "blast_radius_review": answer.blast_radius_review,
            "first_actions": [
                TriageAIAction(group=a.group, action=a.action, risk=a.risk, why=a.why)
                for a in answer.first_actions
            ],
            "open_questions": list(answer.open_questions),
            "unknown_groups": unknown,
        }
    )


def _from_cache(base: TriageAI, folder: Path, key: str, names: frozenset[str]) -> TriageAI | None:
    try:
        entry = cache.load(folder, key)
        if entry is None:
            return None
        answer = TriageAnswer.model_validate(entry["answer"])
        usage = read_usage(entry.get("usage"))
        complete = usage is not None and entry.get("usage_complete", True) is True
        result = _result(base, answer, usage or Usage(), complete, names, cached=True)
    except Exception:  # noqa: BLE001 - a bad entry is a miss
        return None
    log.debug("ai.cache_hit", f"AI: triage review taken from the cache ({key[:12]})")
    return result
