"""Time for the whole AI step: one deadline shared by every attempt, backoff sleep and
read, and a hard stop for a request that does not keep to its own timeouts (a server that
drips its headers, a resolver that hangs). No SDK or HTTP imports here: this module loads
with `incident.llm`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """A fixed end on the monotonic clock, `seconds` after creation."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self._end

    def label(self) -> str:
        """How the limit is named in reasons: "the 60 s --ai-timeout"."""
        return f"the {self.seconds:g} s --ai-timeout"


class Overdue(Exception):
    """The work did not finish in the time it was given."""


def run_bounded(work: Callable[[], T], seconds: float, name: str = "incident-ai") -> T:
    """`work()`, or Overdue once `seconds` have passed without it returning.

    The work runs in a daemon thread; one that overruns is left to finish on its own (its
    result is dropped, and it cannot keep the process alive). That is the price of a hard
    limit on blocking socket and resolver calls, which offer no way to be interrupted.
    """
    results: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread below
            errors.append(exc)

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if errors:
        raise errors[0]
    if not results:
        raise Overdue(f"no result after {seconds:.1f} s")
    return results[0]
