"""Where input bytes come from: files, directories walked in a stable order, standard input,
and gzip layers peeled by their magic bytes. Nothing here knows about formats.

Nothing here reads without a bound either: only regular files are opened (a FIFO or a device
would block or never end), every read stops one byte past the size limit, and gzip is
inflated a slice at a time so a bomb is refused once its output passes the same limit.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from incident.errors import EmptyInputError, UnreadableInputError, UsageError

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
# Bytes one input may hold, read or decompressed (all gzip layers and members together).
DEFAULT_MAX_INPUT_BYTES = 4 * 1024**3
# The environment's say on that limit, used when the caller passes none.
MAX_INPUT_ENV = "INCIDENT_MAX_INPUT_SIZE"
# A .gz of a .gz is still one input; deeper than this it is a trick, not an export.
MAX_GZIP_LAYERS = 4
_RAISE_IT = f"raise the limit with --max-input-size or {MAX_INPUT_ENV}"
_READ_CHUNK = 8 * 1024 * 1024
# Compressed bytes fed to zlib per call: the unconsumed tail it copies stays this small.
_INFLATE_IN = 1024 * 1024
_INFLATE_OUT = 8 * 1024 * 1024
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
# Opening with O_NONBLOCK means that even a file swapped for a FIFO after the check
# cannot block; reads of regular files ignore the flag.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
# Reads up to n bytes; an empty result is the end.
Reader = Callable[[int], bytes]


class Blob:
    """The bytes of one input, handed over once so the reader can drop them early."""

    __slots__ = ("_data", "name")

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._data: bytes | None = data

    def take(self) -> bytes:
        """Return the bytes and forget them: big inputs must not stay alive twice."""
        data, self._data = self._data, None
        if data is None:
            raise RuntimeError(f"{self.name}: bytes already taken")
        return data


# --- the size limit ------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """Bytes for "1048576", "512K", "100M", "4G" or "1.5GiB" (binary multiples).

    Raises ValueError for anything else, zero included.
    """
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a size: {text!r}")
    size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if size <= 0:
        raise ValueError(f"not a positive size: {text!r}")
    return size


def max_input_bytes(max_bytes: int | None = None) -> int:
    """The size limit of one input: `max_bytes` if given, else $INCIDENT_MAX_INPUT_SIZE,
    else DEFAULT_MAX_INPUT_BYTES."""
    if max_bytes is not None:
        if max_bytes <= 0:
            raise UsageError(f"the input size limit must be positive, not {max_bytes}")
        return max_bytes
    raw = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_BYTES
    try:
        return parse_size(raw)
    except ValueError as exc:
        raise UsageError(
            f"{MAX_INPUT_ENV}={raw!r} is not a size: give bytes, or a number with K, M or G"
        ) from exc


def size_text(size: int) -> str:
    """A limit as people say it, with the exact bytes: "10 MiB (10485760 bytes)"."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.3g} {unit} ({size} bytes)"
    return f"{size} bytes"


def _too_big(name: str, limit: int, what: str = "larger than") -> UnreadableInputError:
    return UnreadableInputError(
        name, f"{what} {size_text(limit)}", f"a smaller input, or {_RAISE_IT}"
    )


# --- gzip ----------------------------------------------------------------------------------


def gunzip(data: bytes, name: str, limit: int | None = None) -> bytes:
    """Peel gzip layers (a .gz of a .gz is still one input); refuse corrupt ones and bombs.

    Everything decompressed, over all layers and concatenated members, counts against
    `limit`; past it (or past MAX_GZIP_LAYERS layers) the input is refused.
    """
    cap = max_input_bytes(limit)
    budget = cap
    layers = 0
    while data[:2] == GZIP_MAGIC:
        layers += 1
        if layers > MAX_GZIP_LAYERS:
            raise UnreadableInputError(
                name, f"gzip nested more than {MAX_GZIP_LAYERS} times", "a gzip of one file"
            )
        try:
            data = _inflate(data, name, budget, cap)
        except zlib.error as exc:
            raise UnreadableInputError(
                name, f"corrupt gzip data ({exc})", "a valid .gz file"
            ) from exc
        budget -= len(data)
    return data


