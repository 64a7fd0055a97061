"""Reading inputs: paths, directories, stdin and gzip in; one Bundle of spans, logs and
alerts out, with what was read around counted in its data quality.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Protocol

from incident.errors import EmptyInputError, InputError, UsageError
from incident.ingest.detect import ALERTS, EXPECTED, LOGS, read_blob
from incident.ingest.sources import Blob, expand, max_input_bytes, read_path
from incident.model import Bundle, Span

Progress = Callable[[str, int, int], None]

__all__ = ["Progress", "Remote", "finish", "load", "load_one"]


class Remote(Protocol):
    """Reads the inputs that are not files (live source URLs): their bodies as Blobs."""

    def handles(self, path: str) -> bool: ...

    def fetch(self, path: str, kind: str | None) -> list[Blob]: ...


def load_one(path: str, force: str | None = None, *, max_bytes: int | None = None) -> Bundle:
    """One file or `-`: its content detected (or its kind forced: "logs", "alerts").

    `max_bytes` bounds what is read and decompressed (default: sources.max_input_bytes()).
    """
    return read_blob(read_path(path, max_bytes=max_bytes), force)


def load(
    inputs: Sequence[str],
    logs: Sequence[str] = (),
    alerts: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    remote: Remote | None = None,
) -> Bundle:
    """Everything the command line names, read into one Bundle.

    INPUTs are detected by content; paths under `logs` and `alerts` are read as that kind.
    A directory contributes every file in it that is recognised; the others, and whatever
    inside cannot be read (a locked folder, a FIFO), are skipped with a warning. Each input
    is read and decompressed up to `max_bytes` (default: sources.max_input_bytes()). Raises
    InputError when an input gives nothing usable. Paths `remote` handles (live source
    URLs) are fetched by it and their bodies read by the same readers.
    """
    limit = max_input_bytes(max_bytes)
    plan: list[tuple[str, str | None, bool, list[str]]] = []
    skipped: list[str] = []
    for force, paths in ((None, inputs), (LOGS, logs), (ALERTS, alerts)):
        for path in paths:
            if remote is not None and remote.handles(path):
                plan.append((path, force, False, [path]))
                continue
            is_dir, files = expand(path, skipped)
            plan.append((path, force, is_dir, files))
    if not plan:
        raise UsageError("no input given: name a trace, log or alert file, a directory or -")
    total = sum(len(files) for *_, files in plan)
    done = 0
    bundle = Bundle()
    for note in skipped:
        bundle.quality.warn(f"skipped {note}")
    for path, force, is_dir, files in plan:
        used = 0
        for file in files:
            if not is_dir and remote is not None and remote.handles(file):
                for blob in remote.fetch(file, force):
                    bundle.extend(read_blob(blob, force))
                used += 1
            elif not is_dir:
                bundle.extend(load_one(file, force, max_bytes=limit))
                used += 1
            else:
                try:
                    bundle.extend(load_one(file, force, max_bytes=limit))
                    used += 1
                except InputError as exc:
                    bundle.quality.warn(f"skipped {exc}")
            done += 1
            if progress is not None:
                progress(f"read {file}", done, total)
        if is_dir and not used:
            raise EmptyInputError(path, f"none of its {len(files)} files is recognised", EXPECTED)
    finish(bundle)
    # The loaded records live for the whole run: keep the collector from rescanning them.
    gc.freeze()
    return bundle


def finish(bundle: Bundle) -> None:
    """Drop repeated (trace, span) ids across all inputs and fill the span/trace counts."""
    if len({s.span_id for s in bundle.spans}) == len(bundle.spans):
        # The common case, checked at C speed: no span id repeats at all.
        bundle.quality.spans = len(bundle.spans)
        bundle.quality.traces = len({s.trace_id for s in bundle.spans})
        return
    first_trace: dict[str, str] = {}
    clashes: set[tuple[str, str]] = set()
    kept: list[Span] = []
    dropped = 0
    for span in bundle.spans:
        seen = first_trace.get(span.span_id)
        if seen is None:
            first_trace[span.span_id] = span.trace_id
        elif seen == span.trace_id or (span.trace_id, span.span_id) in clashes:
            dropped += 1
            continue
        else:
            # The same span id in another trace is legal; remember the pair instead.
            clashes.add((span.trace_id, span.span_id))
        kept.append(span)
    if dropped:
        bundle.spans = kept
        bundle.quality.duplicates += dropped
        bundle.quality.warn(f"{dropped} spans with a repeated trace and span id dropped")
    del first_trace, clashes
    bundle.quality.spans = len(bundle.spans)
    bundle.quality.traces = len({s.trace_id for s in bundle.spans})
