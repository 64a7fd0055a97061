"""Writing a result file (`-o OUT`): atomically, never through a symlink to a file, with one
clear line when it cannot be done.

The text goes to a temporary file in the target's folder, is flushed to disk, and replaces
the target by rename: a reader never sees half a file, and a kill or a full disk leaves the
old contents in place. A target that is no regular file (`/dev/null`, a named pipe, a
terminal, `/dev/stdout` and the `/dev/fd/N` of a shell's process substitution) is a stream,
not a file to replace: the text is written into it. Replacing it by rename would put a
regular file where the device was (as root, `/dev/null` itself).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from incident import log
from incident.errors import UsageError


def is_stream(path: Path) -> bool:
    """Whether `path` (followed through symlinks) exists and is neither a regular file nor
    a folder: a device, a pipe, a socket or a terminal."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_target(path: Path) -> None:
    """Fail before any work when `path` cannot be written as a result file."""
    if path.is_symlink() and not is_stream(path):
        raise UsageError(f"{path}: is a symbolic link; not writing through it (name the file)")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory (expected a file name for the output)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{path}: its folder {folder} does not exist")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`; UsageError (exit 2) naming the file when it cannot."""
    check_target(path)
    if is_stream(path):
        _write_stream(path, data)
        return
    folder = path.parent if str(path.parent) else Path(".")
    existed = path.exists()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the output: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if existed:
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"{path}: cannot write the output: {exc.strerror or exc}") from exc
    verb = "replaced" if existed else "wrote"
    log.info("output.written", f"{verb} {path}", path=str(path), replaced=existed)


def _write_stream(path: Path, data: bytes) -> None:
    """Write into a device or pipe as it is: never created, truncated or replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the output: {exc.strerror or exc}") from exc
    log.info("output.written", f"wrote {path}", path=str(path), replaced=False)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