def _inflate(data: bytes, name: str, budget: int, cap: int) -> bytes:
    """One gzip layer, every concatenated member of it, at most `budget` bytes out (what is
    left of the input's limit, `cap`, after the outer layers)."""
    view = memoryview(data)
    size = len(data)
    out: list[bytes] = []
    total = 0
    start = 0
    # Each member is a gzip stream of its own; gzip(1) reads them as one file.
    while start < size and view[start : start + 2] == GZIP_MAGIC:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pos = start
        while not inflater.eof:
            chunk: bytes | memoryview = inflater.unconsumed_tail
            if not chunk:
                if pos >= size:
                    raise UnreadableInputError(name, "truncated gzip stream", "a complete .gz file")
                chunk = view[pos : pos + _INFLATE_IN]
                pos += len(chunk)
            piece = inflater.decompress(chunk, min(_INFLATE_OUT, budget - total + 1))
            total += len(piece)
            if total > budget:
                raise _too_big(name, cap, "expands past")
            if piece:
                out.append(piece)
        # What the member did not use belongs to the next one (or is trailing padding).
        start = pos - len(inflater.unused_data)
    return out[0] if len(out) == 1 else b"".join(out)


# --- reading -------------------------------------------------------------------------------


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _not_regular(name: str, kind: str) -> UnreadableInputError:
    if kind == "a directory":
        return UnreadableInputError(name, "is a directory")
    return UnreadableInputError(
        name, f"is {kind}, not a regular file", "a regular file, a directory or -"
    )


def _os_error(name: str, exc: OSError) -> UnreadableInputError:
    if isinstance(exc, FileNotFoundError):
        return UnreadableInputError(name, "no such file", "an existing file, directory or -")
    if isinstance(exc, PermissionError):
        return UnreadableInputError(name, "permission denied", "a readable file")
    if isinstance(exc, IsADirectoryError):
        return UnreadableInputError(name, "is a directory")
    return UnreadableInputError(name, f"cannot read ({exc.strerror or exc})")


def _read_file(path: str, limit: int) -> bytes:
    """A regular file's bytes, refused before opening when it is anything else."""
    try:
        # stat() first: opening a FIFO for reading would wait for a writer forever.
        kind = _kind(os.stat(path).st_mode)
        if kind is not None:
            raise _not_regular(path, kind)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _os_error(path, exc) from exc
    try:
        with open(fd, "rb") as fh:
            info = os.fstat(fd)
            kind = _kind(info.st_mode)
            if kind is not None:
                raise _not_regular(path, kind)
            if info.st_size > limit:
                raise _too_big(path, limit)
            return _read_capped(fh.read, path, limit, info.st_size)
    except OSError as exc:
        raise _os_error(path, exc) from exc


