"""What each span says on its own, read into columns without its links: its failure flag,
whether it calls something else and the peer it names, where it ran (service, instance,
version), and its operation (service and span name).

`trees.build` reads these in this process while a forked child links the spans (see
`trees`); nothing here looks at another span.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import compress, count, pairwise, repeat
from operator import attrgetter, is_not, methodcaller, ne, or_

from incident.analysis.semconv import GRPC_CODE_KEY, failure_flag, peer_of_attributes
from incident.model import Span, SpanKind

_CLIENT, _SERVER, _PRODUCER, _CONSUMER, _INTERNAL = (
    SpanKind.CLIENT,
    SpanKind.SERVER,
    SpanKind.PRODUCER,
    SpanKind.CONSUMER,
    SpanKind.INTERNAL,
)
_HTTP_NEW, _HTTP_OLD = "http.response.status_code", "http.status_code"
# A tuple, not a set: attribute values may be unhashable, and 200 is found first anyway.
_OK_CODES = (200, 204, 201, 202, 301, 302, 304, "200", "201", "204")
_GRPC_OK = (0, "0", "OK")
_NAME, _RESOURCE = attrgetter("name"), attrgetter("resource")
_GET_NEW, _GET_GRPC = methodcaller("get", _HTTP_NEW), methodcaller("get", GRPC_CODE_KEY)

OpKey = tuple[str, str]


# Where a span ran: (service, instance, version).
ResKey = tuple[str, str | None, str | None]
_INSTANCE_KEYS = ("k8s.pod.name", "host.name", "service.instance.id", "container.id")
# Span attributes that can change where a span ran (see `resource_key`).
_RES_ATTR_KEYS = frozenset((*_INSTANCE_KEYS, "service.version"))
_RES_ATTR_ORDER = (*_INSTANCE_KEYS, "service.version")


def resource_key(span: Span, *, span_attributes: bool = True) -> ResKey:
    """Where a span ran: resource attributes first, then span attributes, where Zipkin and
    some agents put the version, pod and host."""
    sources = (span.resource, span.attributes) if span_attributes else (span.resource,)
    inst = None
    for key in _INSTANCE_KEYS:
        # A pod named in a span tag beats an address-derived id on the resource.
        inst = next((str(a[key]) for a in sources if a and a.get(key)), None)
        if inst:
            break
    ver = next((str(a["service.version"]) for a in sources if a and a.get("service.version")), None)
    return (span.service, inst, ver)


def _span_resource_key(
    s: Span, base: ResKey, cache: dict[tuple[ResKey, tuple[object, ...]], ResKey]
) -> ResKey:
    """The resource key of a span whose resource left the instance or version unsaid: the
    span's own attributes may tell (`base` is the key of its resource alone)."""
    attrs = s.attributes
    if not attrs or attrs.keys().isdisjoint(_RES_ATTR_KEYS):
        return base
    values = tuple(map(attrs.get, _RES_ATTR_ORDER))
    try:
        ck = (base, values)
        hit = cache.get(ck)
    except TypeError:  # an unhashable attribute value: no caching
        return resource_key(s)
    if hit is None:
        hit = cache[ck] = resource_key(s)
    return hit


def _runs(col: list[int]) -> list[tuple[int, int, int]]:
    """(first, past the last, value) of each run of equal values in `col`."""
    n = len(col)
    if not n:
        return []
    cuts = [0, *compress(range(1, n), map(ne, col[1:], col[:-1])), n]
    return [(a, b, col[a]) for a, b in pairwise(cuts)]


def resource_columns(
    spans: Sequence[Span], svc: list[str]
) -> tuple[list[int], list[ResKey], list[tuple[int, int, int]]]:
    """Fill `res`, `res_keys` and `res_runs`. An export lists a resource's spans together:
    a run of spans sharing one resource and service is keyed once, unless its resource
    leaves the instance or version unsaid (then each span's tags are read)."""
    n = len(spans)
    resources = list(map(_RESOURCE, spans))
    changes = map(or_, map(is_not, resources[1:], resources[:-1]), map(ne, svc[1:], svc[:-1]))
    cuts = [0, *compress(range(1, n), changes), n] if n else [0]
    del resources
    keys: dict[ResKey, int] = {}
    base_of: dict[tuple[int, str], ResKey] = {}
    by_attrs: dict[tuple[ResKey, tuple[object, ...]], ResKey] = {}
    res: list[int] = []
    for a, b in pairwise(cuts):
        s = spans[a]
        ck = (id(s.resource), svc[a])
        base = base_of.get(ck)
        if base is None:
            base = base_of[ck] = resource_key(s, span_attributes=False)
        if base[1] is None or base[2] is None:
            for i in range(a, b):
                k = _span_resource_key(spans[i], base, by_attrs)
                res.append(keys.setdefault(k, len(keys)))
        else:
            res.extend(repeat(keys.setdefault(base, len(keys)), b - a))
    return res, list(keys), _runs(res)


# Per kind, whether a span of it calls something else: 1 yes, 0 no, 2 when its attributes
# describe a database call (see `semconv.calls_peer`).
_KIND_CALLS: dict[int, int] = {_CLIENT: 1, _PRODUCER: 1, _SERVER: 0, _CONSUMER: 0}


def calls_and_peers(spans: Sequence[Span], kind: list[int]) -> tuple[bytearray, list[str | None]]:
    """(whether each span calls something else, the peer each such span names): None when
    it names none, and for every other span. The caller keeps the peers of childless calls
    only."""
    n = len(spans)
    calls = bytearray(n)
    peer: list[str | None] = [None] * n
    verdict = list(map(_KIND_CALLS.get, kind, repeat(2)))
    for i in compress(range(n), verdict):
        a = spans[i].attributes
        if verdict[i] == 2 and not (a and ("db.system" in a or "db.system.name" in a)):
            continue
        calls[i] = 1
        if a:
            peer[i] = peer_of_attributes(a)
    return calls, peer


def op_ids(spans: Sequence[Span], svc: list[str]) -> tuple[list[int], list[OpKey]]:
    """An integer per distinct (service, span name), per span, numbered in order of first
    appearance; and the operations in that order."""
    ids: defaultdict[OpKey, int] = defaultdict(count().__next__)
    col = list(map(ids.__getitem__, zip(svc, map(_NAME, spans), strict=True)))
    return col, list(ids)


def flags(spans: Sequence[Span], kind: list[int]) -> bytearray:
    """Failure flag per span; only spans that may have failed are judged in full."""
    flag = bytearray(len(spans))
    for i, s in enumerate(spans):
        if s.status == 2:
            flag[i] = failure_flag(s)
        elif kind[i] != _INTERNAL:
            # Proxies (Envoy) report 5xx in attributes and leave the status unset; a server
            # answering 4xx (the client's mistake) is unset by the rules too.
            attrs = s.attributes
            if not attrs:
                continue
            code = attrs.get(_HTTP_NEW)
            if code is None:
                code = attrs.get(_HTTP_OLD)
            if code is not None:
                if code not in _OK_CODES:
                    flag[i] = failure_flag(s)
                continue
            g = attrs.get(GRPC_CODE_KEY)
            if (g not in _GRPC_OK) if g is not None else "error" in attrs:
                flag[i] = failure_flag(s)
    return flag
