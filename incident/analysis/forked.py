"""Work on two cores: a forked child computes one part while this process computes another.

The child inherits everything this process holds (no data is sent to it), computes its part
and sends the results back pickled through a pipe, one message at a time, so that this
process can go on with a first result while the child works on the next. Anything odd gives
None for the child's part, for the caller to compute here: no fork or one CPU or other
threads (see `incident.forking`), a child that fails, dies, hangs or sends
something that does not load. The pickles come from our own child over a private pipe,
never from input.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import pickle
import time
from collections.abc import Callable, Iterable
from typing import TypeVar, cast

from incident.forking import can_fork, fork_with_pipe, read_exact, reap

__all__ = ["Child", "can_fork", "in_child", "reap_exited", "spawn"]

Here = TypeVar("Here")
There = TypeVar("There")

# How long the child may take beyond this process's own part before it is given up on.
MIN_WAIT_S = 60.0
_HEADER = 8
# What loading a truncated or foreign pickle can raise besides UnpicklingError.
_LOAD_ERRORS = (AttributeError, ImportError, IndexError, KeyError, TypeError, MemoryError)


class Child:
    """A forked child sending its results one message at a time (see `spawn`)."""

    def __init__(self, pid: int, fd: int) -> None:
        self._pid = pid
        self._pipe = open(fd, "rb", buffering=0, closefd=True)  # noqa: SIM115 - closed by close()
        self._failed = False

    def receive(self, wait_s: float) -> object | None:
        """The next message, waiting at most `wait_s`; None when the child failed, died, hung
        or sent something unreadable (it is killed then, and nothing more comes)."""
        if self._failed:
            return None
        deadline = time.monotonic() + wait_s
        try:
            header = read_exact(self._pipe, _HEADER, deadline)
            body = header and read_exact(self._pipe, int.from_bytes(header, "little"), deadline)
            if body is not None:
                loaded: object = pickle.loads(body)
                return loaded
        except (OSError, ValueError, EOFError, pickle.UnpicklingError, *_LOAD_ERRORS):
            pass
        except BaseException:
            self.close(kill=True)
            raise
        self.close(kill=True)
        return None

    def close(self, kill: bool = False) -> bool:
        """Done with the child: kill and reap it if asked, else reap it if it has exited or
        leave it to `reap_exited` (tearing down a copy of a big process takes a while);
        whether all went well (it was not killed and did not exit with an error)."""
        if self._pid < 0:
            return not self._failed
        with contextlib.suppress(OSError):
            self._pipe.close()
        pid, self._pid = self._pid, -1
        if kill:
            reap(pid, kill=True)
            self._failed = True
            return False
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 1
        if not done:
            _exiting.append(pid)
        elif os.waitstatus_to_exitcode(status) != 0:
            self._failed = True
        return not self._failed


# Children done with but still exiting when closed: reaped by the next `spawn`, or when this
# process exits (so that their CPU time counts as this process's children's).
_exiting: list[int] = []


def reap_exited() -> None:
    """Wait for the children closed while still exiting (they have had all the time since)."""
    while _exiting:
        reap(_exiting.pop(), kill=False)


atexit.register(reap_exited)


def spawn(there: Callable[[], Iterable[object]]) -> Child | None:
    """Fork a child that sends each result `there()` yields; None when the fork fails.

    The caller checks `can_fork()` first, and closes the child when done with it."""
    reap_exited()
    forked = fork_with_pipe(lambda wfd: _child(there, wfd))
    return None if forked is None else Child(*forked)


def _child(there: Callable[[], Iterable[object]], wfd: int) -> None:
    """Send each result, pickled, behind its length."""
    gc.disable()  # a short-lived process: collections would only touch (and copy) pages
    with open(wfd, "wb", closefd=True) as pipe:
        for result in there():
            blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.write(len(blob).to_bytes(_HEADER, "little"))
            pipe.write(blob)
            pipe.flush()


def patience(started: float) -> float:
    """How long to wait for a child once this process's own part, begun at `started`
    (monotonic), is done: a child taking much longer than that is stuck."""
    return max(MIN_WAIT_S, 4 * (time.monotonic() - started))


def in_child(there: Callable[[], There], here: Callable[[], Here]) -> tuple[Here, There | None]:
    """(`here()`, `there()` as computed in a forked child, or None when that failed).

    The caller checks `can_fork()` first: without a usable fork both parts are its own."""
    child = spawn(lambda: (there(),))
    if child is None:
        return here(), None
    started = time.monotonic()
    try:
        mine = here()
    except BaseException:
        child.close(kill=True)
        raise
    theirs = child.receive(patience(started))
    if not child.close(kill=theirs is None):
        return mine, None
    return mine, cast("There", theirs)
