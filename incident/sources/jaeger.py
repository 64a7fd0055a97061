"""Jaeger's query API v3 as a source: `jaeger+http(s)://HOST:16686`.

    GET /api/v3/services                  the services, when no --service is given
    GET /api/v3/traces?query.service_name=S&query.start_time_min=..&query.start_time_max=..
        &query.search_depth=N[&query.operation_name=OP]     whole traces, OTLP JSON
    GET /api/v3/traces/{id}               one trace, when --query names trace ids

Answers are `{"result": {"resourceSpans": ...}}`, possibly several objects in a row; an
empty search is a 404 whose message says no traces were found. The search returns whole
traces, so sampling (--limit) picks among them without a second round trip.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from incident import log
from incident.errors import EmptyInputError, FormatError, UsageError
from incident.ingest.sources import Blob
from incident.sources import otlp_body
from incident.sources.http import Client, Endpoint, endpoint
from incident.sources.sample import Candidate, choose, report
from incident.sources.timerange import Window, rfc3339

if TYPE_CHECKING:
    from incident.sources import SourceRequest

EXPECTED = "a Jaeger API v3 answer (OTLP JSON under `result`)"
# Services searched when none is named; more are left out with a warning.
MAX_SERVICES = 30
# How many traces a search may return, as a multiple of --limit, to sample from.
SEARCH_FACTOR = 3
MAX_SEARCH_DEPTH = 1500
_TRACE_IDS = re.compile(r"[0-9a-fA-F]{16,32}(?:\s*,\s*[0-9a-fA-F]{16,32})*")


def fetch(url: str, request: SourceRequest) -> list[Blob]:
    """Traces from a Jaeger query service (see the module docstring)."""
    ep = endpoint(url, "jaeger")
    if request.kind is not None:
        raise UsageError(f"{ep.shown}: Jaeger holds traces; give it as INPUT or --traces")
    window = request.window
    if window is None:  # pragma: no cover - the Opener always resolves it
        raise UsageError(f"{ep.shown}: no time window")
    query = (request.query or "").strip()
    with Client(ep, max_bytes=request.max_bytes) as client:
        if _TRACE_IDS.fullmatch(query):
            return _by_id(client, ep, [i.strip().lower() for i in query.split(",")])
        services = [request.service] if request.service else _services(client, ep)
        depth = max(request.limit, min(request.limit * SEARCH_FACTOR, MAX_SEARCH_DEPTH))
        resources: list[dict[str, Any]] = []
        for service in services:
            resources.extend(_search(client, ep, service, query, window, depth))
    found = otlp_body.summarise(resources)
    if not found:
        who = f"service {request.service!r}" if request.service else "any service"
        raise EmptyInputError(
            ep.shown,
            f"no traces for {who} from {window.text()}",
            "a time range with traces (--since, --from/--to) or another --service",
        )
    chosen = choose(list(found.values()), request.limit, request.seed)
    report(ep.shown, chosen, len(found))
    keep = {c.trace_id for c in chosen}
    return [Blob(f"{ep.shown} (search)", otlp_body.keep_traces(resources, keep))]


def _services(client: Client, ep: Endpoint) -> list[str]:
    body = client.get("/api/v3/services") or b"{}"
    docs = otlp_body.documents(body, ep.url("/api/v3/services"), "a list of services")
    names = docs[0].get("services") if docs and isinstance(docs[0], dict) else None
    if not isinstance(names, list):
        raise FormatError(ep.url("/api/v3/services"), "no `services` list", "Jaeger API v3")
    services = sorted({str(n) for n in names if n})
    if not services:
        raise EmptyInputError(ep.shown, "no services have reported traces", "a Jaeger with data")
    if len(services) > MAX_SERVICES:
        log.warning(
            "source.services",
            f"{ep.shown}: {len(services)} services; searching the first {MAX_SERVICES} "
            "(name one with --service)",
        )
        services = services[:MAX_SERVICES]
    else:
        log.info(
            "source.services",
            f"{ep.shown}: no --service given, searching all {len(services)} services",
        )
    return services


def _no_traces(status: int, body: bytes) -> bool:
    """Jaeger answers an empty search with 404 and a message saying so."""
    return status == 404 and b"no traces found" in body.lower()


def _not_found(status: int, body: bytes) -> bool:
    """A trace id Jaeger does not hold: 404 with its JSON error, not a page of some proxy."""
    return status == 404 and b'"error"' in body


def _search(
    client: Client, ep: Endpoint, service: str, operation: str, window: Window, depth: int
) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {
        "query.service_name": service,
        "query.start_time_min": rfc3339(window.start_ns),
        "query.start_time_max": rfc3339(window.end_ns),
        "query.search_depth": depth,
    }
    if operation:
        params["query.operation_name"] = operation
    body = client.get("/api/v3/traces", params, absent=_no_traces)
    if body is None:
        log.debug("source.empty", f"{ep.shown}: no traces for {service}")
        return []
    return _resources(body, ep.url("/api/v3/traces"))


def _resources(body: bytes, name: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for doc in otlp_body.documents(body, name, EXPECTED):
        message = otlp_body.gateway_error(doc)
        if message is not None:
            if "no traces found" in message.lower():
                continue
            raise FormatError(name, f"the server reported an error: {message}", EXPECTED)
        if not isinstance(doc, dict):
            raise FormatError(name, f"a JSON {type(doc).__name__}", EXPECTED)
        resources.extend(otlp_body.resource_spans(doc))
    return resources


def _by_id(client: Client, ep: Endpoint, ids: list[str]) -> list[Blob]:
    blobs: list[Blob] = []
    for trace_id in ids:
        path = f"/api/v3/traces/{trace_id}"
        body = client.get(path, absent=_not_found)
        if body is None:
            log.warning("source.missing", f"{ep.url(path)}: no such trace")
            continue
        blobs.append(Blob(ep.url(path), body))
    if not blobs:
        raise EmptyInputError(ep.shown, f"none of the {len(ids)} trace ids was found")
    report(ep.shown, [Candidate(i) for i in ids[: len(blobs)]], len(ids))
    return blobs
