"""Failure classification and attribute reading under old and new semantic conventions."""

from __future__ import annotations

from typing import Any

import pytest

from incident.analysis.semconv import ERROR, USER_ERROR, classify, is_timeout, peer_kind, peer_name
from incident.model import Span, SpanEvent, SpanKind, StatusCode


def _failing(
    kind: int = SpanKind.SERVER,
    message: str = "",
    etype: str = "",
    attrs: dict[str, Any] | None = None,
) -> Span:
    events = (
        (SpanEvent(0, "exception", {"exception.type": etype, "exception.message": message}),)
        if etype
        else ()
    )
    return Span(
        "t",
        "s",
        None,
        "svc",
        "op",
        kind,
        0,
        1,
        StatusCode.ERROR,
        "" if etype else message,
        dict(attrs or {}),
        events,
    )


@pytest.mark.parametrize(
    ("span", "category"),
    [
        (_failing(message="context deadline exceeded"), "transient"),
        (_failing(attrs={"http.response.status_code": 503}), "transient"),
        (_failing(attrs={"http.status_code": 429}), "transient"),
        (_failing(attrs={"rpc.grpc.status_code": 14}), "transient"),
        (_failing(message="read: connection reset by peer"), "transient"),
        (_failing(etype="NullPointerException", message="x is null"), "permanent"),
        (_failing(kind=SpanKind.CLIENT, attrs={"http.status_code": 404}), "permanent"),
        (_failing(etype="java.lang.OutOfMemoryError", message="Java heap space"), "fatal"),
        (_failing(message="config missing: DATABASE_URL"), "fatal"),
        (_failing(attrs={"rpc.grpc.status_code": 15}), "fatal"),
    ],
)
def test_category_follows_code_and_words(span: Span, category: str) -> None:
    """Timeouts, 5xx/UNAVAILABLE, 429 and resets are transient; bugs and 4xx are permanent;
    OOM, missing config and data loss are fatal."""
    assert classify(span, ERROR)[0] == category


def test_server_4xx_is_the_users_fault() -> None:
    """A server span answering 4xx is classified permanent with origin user."""
    span = _failing(attrs={"http.response.status_code": 422})
    assert classify(span, USER_ERROR) == ("permanent", "user")


def test_external_client_failures_have_dependency_origin() -> None:
    """A client span to a non-database peer is a dependency failure."""
    span = _failing(
        kind=SpanKind.CLIENT,
        attrs={"server.address": "api.vendor.example", "http.response.status_code": 502},
    )
    assert classify(span, ERROR) == ("transient", "dependency")


def test_timeouts_are_recognised_by_code_and_text() -> None:
    """DEADLINE_EXCEEDED, 504 and 'timed out' all read as timeouts."""
    assert is_timeout(_failing(kind=SpanKind.CLIENT, attrs={"rpc.grpc.status_code": 4}))
    assert is_timeout(_failing(kind=SpanKind.CLIENT, attrs={"http.status_code": 504}))
    assert is_timeout(_failing(kind=SpanKind.CLIENT, message="request timed out"))
    assert not is_timeout(_failing(kind=SpanKind.CLIENT, attrs={"http.status_code": 500}))


@pytest.mark.parametrize(
    ("attrs", "name", "kind"),
    [
        ({"peer.service": "payments-gw"}, "payments-gw", "external"),
        ({"server.address": "orders-db", "db.system.name": "postgresql"}, "orders-db", "db"),
        ({"net.peer.name": "cache-0", "db.system": "redis"}, "cache-0", "cache"),
        ({"db.name": "ledger", "db.system": "mysql"}, "ledger", "db"),
        ({"url.full": "https://user@maps.example:443/v1/geo"}, "maps.example", "external"),
    ],
)
def test_peer_named_by_old_and_new_attributes(attrs: dict[str, Any], name: str, kind: str) -> None:
    """Uninstrumented peers are named from peer.service, server.address, net.peer.name,
    db.name or the URL host, and typed by db.system / db.system.name."""
    span = Span("t", "s", None, "caller", "call", SpanKind.CLIENT, attributes=attrs)
    assert peer_name(span) == name
    assert peer_kind(span) == kind


def test_grpc_client_without_peer_attributes_is_named_from_rpc_service() -> None:
    """A gRPC client span with only rpc.service names its peer the way it is deployed."""
    span = Span(
        "t",
        "s",
        None,
        "checkout",
        "GetCart",
        SpanKind.CLIENT,
        attributes={"rpc.system": "grpc", "rpc.service": "oteldemo.CartService"},
    )
    assert peer_name(span) == "cartservice"
