"""Reading OpenTelemetry attributes under their old and new names, and classifying one failure
into category (transient/permanent/partial/fatal) and origin by what it says."""

from __future__ import annotations

import re
from typing import Any

from incident.model import Span, SpanKind, StatusCode
from incident.report import Category, Origin
from incident.text import clip

HTTP_CODE_KEYS = ("http.response.status_code", "http.status_code")
GRPC_CODE_KEY = "rpc.grpc.status_code"
DB_SYSTEM_KEYS = ("db.system.name", "db.system")
PEER_KEYS = (
    "peer.service",
    "server.address",
    "net.peer.name",
    "db.namespace",
    "db.name",
    "http.host",
    "net.sock.peer.name",
)
USER_KEYS = ("enduser.id", "user.id", "user_id", "customer.id", "userId", "customer_id")
CACHE_SYSTEMS = frozenset({"redis", "memcached", "valkey", "hazelcast", "ehcache", "aerospike"})

# gRPC codes grouped by what they mean for an incident.
GRPC_USER = frozenset({3, 5, 6, 7, 9, 11, 16})  # bad argument, not found, denied...
GRPC_TRANSIENT = frozenset({1, 4, 8, 10, 14})  # cancelled, deadline, exhausted, aborted, unavail.
GRPC_FATAL = frozenset({15})  # data loss

# Failure flags kept per span.
OK, ERROR, USER_ERROR = 0, 1, 2

_TRANSIENT_WORDS = (
    "timeout",
    "timed out",
    "deadline",
    "unavailable",
    "connection reset",
    "connection refused",
    "econnrefused",
    "econnreset",
    "reset by peer",
    "too many requests",
    "throttl",
    "temporar",
    "try again",
    "503",
    "429",
    "504",
    "502",
    "broken pipe",
    "not available",
    "exhausted",
    "overload",
)
_FATAL_WORDS = (
    "outofmemory",
    "out of memory",
    "oomkilled",
    "crashloop",
    "config missing",
    "missing config",
    "no such file",
    "corrupt",
    "no space left",
    "panic:",
    "segmentation fault",
    "fatal",
)
_USER_WORDS = (
    "validation",
    "invalid",
    "bad request",
    "not found",
    "unauthori",
    "forbidden",
    "malformed",
    "400",
    "404",
    "422",
)


def status_code(attrs: dict[str, Any]) -> tuple[int, bool]:
    """(code, is_grpc): the HTTP status, else the gRPC status; (-1, False) when absent."""
    for key in HTTP_CODE_KEYS:
        v = attrs.get(key)
        if v is not None:
            try:
                return int(v), False
            except (TypeError, ValueError):
                return -1, False
    v = attrs.get(GRPC_CODE_KEY)
    if v is not None:
        try:
            return int(v), True
        except (TypeError, ValueError):
            return -1, True
    return -1, False


def failure_flag(span: Span) -> int:
    """OK, ERROR (the service failed) or USER_ERROR (a server rejecting a client's input)."""
    attrs = span.attributes
    code, grpc = status_code(attrs) if attrs else (-1, False)
    is_server = span.kind == SpanKind.SERVER
    if code >= 0:
        if grpc:
            if code in GRPC_USER and is_server:
                return USER_ERROR
            if code != 0:
                return ERROR
        else:
            if code >= 500:
                return ERROR
            if code >= 400:
                return USER_ERROR if is_server or span.status != StatusCode.ERROR else ERROR
    if span.status == StatusCode.ERROR:
        return ERROR
    if attrs and attrs.get("error") in (True, "true", "1") and code < 0:
        return ERROR
    return OK


def error_text(span: Span) -> str:
    """The most telling description of a failing span: exception, message, code."""
    parts: list[str] = []
    for ev in span.events:
        if ev.name == "exception" or "exception.type" in ev.attributes:
            etype = str(ev.attributes.get("exception.type", "") or "")
            msg = str(ev.attributes.get("exception.message", "") or "")
            parts.append(f"{etype}: {msg}" if etype and msg else etype or msg)
            break
    if not parts and span.status_message:
        parts.append(span.status_message)
    attrs = span.attributes
    if attrs:
        if not parts and attrs.get("error.type"):
            parts.append(str(attrs["error.type"]))
        code, grpc = status_code(attrs)
        if code > 0:
            parts.append(f"{'grpc status' if grpc else 'HTTP'} {code}")
    return clip(" — ".join(p for p in parts if p), 300)


def classify(span: Span, flag: int) -> tuple[Category, Origin]:
    """(category, origin) of one failing span, judged by its code and words."""
    attrs = span.attributes
    code, grpc = status_code(attrs) if attrs else (-1, False)
    text = error_text(span).lower()
    origin: Origin = "infrastructure"
    if flag == USER_ERROR:
        return "permanent", "user"
    if span.kind == SpanKind.CLIENT and is_external(span):
        origin = "dependency"
    if any(w in text for w in _FATAL_WORDS) or (grpc and code in GRPC_FATAL):
        return "fatal", origin
    if grpc and code in GRPC_TRANSIENT:
        return "transient", origin
    if not grpc and code in (408, 425, 429, 502, 503, 504):
        return "transient", origin
    if any(w in text for w in _TRANSIENT_WORDS):
        return "transient", origin
    if not grpc and 400 <= code < 500:
        return "permanent", origin
    if any(w in text for w in _USER_WORDS):
        return "permanent", origin
    return ("permanent" if text else "transient"), origin


