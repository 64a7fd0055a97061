"""Zipkin v2 JSON (a list of spans, or a list of traces) into model spans.

Zipkin lets a client and a server report one RPC under one span id; both records are kept,
and every extra record sharing an id gets a derived id so parent links form a tree.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from incident.ingest.ids import derived_span_id, norm_id
from incident.ingest.otlp_json import MAX_ATTR_CHARS, UNKNOWN_SERVICE, Tally, to_int
from incident.model import Bundle, InputInfo, Span, SpanEvent, SpanKind, StatusCode

_KINDS = {
    "CLIENT": SpanKind.CLIENT,
    "SERVER": SpanKind.SERVER,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
_US = 1000
_SERVERS = (SpanKind.SERVER, SpanKind.CONSUMER)


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
            tally.truncated += 1
            value = value[:MAX_ATTR_CHARS] + "…"
        elif isinstance(value, dict | list):
            value = str(value)[:MAX_ATTR_CHARS]
        out[str(key)] = value
    return out


class _Resources:
    """One shared resource dict per distinct local endpoint."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], dict[str, Any]] = {}

    def get(self, endpoint: object) -> tuple[str, dict[str, Any]]:
        ep = endpoint if isinstance(endpoint, dict) else {}
        service = ep.get("serviceName")
        service = str(service) if service else UNKNOWN_SERVICE
        ip = str(ep.get("ipv4") or ep.get("ipv6") or "")
        port = str(ep.get("port") or "")
        key = (service, ip, port)
        res = self._seen.get(key)
        if res is None:
            res = {"service.name": service}
            if ip:
                res["host.ip"] = ip
                res["service.instance.id"] = f"{ip}:{port}" if port else ip
            self._seen[key] = res
        return service, res


def read(obj: object, name: str) -> Bundle:
    """Spans from a decoded Zipkin v2 JSON value; bad records are counted, not fatal."""
    tally = Tally(name)
    resources = _Resources()
    records = _flatten(obj) if isinstance(obj, list) else []
    spans: list[Span] = []
    shared_flags: list[bool] = []
    seen: set[tuple[str, str, int, str, int, str]] = set()
    for raw in records:
        span = _span(raw, tally, resources)
        if span is None:
            continue
        # The same record reported twice is a duplicate; a second half of an RPC is not.
        key = (span.trace_id, span.span_id, span.kind, span.service, span.start_ns, span.name)
        if key in seen:
            tally.duplicates += 1
            continue
        seen.add(key)
        spans.append(span)
        shared_flags.append(bool(isinstance(raw, dict) and raw.get("shared")))
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
    pid = norm_id(raw.get("parentId"))
    if pid == sid:
        pid = None
        tally.self_parent += 1
    service, res = resources.get(raw.get("localEndpoint"))
    attrs = _tags(raw.get("tags"), tally)
    remote = raw.get("remoteEndpoint")
    if isinstance(remote, dict) and remote.get("serviceName"):
        attrs.setdefault("peer.service", str(remote["serviceName"]))
    status, message = StatusCode.UNSET, ""
    if "error" in attrs:
        # Zipkin marks failure by the presence of the tag; its value is the message.
        status, message = StatusCode.ERROR, str(attrs["error"])
    start = to_int(raw.get("timestamp"))
    duration = to_int(raw.get("duration"))
    no_duration = duration is None
    if duration is None or duration < 0:
        if duration is not None:
            tally.repaired += 1
        duration = 0
    start_ns = (start or 0) * _US
    events: list[SpanEvent] = []
    annotations = raw.get("annotations")
    if isinstance(annotations, list):
        for ann in annotations:
            if isinstance(ann, dict):
                t = to_int(ann.get("timestamp"))
                events.append(SpanEvent(time_ns=(t or 0) * _US, name=str(ann.get("value", ""))))
    kind = raw.get("kind")
    return Span(
        trace_id=tid,
        span_id=sid,
        parent_id=pid,
        service=service,
        name=str(raw.get("name") or ""),
        kind=_KINDS.get(kind.upper(), SpanKind.UNSPECIFIED) if isinstance(kind, str) else 0,
        start_ns=start_ns,
        end_ns=start_ns + duration * _US,
        status=status,
        status_message=message,
        attributes=attrs,
        events=tuple(events),
        resource=res,
        no_duration=no_duration or start is None,
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
