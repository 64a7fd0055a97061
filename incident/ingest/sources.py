"""Where input bytes come from: files, directories walked in a stable order, standard input,
and gzip layers peeled by their magic bytes. Nothing here knows about formats.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

from incident.errors import EmptyInputError, UnreadableInputError

GZIP_MAGIC = b"\x1f\x8b"
# A gzip that expands past this is refused rather than exhausting memory.
MAX_EXPANDED_BYTES = 8 * 1024**3
STDIN = "-"


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

    def peek(self, size: int) -> bytes:
        return (self._data or b"")[:size]


def gunzip(data: bytes, name: str) -> bytes:
    """Peel gzip layers (a .gz of a .gz is still one input); refuse corrupt ones."""
    layers = 0
    while data[:2] == GZIP_MAGIC:
        layers += 1
        if layers > 4:
            raise UnreadableInputError(name, "gzip nested more than 4 times", "a gzip of one file")
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out = inflater.decompress(data, MAX_EXPANDED_BYTES)
            if inflater.unconsumed_tail:
                raise UnreadableInputError(
                    name, f"gzip expands past {MAX_EXPANDED_BYTES} bytes", "a smaller export"
                )
            if not inflater.eof:
                raise UnreadableInputError(name, "truncated gzip stream", "a complete .gz file")
            rest = inflater.unused_data
            if rest[:2] == GZIP_MAGIC:
                # Concatenated gzip members are one stream to gzip(1); read them all.
                out += gzip.decompress(rest)
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise UnreadableInputError(
                name, f"corrupt gzip data ({exc})", "a valid .gz file"
            ) from exc
        data = out
    return data


def read_path(path: str) -> Blob:
    """The bytes of a file or of standard input, gzip already peeled."""
    if path == STDIN:
        name = "<stdin>"
        try:
            data = sys.stdin.buffer.read()
        except (OSError, ValueError, AttributeError) as exc:
            raise UnreadableInputError(name, f"cannot read standard input ({exc})") from exc
    else:
        name = path
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise UnreadableInputError(
                name, "no such file", "an existing file, directory or -"
            ) from exc
        except IsADirectoryError as exc:
            raise UnreadableInputError(name, "is a directory") from exc
        except PermissionError as exc:
            raise UnreadableInputError(name, "permission denied", "a readable file") from exc
        except OSError as exc:
            raise UnreadableInputError(name, f"cannot read ({exc.strerror or exc})") from exc
    return Blob(name, gunzip(data, name))


def read_source(path: str) -> tuple[str, bytes]:
    """(display name, bytes with gzip peeled) of a file or `-`, for commands that rewrite it."""
    blob = read_path(path)
    return blob.name, blob.take()


def expand(path: str) -> tuple[bool, list[str]]:
    """(is_directory, files): a directory becomes every regular file under it, sorted.

    Hidden files and folders (".git", ".DS_Store") are left out: they are never telemetry.
    """
    if path == STDIN or not os.path.isdir(path):
        return False, [path]
    files = sorted(_walk(Path(path)))
    if not files:
        raise EmptyInputError(path, "empty directory", "trace, log or alert files inside")
    return True, files


def _walk(root: Path) -> Iterator[str]:
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        raise UnreadableInputError(str(root), f"cannot list directory ({exc.strerror})") from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file():
            yield entry.path
