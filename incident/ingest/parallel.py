"""Span conversion of a big OTLP JSON document on two cores.

After the typed decode, a big document's spans are still raw JSON bytes. A forked child
converts the tail of them while this process converts the head; the child sends its spans
back as msgpack columns (no field names, each shared string once per frame), which are
rebuilt into model spans at C speed and appended after the head, so the span order, the
fields and the tally are exactly those of the one-core path.

Anything odd falls back to that path: no fork, one CPU, other threads running (a fork
copies only the calling thread), a small input, or a child that fails, dies, hangs or sends
something that does not decode (its share is then converted here).
"""

from __future__ import annotations

import operator
import os
import sys
import time
from collections.abc import Iterable, Sized
from itertools import chain, compress, repeat
from operator import attrgetter
from typing import Any

import msgspec

from incident.forking import can_fork, fork_with_pipe, read_exact, reap
from incident.ingest.otlp_spans import ResourceSpansJ, SpanSink, resource_of
from incident.ingest.toolkit import INTERN_CHARS, Tally
from incident.model import Span, SpanEvent, SpanLink

# Fewer raw spans than this are converted on one core: the fork and the transfer would
# cost more than they save.
MIN_SPANS = 50_000
# The child's share of the spans: a little under half, because this process still has to
# rebuild the child's spans after converting its own.
CHILD_SHARE = 0.42
# Spans per message from the child: bounds the transient memory of one message.
FRAME_SPANS = 32_768
# How long the child may take beyond this process's own share before it is given up on.
MIN_WAIT_S = 60.0

_intern = sys.intern
_HEADER = 8
_COUNTERS = ("bad_ids", "bad_spans", "repaired", "self_parent", "truncated", "duplicates")
_NO_RESOURCE: dict[str, Any] = {}

# (resource index, raw spans of one scope or part of one)
Segment = tuple[int, list[msgspec.Raw]]
Resource = tuple[str, dict[str, Any]]


class _Frame(msgspec.Struct, array_like=True, gc=False, tag=1):
    """A run of the child's spans as columns; `runs` are (resource index, span count)."""

    runs: list[tuple[int, int]]
    trace_ids: list[str]
    span_ids: list[str]
    parent_ids: list[str | None]
    names: list[str]
    kinds: list[int]
    starts: list[int]
    ends: list[int]
    codes: list[int]
    messages: list[str]
    # Attribute keys of each span as an index into `shapes`; the values of all spans, one
    # after the other in the order of their keys.
    shapes: list[tuple[str, ...]]
    shape_ids: list[int]
    values: list[Any]
    # The short strings among the values, to share one copy of each.
    strings: list[str]
    events: list[tuple[SpanEvent, ...]]
    links: list[tuple[SpanLink, ...]]
    no_duration: list[bool]


class _Done(msgspec.Struct, array_like=True, gc=False, tag=2):
    """The child's last message: its tally, in the order of _COUNTERS."""

    counters: list[int]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Frame | _Done)


def convert(
    lists: Iterable[list[ResourceSpansJ]], sink: SpanSink, min_spans: int | None = None
) -> bool:
    """Convert every span of `lists` into `sink` on two cores; False (and nothing done)
    when the input has fewer than `min_spans` (default MIN_SPANS) spans or a second core
    is not usable."""
    lists = list(lists)
    min_spans = MIN_SPANS if min_spans is None else min_spans
    total = sum(len(sc.spans) for lst in lists for rs in lst for sc in _scopes(rs))
    if total < max(min_spans, 2) or not can_fork():
        return False
    resources, segments = _segments(lists, sink.tally)
    head, tail = _split(segments, total)
    del segments
    forked = _fork(tail)
    if forked is None:
        _convert_here(head + tail, resources, sink)
        return True
    pid, fd = forked
    started = time.monotonic()
    try:
        _convert_here(head, resources, sink)
    except BaseException:
        os.close(fd)
        reap(pid, kill=True)
        raise
    del head
    wait = max(MIN_WAIT_S, 4 * (time.monotonic() - started))
    theirs = _collect(pid, fd, resources, sink, time.monotonic() + wait)
    if theirs is None:
        _convert_here(tail, resources, sink)
    else:
        sink.out.extend(theirs)
    return True


def _scopes(rs: ResourceSpansJ) -> Iterable[Any]:
    return chain(rs.scope_spans, rs.instrumentation_library_spans)


def _segments(
    lists: list[list[ResourceSpansJ]], tally: Tally
) -> tuple[list[Resource], list[Segment]]:
    """Each resource's (service, attributes) and each scope's raw spans, in document order;
    the document's lists are emptied."""
    resources: list[Resource] = []
    segments: list[Segment] = []
    for lst in lists:
        for rs in lst:
            resources.append(resource_of(rs, tally))
            for scope in _scopes(rs):
                if scope.spans:
                    segments.append((len(resources) - 1, scope.spans))
                scope.spans = []
        lst.clear()
    return resources, segments


def _split(segments: list[Segment], total: int) -> tuple[list[Segment], list[Segment]]:
    """(head, tail): the tail holds about CHILD_SHARE of the spans, cut inside a scope."""
    want = total - max(1, int(total * CHILD_SHARE))
    head: list[Segment] = []
    for n, (index, raws) in enumerate(segments):
        if len(raws) < want:
            head.append((index, raws))
            want -= len(raws)
            continue
        head.append((index, raws[:want]))
        rest = [(index, raws[want:])] if want < len(raws) else []
        return head, rest + segments[n + 1 :]
    return head, []


def _convert_here(segments: list[Segment], resources: list[Resource], sink: SpanSink) -> None:
    for index, raws in segments:
        service, res = resources[index]
        sink.raw_spans(raws, service, res)


# --- the child -----------------------------------------------------------------------------


