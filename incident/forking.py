"""The second core: forking a child that reports back through a pipe, and its safe use.

Shared by the span conversion (`ingest.parallel`) and the analysis (`analysis.forked`): when
a fork is safe and pays, how to start a child with the write end of a pipe, read exactly so
many bytes before a deadline, and reap a child (killing it first if asked). A child never
returns into the caller: it runs its part and leaves with `os._exit`, so no atexit handler
runs twice and no buffer the parent owns is flushed twice.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    """Whether a second core and a safe fork are at hand: a fork copies only the calling
    thread, so none may run beside it (the receiver, an MCP server's workers)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2


def fork_with_pipe(work: Callable[[int], None]) -> tuple[int, int] | None:
    """(child pid, read end of its pipe): the child runs `work(write_fd)` and exits, 0 when
    it returned; None when the pipe or the fork could not be made."""
    try:
        fd, wfd = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        os.close(wfd)
        return None
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        code = 1
        try:
            os.close(fd)
            work(wfd)
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    return pid, fd


def read_exact(pipe: Any, size: int, deadline: float) -> bytearray | None:
    """`size` bytes from the pipe; None at end of file or past the deadline (monotonic)."""
    buf = bytearray(size)
    got = 0
    with memoryview(buf) as view:
        while got < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                return None
            n = pipe.readinto(view[got:])
            if not n:
                return None
            got += n
    return buf


def reap(pid: int, kill: bool) -> bool:
    """Wait for the child (killing it first if asked); whether it exited cleanly."""
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:  # pragma: no cover - retried by Python since 3.5
            continue
        except ChildProcessError:
            return False
        return os.waitstatus_to_exitcode(status) == 0 and not kill