# Words of a call that never reached its peer: refused, unresolvable, no route, no upstream.
_CONNECTION_WORDS = (
    "connection refused",
    "econnrefused",
    "name resolution",
    "nameresolution",
    "no such host",
    "error while dialing",
    "no healthy upstream",
    "upstream connect error",
    "enotfound",
    "getaddrinfo",
    "no route to host",
    "ehostunreach",
    "failed to connect",
    "could not connect",
    "unable to connect",
    "no connection established",
    "unknownhostexception",
    "connectexception",
    "code = unavailable",
    "14 unavailable",
)
# Where error messages name the host a client failed to reach, most specific first.
_PEER_IN_TEXT = (
    re.compile(r"dns:(?:/{0,3})([A-Za-z][\w.-]*)"),
    re.compile(r"lookup ([A-Za-z][\w.-]*) on "),
    re.compile(r"host='([A-Za-z][\w.-]*)'"),
    re.compile(r"ENOTFOUND ([A-Za-z][\w.-]*)"),
    re.compile(r"dial tcp ([A-Za-z][\w.-]*):\d+"),
)


def is_connection_failure(span: Span) -> bool:
    """A call that failed before any peer answered: gRPC UNAVAILABLE, refused or unresolvable
    connections, a proxy without a healthy upstream."""
    attrs = span.attributes
    code, grpc = status_code(attrs) if attrs else (-1, False)
    if grpc and code == 14:
        return True
    text = error_text(span).lower()
    return any(w in text for w in _CONNECTION_WORDS)


def peer_in_text(span: Span) -> str | None:
    """The host named in a connection error ("dns:billing:7070" -> "billing")."""
    text = error_text(span)
    for pattern in _PEER_IN_TEXT:
        m = pattern.search(text)
        if m:
            return m.group(1).rstrip(".").lower()
    return None


def is_timeout(span: Span) -> bool:
    attrs = span.attributes
    code, grpc = status_code(attrs) if attrs else (-1, False)
    if (grpc and code == 4) or (not grpc and code in (408, 504)):
        return True
    text = error_text(span).lower()
    return any(w in text for w in ("timeout", "timed out", "deadline"))


def db_system(attrs: dict[str, Any]) -> str | None:
    for key in DB_SYSTEM_KEYS:
        v = attrs.get(key)
        if v:
            return str(v)
    return None


def peer_name(span: Span) -> str | None:
    """What a client span calls, named the way a user would: peer, host, database."""
    attrs = span.attributes
    if not attrs:
        return None
    for key in PEER_KEYS:
        v = attrs.get(key)
        if v:
            return str(v)
    return _peer_from_address(attrs)


def peer_of_attributes(attrs: dict[str, Any]) -> str | None:
    """`peer_name` of a span's attributes, for bulk use: the keys of PEER_KEYS are spelled out
    in the same order because a chain of lookups costs a third of a loop over them."""
    v = (
        attrs.get("peer.service")
        or attrs.get("server.address")
        or attrs.get("net.peer.name")
        or attrs.get("db.namespace")
        or attrs.get("db.name")
        or attrs.get("http.host")
        or attrs.get("net.sock.peer.name")
    )
    if v:
        return str(v)
    return _peer_from_address(attrs) if attrs else None


def _peer_from_address(attrs: dict[str, Any]) -> str | None:
    """The peer of a span without a peer key: the URL's host, the RPC service, the database."""
    url = attrs.get("url.full") or attrs.get("http.url")
    if isinstance(url, str) and "://" in url:
        return url.split("://", 1)[1].split("/", 1)[0].split("@")[-1].split(":")[0] or None
    rpc = attrs.get("rpc.service")
    if isinstance(rpc, str) and rpc:
        # "shop.BillingService" -> "billingservice": how such services are usually deployed.
        return rpc.rsplit(".", 1)[-1].lower()
    return db_system(attrs)


def calls_peer(span: Span) -> bool:
    """A span that stands for a call to something else: a client or producer span, or an
    internal span describing a database call (some agents record those without a kind)."""
    k = span.kind
    if k == SpanKind.CLIENT or k == SpanKind.PRODUCER:
        return True
    if k == SpanKind.SERVER or k == SpanKind.CONSUMER:
        return False
    a = span.attributes
    return bool(a) and ("db.system" in a or "db.system.name" in a)


def is_external(span: Span) -> bool:
    """A client call to something that is neither a database nor a cache."""
    attrs = span.attributes
    return bool(attrs) and db_system(attrs) is None and attrs.get("messaging.system") is None


def peer_kind(span: Span) -> str:
    """db, cache, service or external, for a client span without an instrumented callee."""
    attrs = span.attributes
    system = db_system(attrs) if attrs else None
    if system:
        return "cache" if system.lower() in CACHE_SYSTEMS else "db"
    if attrs and attrs.get("rpc.service") and not attrs.get("peer.service"):
        # An RPC service interface ("shop.BillingService") is one of our own services.
        return "service"
    return "external"


def user_of(attrs: dict[str, Any]) -> str | None:
    for key in USER_KEYS:
        v = attrs.get(key)
        if v:
            return str(v)
    return None