def _read_capped(read: Reader, name: str, limit: int, expected: int = 0) -> bytes:
    """Read to the end, but never more than `limit` bytes (one more proves it too big).

    The first call asks for all `expected` bytes and one more: a buffered reader fills that
    in one allocation (however many system calls it takes), so a file read whole needs no
    join. Past that, or without an expected size (a pipe), it goes a chunk at a time.
    """
    chunks: list[bytes] = []
    total = 0
    size = min(expected, limit) + 1 if expected else min(_READ_CHUNK, limit + 1)
    while True:
        chunk = read(size)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_big(name, limit)
        size = min(_READ_CHUNK, limit + 1 - total)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _stdin_kind(stream: BinaryIO) -> str | None:
    """Standard input may be a file, a pipe or a terminal; a device such as /dev/zero would
    only feed noise until the limit, so it is refused (the null device reads as empty)."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None  # not backed by a descriptor (tests, embedding): nothing to check
    mode = info.st_mode
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISCHR(mode) and not stream.isatty():
        try:
            null = os.stat(os.devnull)
        except OSError:
            return None
        if info.st_rdev != null.st_rdev:
            return "a character device"
    return None


def _read_stdin(limit: int) -> bytes:
    name = "<stdin>"
    try:
        stream = sys.stdin.buffer
        kind = _stdin_kind(stream)
        if kind is not None:
            raise UnreadableInputError(
                name, f"is {kind}, not a file or a pipe", "a regular file or a pipe on stdin"
            )
        return _read_capped(stream.read, name, limit)
    except (OSError, ValueError, AttributeError) as exc:
        raise UnreadableInputError(name, f"cannot read standard input ({exc})") from exc


def read_path(path: str, *, max_bytes: int | None = None) -> Blob:
    """The bytes of a regular file or of standard input, gzip already peeled.

    At most `max_bytes` (default: max_input_bytes()) are read or decompressed; a bigger
    input, a FIFO, a device or a socket is an UnreadableInputError naming it.
    """
    limit = max_input_bytes(max_bytes)
    name = "<stdin>" if path == STDIN else path
    try:
        data = _read_stdin(limit) if path == STDIN else _read_file(path, limit)
        return Blob(name, gunzip(data, name, limit))
    except MemoryError as exc:
        # The limit is above what this machine can hold: still this input's problem.
        raise UnreadableInputError(
            name,
            f"does not fit in memory (the limit is {size_text(limit)})",
            f"a smaller input; set --max-input-size or {MAX_INPUT_ENV} lower to refuse it early",
        ) from exc


def read_source(path: str, *, max_bytes: int | None = None) -> tuple[str, bytes]:
    """(display name, bytes with gzip peeled) of a file or `-`, for commands that rewrite it."""
    blob = read_path(path, max_bytes=max_bytes)
    return blob.name, blob.take()


# --- directories ---------------------------------------------------------------------------


def expand(path: str, skipped: list[str] | None = None) -> tuple[bool, list[str]]:
    """(is_directory, files): a directory becomes every regular file under it, sorted.

    Hidden files and folders (".git", ".DS_Store") are left out: they are never telemetry.
    What cannot be used inside (an unreadable folder, a FIFO, a broken link) is left out
    too, each with a line in `skipped`; only a directory with nothing readable is an error.
    """
    if path == STDIN or not os.path.isdir(path):
        return False, [path]
    notes: list[str] = []
    try:
        files = sorted(_walk(str(Path(path)), notes))
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot list directory ({exc.strerror})") from exc
    if skipped is not None:
        skipped.extend(notes)
    if not files:
        if notes:
            raise UnreadableInputError(
                path, f"nothing readable inside ({len(notes)} skipped; first: {notes[0]})"
            )
        raise EmptyInputError(path, "empty directory", "trace, log or alert files inside")
    return True, files


def _walk(root: str, notes: list[str]) -> list[str]:
    """Every regular file under `root`, iteratively (no depth limit, no recursion).

    Links are followed to regular files only; a linked folder is not entered, so a link
    loop cannot make the walk endless. Failing to list `root` itself raises OSError.
    """
    files: list[str] = []
    pending = [root]
    seen: set[tuple[int, int]] = set()
    while pending:
        folder = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue  # the same folder mounted twice
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            if folder == root:
                raise
            notes.append(f"{folder}: cannot list directory ({exc.strerror or exc})")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            note = _entry(entry, files, pending)
            if note:
                notes.append(f"{entry.path}: {note}")
    return files


def _entry(entry: os.DirEntry[str], files: list[str], pending: list[str]) -> str | None:
    """File the entry where it belongs; the reason it is skipped, if it is."""
    try:
        if entry.is_dir(follow_symlinks=False):
            pending.append(entry.path)
            return None
        link = entry.is_symlink()
        try:
            mode = entry.stat(follow_symlinks=True).st_mode
        except FileNotFoundError:
            return "broken symbolic link" if link else "vanished while listed"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        files.append(entry.path)
        return None
    kind = _kind(mode)
    if link and kind == "a directory":
        return "link to a directory, not followed"
    return f"is {kind}, not a regular file"