def _fork(tail: list[Segment]) -> tuple[int, int] | None:
    """(child pid, read end of its pipe), or None when the fork fails."""
    return fork_with_pipe(lambda wfd: _child(tail, wfd))


def _child(tail: list[Segment], wfd: int) -> None:
    """Convert the tail, encode it frame by frame, then send it all at the end: writing as
    it goes would stall on the pipe until the parent is done with its own share."""
    tally = Tally("")
    sink = SpanSink(tally)
    blobs: list[bytes] = []
    runs: list[tuple[int, int]] = []
    for index, raws in tail:
        before = len(sink.out)
        sink.raw_spans(raws, "", _NO_RESOURCE)
        runs.append((index, len(sink.out) - before))
        if len(sink.out) >= FRAME_SPANS:
            blobs.append(_ENCODER.encode(_frame(runs, sink.out)))
            sink.out, runs = [], []
    if runs:
        blobs.append(_ENCODER.encode(_frame(runs, sink.out)))
    del sink.out
    blobs.append(_ENCODER.encode(_Done([getattr(tally, c) for c in _COUNTERS])))
    with open(wfd, "wb", closefd=True) as pipe:
        for blob in blobs:
            pipe.write(len(blob).to_bytes(_HEADER, "little"))
            pipe.write(blob)


def _frame(runs: list[tuple[int, int]], spans: list[Span]) -> _Frame:
    """A frame of `spans`; the loops run in C (map, compress), none per span in Python."""

    def column(name: str) -> list[Any]:
        return list(map(attrgetter(name), spans))

    attrs = column("attributes")
    keys = list(map(tuple, attrs))
    shapes = list(dict.fromkeys(keys))
    shape_ids = list(map({k: i for i, k in enumerate(shapes)}.__getitem__, keys))
    values = list(chain.from_iterable(map(dict.values, attrs)))
    strings = set(compress(values, map(operator.is_, map(type, values), repeat(str))))
    return _Frame(
        runs, column("trace_id"), column("span_id"), column("parent_id"), column("name"),
        column("kind"), column("start_ns"), column("end_ns"), column("status"),
        column("status_message"), shapes, shape_ids, values,
        [s for s in strings if len(s) <= INTERN_CHARS],
        column("events"), column("links"), column("no_duration"),
    )  # fmt: skip


# --- back in the parent --------------------------------------------------------------------


def _collect(
    pid: int, fd: int, resources: list[Resource], sink: SpanSink, deadline: float
) -> list[Span] | None:
    """The child's spans rebuilt, its tally added to `sink`'s; None if it failed."""
    shared = {t: t for t in sink.trace_ids.values() if t is not None}
    spans: list[Span] = []
    done: _Done | None = None
    try:
        with open(fd, "rb", buffering=0, closefd=True) as pipe:
            while done is None:
                header = read_exact(pipe, _HEADER, deadline)
                body = header and read_exact(pipe, int.from_bytes(header, "little"), deadline)
                if body is None:
                    break
                msg = _DECODER.decode(body)
                del body
                if isinstance(msg, _Done):
                    done = msg
                else:
                    spans.extend(_rebuild(msg, resources, shared))
    except (OSError, ValueError, TypeError, msgspec.DecodeError):
        done = None
    ok = reap(pid, kill=done is None)
    if done is None or not ok or len(done.counters) != len(_COUNTERS):
        return None
    for name, count in zip(_COUNTERS, done.counters, strict=True):
        setattr(sink.tally, name, getattr(sink.tally, name) + count)
    return spans


def _rebuild(frame: _Frame, resources: list[Resource], shared: dict[str, str]) -> list[Span]:
    """Model spans from one frame; the loops run in C (map, zip), none per span in Python.

    Strings are shared as the one-core path shares them: names, attribute keys and short
    values interned, trace ids with the spans this process converted.
    """
    count = sum(n for _, n in frame.runs)
    columns: list[Sized] = [frame.trace_ids, frame.span_ids, frame.parent_ids, frame.names]
    columns += (frame.kinds, frame.starts, frame.ends, frame.codes, frame.messages)
    columns += (frame.shape_ids, frame.events, frame.links, frame.no_duration)
    shapes = [tuple(map(_intern, keys)) for keys in frame.shapes]
    keys = list(map(shapes.__getitem__, frame.shape_ids))
    if any(len(c) != count for c in columns) or sum(map(len, keys)) != len(frame.values):
        raise ValueError("a frame's columns disagree in length")
    # Only strings are looked up (a str never equals a number), so the unhashable values
    # (lists, maps) must not be: a rare frame holding one is rebuilt value by value.
    canon = {s: _intern(s) for s in frame.strings}.get
    try:
        # zip stops at the end of a span's keys before taking a value: each dict takes
        # exactly its own values from the one shared iterator.
        values = map(canon, frame.values, frame.values)
        attrs = list(map(dict, map(zip, keys, repeat(values))))
    except TypeError:
        one_by_one = iter(frame.values)
        attrs = [{k: _canon(canon, next(one_by_one)) for k in ks} for ks in keys]
    services = chain.from_iterable(repeat(resources[i][0], n) for i, n in frame.runs)
    res = chain.from_iterable(repeat(resources[i][1], n) for i, n in frame.runs)
    return list(
        map(
            Span,
            map(shared.setdefault, frame.trace_ids, frame.trace_ids),
            frame.span_ids,
            frame.parent_ids,
            services,
            map(_intern, frame.names),
            frame.kinds,
            frame.starts,
            frame.ends,
            frame.codes,
            frame.messages,
            attrs,
            frame.events,
            frame.links,
            res,
            frame.no_duration,
        )
    )


def _canon(canon: Any, value: Any) -> Any:
    return canon(value, value) if type(value) is str else value
