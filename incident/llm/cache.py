"""The on-disk answer cache: one JSON file per (digest text, model, prompt version).

Only redacted answers are stored (placeholders, never restored values), so the cache holds
nothing the digest did not already show. Only answers that validated are written, and
atomically (a temporary file renamed over the entry). Reading trusts nothing: an entry
that is not a regular file (a FIFO would block the reader forever, a device never ends)
is never opened, one that is too big is not read, and one that does not parse as a JSON
object is a miss. Whatever is found there, the caller validates it again before use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

# Far above any real entry (an answer is capped at 100,000 characters).
MAX_ENTRY_BYTES = 2 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def default_cache_dir() -> Path:
    """$INCIDENT_CACHE_DIR, else $XDG_CACHE_HOME/incident, else ~/.cache/incident."""
    explicit = os.environ.get("INCIDENT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "incident"


def folder(explicit: Path | None = None) -> Path | None:
    """Where answers are cached: `explicit`, else the default; None when there is no home
    directory to put it in (the run then goes without a cache)."""
    try:
        return explicit or default_cache_dir()
    except (OSError, RuntimeError):
        return None


def cache_key(digest_text: str, model: str, prompt_version: str) -> str:
    h = hashlib.sha256()
    for part in (digest_text, model, prompt_version):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def entry_path(folder: Path, key: str) -> Path:
    return folder / f"{key}.json"


def load(folder: Path, key: str) -> dict[str, Any] | None:
    """The entry as a JSON object, or None for anything else (missing, not a regular file,
    too big, unreadable, not JSON, not an object)."""
    data = _read_regular(entry_path(folder, key))
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, UnicodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _read_regular(path: Path) -> bytes | None:
    try:
        # stat follows symlinks: a link to a FIFO or a device is judged by what it points to.
        if not _is_small_regular(os.stat(path)):
            return None
        # Non-blocking, so that a FIFO swapped in after the stat cannot block the open...
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            # ...and checked again on what was actually opened.
            if not _is_small_regular(os.fstat(fh.fileno())):
                return None
            data = fh.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None
    return data if len(data) <= MAX_ENTRY_BYTES else None


def _is_small_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and st.st_size <= MAX_ENTRY_BYTES


def store(folder: Path, key: str, entry: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename) so no reader ever sees half an entry.
    Whatever stood at the entry's path is replaced: a corrupt file, a FIFO, a symlink, an
    empty directory. A non-empty directory is left alone (OSError: the caller ignores it).
    An entry too big to be read back is not written."""
    data = json.dumps(entry, ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_ENTRY_BYTES:
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = entry_path(folder, key)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.lstat(target).st_mode):
                os.rmdir(target)  # only an empty one; a full one raises and is kept
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
