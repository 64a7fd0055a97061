"""The shortcuts `signals.collect` takes for speed give the answers of the plain rules: peer names
read by a chain of lookups, resource keys cached per resource and span tags, and the critical
path hops that reuse the peers and callees found in the main pass."""

from __future__ import annotations

from typing import Any

import pytest

from incident.analysis.semconv import PEER_KEYS, peer_name, peer_of_attributes
from incident.analysis.signals import _resource_key, collect
from incident.analysis.trees import build
from incident.model import Span, SpanKind, StatusCode

_ATTRS: list[dict[str, Any]] = [
    {},
    {"db.system": "postgresql"},
    {"db.system.name": "redis", "db.name": ""},
    {"url.full": "https://user@api.example.com:8443/v1/pay"},
    {"http.url": "http://payments/charge", "http.host": 0},
    {"rpc.service": "oteldemo.CartService"},
    {"rpc.service": "oteldemo.CartService", "peer.service": "cart"},
    {"net.peer.name": 12345},
    {"server.address": None, "net.sock.peer.name": "10.0.0.7"},
    {key: f"value-of-{key}" for key in PEER_KEYS},
]


@pytest.mark.parametrize("attrs", _ATTRS)
def test_peer_of_attributes_equals_peer_name(attrs: dict[str, Any]) -> None:
    """The unrolled lookup chain names the same peer as `peer_name` for empty, falsy, URL, RPC,
    database and numeric values."""
    span = Span("t", "s", None, "svc", "op", SpanKind.CLIENT, attributes=attrs)
    assert peer_of_attributes(attrs) == peer_name(span)


def test_peer_of_attributes_follows_peer_keys_order() -> None:
    """Each key of PEER_KEYS wins over every later one, so the chain cannot drift from the
    list it spells out."""
    for k, key in enumerate(PEER_KEYS):
        attrs = {later: f"v-{later}" for later in PEER_KEYS[k:]}
        assert peer_of_attributes(attrs) == f"v-{key}"


def _span(
    sid: str,
    parent: str | None,
    service: str,
    kind: int,
    start: int,
    end: int,
    attrs: dict[str, Any],
    resource: dict[str, Any],
) -> Span:
    return Span(
        "trace",
        sid,
        parent,
        service,
        f"op-{sid}",
        kind,
        start,
        end,
        StatusCode.UNSET,
        "",
        attrs,
        (),
        (),
        resource,
    )


def test_collect_reads_instance_and_version_from_span_tags() -> None:
    """A resource without instance or version (Zipkin) takes them from each span's tags, and
    spans with different tags on one shared resource land under different keys."""
    shared = {"service.name": "api"}
    spans = [
        _span(
            "a",
            None,
            "api",
            SpanKind.SERVER,
            0,
            100,
            {"service.version": "1.0", "k8s.pod.name": "api-1"},
            shared,
        ),
        _span(
            "b",
            "a",
            "api",
            SpanKind.INTERNAL,
            10,
            20,
            {"service.version": "2.0", "k8s.pod.name": "api-2"},
            shared,
        ),
        _span("c", "a", "api", SpanKind.INTERNAL, 30, 40, {}, shared),
    ]
    ws = collect(build(spans), [0], 10)
    assert ws.res_acc == {
        ("api", "api-1", "1.0"): [1, 100, 0],
        ("api", "api-2", "2.0"): [1, 10, 10],
        ("api", None, None): [1, 10, 30],
    }
    assert list(ws.res_acc) == [_resource_key(s) for s in spans]


def test_collect_path_hops_use_peer_and_callee() -> None:
    """On the critical path a client span with a child in another service is an edge to that
    service, and a leaf database call is a hop to its named peer."""
    res_a, res_b = {"service.name": "a"}, {"service.name": "b"}
    spans = [
        _span("r", None, "a", SpanKind.SERVER, 0, 1000, {}, res_a),
        _span("c", "r", "a", SpanKind.CLIENT, 100, 900, {"peer.service": "b"}, res_a),
        _span("s", "c", "b", SpanKind.SERVER, 200, 800, {}, res_b),
        _span(
            "q",
            "s",
            "b",
            SpanKind.CLIENT,
            300,
            700,
            {"db.system": "postgresql", "db.name": "orders"},
            res_b,
        ),
    ]
    ws = collect(build(spans), [0], 10)
    assert ("edge", "a", "b") in ws.path
    assert ws.path[("peer", "b", "orders")] == 400
    assert ws.calls["orders"] == 1 and ws.peer_kind["orders"] == "db"
    assert ws.edges[("a", "b")] == [1, 200, 600]
