"""Zipkin v2 JSON (a list of spans, or a list of traces) into model spans.

Zipkin lets a client and a server report one RPC under one span id; both records are kept,
and every extra record sharing an id gets a derived id so parent links form a tree. Records
of the usual shape are decoded into typed structs a batch at a time; others go generic.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from incident.ingest.bounds import safe_str
from incident.ingest.ids import derived_span_id, norm_id
from incident.ingest.toolkit import (
    INTERN_CHARS,
    MAX_ATTR_CHARS,
    UNKNOWN_SERVICE,
    Paused,
    Tally,
    to_int,
)
from incident.model import Bundle, InputInfo, Span, SpanEvent, SpanKind, StatusCode

_KINDS = {
    "CLIENT": SpanKind.CLIENT,
    "SERVER": SpanKind.SERVER,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
_US = 1000
_SERVERS = (SpanKind.SERVER, SpanKind.CONSUMER)
_intern = sys.intern


def looks_like_zipkin(obj: object) -> bool:
    """A list whose first span-like item has Zipkin's `traceId` + `id` keys."""
    if not isinstance(obj, list) or not obj:
        return False
    first = obj[0]
    if isinstance(first, list) and first:
        first = first[0]
    return isinstance(first, dict) and "traceId" in first and "id" in first


def _flatten(obj: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in obj:
        if isinstance(item, list):
            out.extend(item)
        else:
            out.append(item)
    return out


def _tags(raw: object, tally: Tally) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and len(value) > MAX_ATTR_CHARS:
            value = tally.cut(value)
        elif isinstance(value, dict | list):
            value = safe_str(value, MAX_ATTR_CHARS)
        out[str(key)] = value
    return out


class _Resources:
    """One shared resource dict per distinct local endpoint."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}

    def get(self, endpoint: object) -> tuple[str, dict[str, Any]]:
        ep = endpoint if isinstance(endpoint, dict) else {}
        service = ep.get("serviceName")
        service = str(service) if service else UNKNOWN_SERVICE
        ip = str(ep.get("ipv4") or ep.get("ipv6") or "")
        port = str(ep.get("port") or "")
        return self.shared(service, ip, port)

    def get_typed(self, ep: _EndpointZ | None) -> tuple[str, dict[str, Any]]:
        if ep is None:
            return self.shared(UNKNOWN_SERVICE, "", "")
        return self.shared(
            ep.serviceName or UNKNOWN_SERVICE, ep.ipv4 or ep.ipv6 or "", str(ep.port or "")
        )

    def shared(self, service: str, ip: str, port: str) -> tuple[str, dict[str, Any]]:
        key = (service, ip, port)
        found = self._seen.get(key)
        if found is None:
            service = _intern(service)
            res: dict[str, Any] = {"service.name": service}
            if ip:
                res["host.ip"] = ip
                res["service.instance.id"] = f"{ip}:{port}" if port else ip
            found = self._seen[key] = (service, res)
        return found


def read(obj: object, name: str) -> Bundle:
    """Spans from a decoded Zipkin v2 JSON value; bad records are counted, not fatal."""
    tally = Tally(name)
    resources = _Resources()
    records = _flatten(obj) if isinstance(obj, list) else []
    return _collect(((_span(raw, tally, resources), _shared(raw)) for raw in records), tally, name)


def _shared(raw: object) -> bool:
    return bool(isinstance(raw, dict) and raw.get("shared"))


def _collect(pairs: Iterable[tuple[Span | None, bool]], tally: Tally, name: str) -> Bundle:
    """The bundle from (span or None, `shared` flag) pairs, duplicates dropped, ids split."""
    spans: list[Span] = []
    shared_flags: list[bool] = []
    seen: set[tuple[str, str, int, str, int, str]] = set()
    for span, shared in pairs:
        if span is None:
            continue
        # The same record reported twice is a duplicate; a second half of an RPC is not.
        key = (span.trace_id, span.span_id, span.kind, span.service, span.start_ns, span.name)
        if key in seen:
            tally.duplicates += 1
            continue
        seen.add(key)
        spans.append(span)
        shared_flags.append(shared)
    del seen
    _split_shared_ids(spans, shared_flags)
    bundle = Bundle(spans=spans)
    untimed = sum(1 for s in spans if not s.start_ns)
    if untimed:
        bundle.quality.warn(f"{name}: {untimed} spans have no timestamp")
    bundle.inputs.append(InputInfo(path=name, kind="traces", format="zipkin", records=len(spans)))
    tally.apply(bundle)
    return bundle


def _span(raw: object, tally: Tally, resources: _Resources) -> Span | None:
    if not isinstance(raw, dict):
        tally.bad_spans += 1
        return None
    tid, sid = norm_id(raw.get("traceId")), norm_id(raw.get("id"))
    if tid is None or sid is None:
        tally.bad_ids += 1
        return None
    service, res = resources.get(raw.get("localEndpoint"))
    attrs = _tags(raw.get("tags"), tally)
    remote = raw.get("remoteEndpoint")
    if isinstance(remote, dict) and remote.get("serviceName"):
        attrs.setdefault("peer.service", str(remote["serviceName"]))
    events: list[SpanEvent] = []
    annotations = raw.get("annotations")
    if isinstance(annotations, list):
        for ann in annotations:
            if isinstance(ann, dict):
                t = to_int(ann.get("timestamp"))
                events.append(SpanEvent(time_ns=(t or 0) * _US, name=str(ann.get("value", ""))))
    kind = raw.get("kind")
    return _build(
        tid,
        sid,
        norm_id(raw.get("parentId")),
        service,
        res,
        attrs,
        to_int(raw.get("timestamp")),
        to_int(raw.get("duration")),
        events,
        _KINDS.get(kind.upper(), SpanKind.UNSPECIFIED) if isinstance(kind, str) else 0,
        str(raw.get("name") or ""),
        tally,
    )


def _build(
    tid: str,
    sid: str,
    pid: str | None,
    service: str,
    res: dict[str, Any],
    attrs: dict[str, Any],
    start: int | None,
    duration: int | None,
    events: list[SpanEvent],
    kind: int,
    name: str,
    tally: Tally,
) -> Span:
    """What both readers share once the fields are out: status, times, repairs."""
    if pid == sid:
        pid = None
        tally.self_parent += 1
    status, message = StatusCode.UNSET, ""
    if "error" in attrs:
        # Zipkin marks failure by the presence of the tag; its value is the message.
        status, message = StatusCode.ERROR, str(attrs["error"])
    no_duration = duration is None
    if duration is None or duration < 0:
        if duration is not None:
            tally.repaired += 1
        duration = 0
    start_ns = (start or 0) * _US
    return Span(
        trace_id=tid,
        span_id=sid,
        parent_id=pid,
        service=service,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=start_ns + duration * _US,
        status=status,
        status_message=message,
        attributes=attrs,
        events=tuple(events),
        resource=res,
        no_duration=no_duration or start is None,
    )


# --- typed fast path -----------------------------------------------------------------------


class _EndpointZ(msgspec.Struct, gc=False):
    serviceName: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    port: int | None = None


class _AnnotationZ(msgspec.Struct, gc=False):
    timestamp: int | None = None
    value: str = ""


class _SpanZ(msgspec.Struct, gc=False):
    traceId: str
    id: str
    parentId: str | None = None
    name: str | None = None
    kind: str | None = None
    timestamp: int | None = None
    duration: int | None = None
    localEndpoint: _EndpointZ | None = None
    remoteEndpoint: _EndpointZ | None = None
    # Scalars only: an object or list value sends the record down the generic path.
    tags: dict[str, str | int | float | bool | None] = {}
    annotations: list[_AnnotationZ] = []
    shared: bool | None = None


# Records stay undecoded until their batch is due, so only one batch is held as structs.
_TOP = msgspec.json.Decoder(list[msgspec.Raw])
_ONE = msgspec.json.Decoder(_SpanZ)
_BATCH_DECODER = msgspec.json.Decoder(list[_SpanZ])
_BATCH = 2048
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def read_bytes(data: bytes, name: str) -> Bundle | None:
    """Spans from Zipkin v2 JSON bytes; None when they are not a list of Zipkin records."""
    with Paused():
        try:
            items = _TOP.decode(data)
        except _DECODE_ERRORS:
            return None
        if not items or _first_byte(items[0]) not in (b"{", b"["):
            return None
        tally = Tally(name)
        resources = _Resources()
        bundle = _collect(_typed_pairs(items, tally, resources), tally, name)
    return bundle if bundle.spans else None


def _first_byte(raw: msgspec.Raw) -> bytes:
    return memoryview(raw)[:1].tobytes()


def _typed_pairs(
    items: list[msgspec.Raw], tally: Tally, resources: _Resources
) -> Iterator[tuple[Span | None, bool]]:
    ids = _TraceIds()
    for at in range(0, len(items), _BATCH):
        chunk = items[at : at + _BATCH]
        try:
            batch = _BATCH_DECODER.decode(b"[" + b",".join(chunk) + b"]")
        except _DECODE_ERRORS:
            # A list of traces, or a record of another shape: one item at a time.
            for item in chunk:
                yield from _item_pairs(item, tally, resources)
            continue
        # No string is longer than its record's JSON text: short records need no cutting.
        small = max(map(len, chunk)) <= MAX_ATTR_CHARS
        for sp in batch:
            yield _typed_span(sp, tally, resources, ids, small), bool(sp.shared)


class _TraceIds:
    """The last trace id seen and its normal form: a trace's records usually come together."""

    __slots__ = ("norm", "raw")

    def __init__(self) -> None:
        self.raw = ""
        self.norm: str | None = None

    def get(self, raw: str) -> str | None:
        if raw != self.raw:
            self.raw, self.norm = raw, norm_id(raw)
        return self.norm


def _item_pairs(
    item: msgspec.Raw, tally: Tally, resources: _Resources
) -> Iterator[tuple[Span | None, bool]]:
    try:
        records: list[_SpanZ] = (
            _BATCH_DECODER.decode(item) if _first_byte(item) == b"[" else [_ONE.decode(item)]
        )
    except _DECODE_ERRORS:
        try:
            obj = msgspec.json.decode(item)
        except _DECODE_ERRORS:
            tally.bad_spans += 1
            return
        for raw in obj if isinstance(obj, list) else [obj]:
            yield _span(raw, tally, resources), _shared(raw)
        return
    ids = _TraceIds()
    for sp in records:
        yield _typed_span(sp, tally, resources, ids, False), bool(sp.shared)


def _typed_tags(
    tags: dict[str, str | int | float | bool | None], tally: Tally, small: bool
) -> dict[str, Any]:
    intern = _intern
    if small:
        return {
            intern(k): intern(v) if type(v) is str and len(v) <= INTERN_CHARS else v
            for k, v in tags.items()
        }
    out: dict[str, Any] = {}
    for key, value in tags.items():
        if isinstance(value, str) and len(value) > MAX_ATTR_CHARS:
            value = tally.cut(value)
        elif isinstance(value, str) and len(value) <= INTERN_CHARS:
            value = intern(value)
        out[intern(key)] = value
    return out


def _typed_span(
    sp: _SpanZ, tally: Tally, resources: _Resources, ids: _TraceIds, small: bool
) -> Span | None:
    tid, sid = ids.get(sp.traceId), norm_id(sp.id)
    if tid is None or sid is None:
        tally.bad_ids += 1
        return None
    service, res = resources.get_typed(sp.localEndpoint)
    attrs = _typed_tags(sp.tags, tally, small) if sp.tags else {}
    remote = sp.remoteEndpoint
    if remote is not None and remote.serviceName:
        attrs.setdefault("peer.service", remote.serviceName)
    events = [SpanEvent(time_ns=(a.timestamp or 0) * _US, name=a.value) for a in sp.annotations]
    kind = sp.kind
    return _build(
        tid,
        sid,
        norm_id(sp.parentId) if sp.parentId else None,
        service,
        res,
        attrs,
        sp.timestamp,
        sp.duration,
        events,
        _KINDS.get(kind.upper(), SpanKind.UNSPECIFIED) if kind else 0,
        _intern(sp.name) if sp.name else "",
        tally,
    )


def _split_shared_ids(spans: list[Span], shared: list[bool]) -> None:
    """Give every record that reuses a (trace, span) id its own id, keeping the tree right.

    The primary record keeps the id: the CLIENT or PRODUCER half if there is one, else the
    record not flagged `shared`, else the first. The others become its children; the
    children of the original id move to the record of the same service (and host, where
    several match), preferring the server half, since that is the process that called them.
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, s in enumerate(spans):
        groups[(s.trace_id, s.span_id)].append(i)
    moved: dict[tuple[str, str], list[int]] = {}
    regrouped: set[int] = set()
    for key, members in groups.items():
        if len(members) < 2:
            continue
        primary = _primary(spans, shared, members)
        others = [m for m in members if m != primary]
        for n, i in enumerate(others):
            spans[i].span_id = derived_span_id(spans[i].span_id, f"{n + 1}:{spans[i].service}")
        for i in others:
            # A local fragment of the server side hangs under that server half.
            host = _adopter(spans, others, spans[i]) if spans[i].kind not in _SERVERS else None
            parent = host if host is not None and host != i else primary
            spans[i].parent_id = spans[parent].span_id
        moved[key] = members
        # Their parent was just chosen; the primary still needs its own parent resolved.
        regrouped.update(others)
    if not moved:
        return
    for i, s in enumerate(spans):
        if s.parent_id is None or i in regrouped:
            continue
        group = moved.get((s.trace_id, s.parent_id))
        if group is None:
            continue
        target = _adopter(spans, group, s)
        if target is not None:
            s.parent_id = spans[target].span_id
    # A record that lacked a timestamp borrows its group's, so it sits where it ran.
    for members in moved.values():
        known = [spans[i].start_ns for i in members if spans[i].start_ns]
        for i in members:
            if not spans[i].start_ns and known:
                spans[i].start_ns = spans[i].end_ns = min(known)


def _primary(spans: list[Span], shared: list[bool], members: list[int]) -> int:
    for i in members:
        if spans[i].kind in (SpanKind.CLIENT, SpanKind.PRODUCER):
            return i
    for i in members:
        if not shared[i] and spans[i].kind != SpanKind.UNSPECIFIED:
            return i
    return members[0]


def _adopter(spans: list[Span], members: list[int], child: Span) -> int | None:
    same_service = [i for i in members if spans[i].service == child.service]
    if not same_service:
        return None
    host = child.resource.get("host.ip")
    same_host = [
        i for i in same_service if spans[i].resource.get("host.ip") == host
    ] or same_service
    servers = [i for i in same_host if spans[i].kind in _SERVERS]
    return (servers or same_host)[0]
