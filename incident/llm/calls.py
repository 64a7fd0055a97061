"""One logical request to the Messages API, shared by the single-call explanation and the
investigation loop: the SDK client for the step, transient failures retried with jittered
exponential backoff while attempts and the step's deadline allow, permanent ones raised
as `AIPermanentError`, every reply read defensively (`reply.py`), and token usage summed
in a `Tally`. Raises only `incident.errors` AI errors (and bugs).
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from incident import log
from incident.errors import AIPermanentError, AITransientError
from incident.llm.budget import Deadline, Overdue, run_bounded
from incident.llm.reply import Reply, Unusable, read_http, read_object
from incident.llm.sdk_errors import retry_after, translate
from incident.report import Usage

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

Sleep = Callable[[float], None]


def backoff_delay(attempt: int, server_hint: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter; a server's retry-after wins when it gives one."""
    if server_hint is not None:
        return server_hint
    return rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt)))


def connect_delay(attempt: int, rng: random.Random) -> float:
    """Short jittered waits between tries to reach a server that did not answer at all."""
    return rng.uniform(0.0, min(CONNECT_BACKOFF_CAP, CONNECT_BACKOFF_BASE * (2**attempt)))


@dataclass
class Tally:
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


@contextlib.contextmanager
def step_client(client: Any, deadline: Deadline) -> Iterator[Any]:
    """`client` when a test gives one, else a fresh SDK client for this step, closed after."""
    if client is not None:
        yield client
        return
    import anthropic  # deferred: the SDK takes about a second to import

    from incident.llm import transport

    try:
        own = transport.make_client(deadline)
    except anthropic.AnthropicError as exc:
        raise translate(exc) from exc
    try:
        yield own
    finally:
        with contextlib.suppress(Exception):
            own.close()


def call(
    client: Any,
    params: dict[str, Any],
    deadline: Deadline,
    max_retries: int,
    sleep: Sleep,
    rng: random.Random,
    tally: Tally,
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
            reply = run_bounded(functools.partial(send, client, params, left), left + OVERRUN_GRACE)
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


def send(client: Any, params: dict[str, Any], left: float) -> Reply:
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
