"""Forked children that fail in the ways a real one can, for the two-core tests of ingest
(`incident.ingest.parallel`) and analysis (`incident.analysis.forked`): each takes what the
child would work on and the write end of its pipe."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

Child = Callable[[Any, int], None]


def killed_mid_message(start: bytes) -> Child:
    """A child that announces a big message, writes its first bytes (`start`: how that
    message's encoding begins) and is killed."""

    def killed(work: Any, wfd: int) -> None:
        os.write(wfd, (10**6).to_bytes(8, "little") + start + b"partial")
        os.kill(os.getpid(), signal.SIGKILL)

    return killed


def raises(work: Any, wfd: int) -> None:
    raise RuntimeError("child broke")


def garbage(work: Any, wfd: int) -> None:
    """A whole message that decodes as nothing."""
    os.write(wfd, (5).to_bytes(8, "little") + b"\xc1\xc1\xc1\xc1\xc1")
