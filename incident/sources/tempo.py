"""Grafana Tempo as a source: `tempo+http(s)://HOST:3200`.

    GET /api/search?q=TRACEQL&start=S&end=S&limit=N   trace summaries (id, duration)
    GET /api/v2/traces/{id}                          one trace, `{"trace": OTLP JSON}`

The query is --query (TraceQL), else `{ resource.service.name = "S" }` for --service, else
`{}`. When the search finds more traces than --limit, a second search with the same query
and `status = error` marks the failed ones, so the sample takes them first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident import log
from incident.errors import EmptyInputError, FormatError, UnreadableInputError, UsageError
from incident.ingest.sources import Blob
from incident.sources import otlp_body
from incident.sources.http import Client, Endpoint, endpoint
from incident.sources.sample import Candidate, choose, report
from incident.sources.timerange import Window

if TYPE_CHECKING:
    from incident.sources import SourceRequest

EXPECTED = "a Tempo search answer (`traces`: [{traceID, durationMs}])"
SEARCH_FACTOR = 3
MAX_SEARCH = 1500
_NS = 10**9


def traceql(request: SourceRequest) -> str:
    """The TraceQL the request stands for."""
    if request.query and request.query.strip():
        return request.query.strip()
    if request.service:
        quoted = request.service.replace("\\", "\\\\").replace('"', '\\"')
        return f'{{ resource.service.name = "{quoted}" }}'
    return "{}"


def fetch(url: str, request: SourceRequest) -> list[Blob]:
    """Traces from Tempo (see the module docstring)."""
    ep = endpoint(url, "tempo")
    if request.kind is not None:
        raise UsageError(f"{ep.shown}: Tempo holds traces; give it as INPUT or --traces")
    window = request.window
    if window is None:  # pragma: no cover - the Opener always resolves it
        raise UsageError(f"{ep.shown}: no time window")
    query = traceql(request)
    depth = max(request.limit, min(request.limit * SEARCH_FACTOR, MAX_SEARCH))
    with Client(ep, max_bytes=request.max_bytes) as client:
        found = _search(client, ep, query, window, depth)
        if not found:
            raise EmptyInputError(
                ep.shown,
                f"no traces match {query} from {window.text()}",
                "a time range with traces (--since, --from/--to) or another --query/--service",
            )
        if len(found) > request.limit and "|" not in query:
            failing = "{ status = error }"
            if query != "{}":
                failing = f"({query}) && {failing}"
            # Failed traces the first search left out match the query too: add them.
            for tid, hit in _search(client, ep, failing, window, depth, optional=True).items():
                found[tid] = Candidate(tid, hit.duration_ns, True)
        chosen = choose(list(found.values()), request.limit, request.seed)
        report(ep.shown, chosen, len(found))
        return _traces(client, ep, chosen, request)


def _search(
    client: Client,
    ep: Endpoint,
    query: str,
    window: Window,
    depth: int,
    *,
    optional: bool = False,
) -> dict[str, Candidate]:
    params: dict[str, str | int] = {
        "q": query,
        "start": window.start_ns // _NS,
        "end": -(-window.end_ns // _NS),
        "limit": depth,
    }
    name = ep.url("/api/search")
    try:
        body = client.get("/api/search", params)
    except UnreadableInputError as exc:
        if not optional:
            raise
        # The error search only sharpens the sample; a Tempo that rejects it still answered.
        log.debug("source.error_search", f"{name}: the search for failed traces failed ({exc})")
        return {}
    docs = otlp_body.documents(body or b"{}", name, EXPECTED)
    doc = docs[0] if len(docs) == 1 else None
    traces = doc.get("traces") if isinstance(doc, dict) else None
    if traces is None and isinstance(doc, dict) and "metrics" in doc:
        traces = []  # Tempo leaves `traces` out when nothing matched
    if not isinstance(traces, list):
        raise FormatError(name, "no `traces` list", EXPECTED)
    return {c.trace_id: c for c in (_candidate(t) for t in traces) if c is not None}


def _candidate(item: Any) -> Candidate | None:
    if not isinstance(item, dict) or not item.get("traceID"):
        return None
    try:
        duration = int(float(item.get("durationMs") or 0) * 1_000_000)
    except (TypeError, ValueError):
        duration = 0
    return Candidate(str(item["traceID"]).lower(), duration)


def _traces(
    client: Client, ep: Endpoint, chosen: list[Candidate], request: SourceRequest
) -> list[Blob]:
    blobs: list[Blob] = []
    for n, candidate in enumerate(chosen, 1):
        path = f"/api/v2/traces/{candidate.trace_id}"
        body = client.get(path, absent=lambda status, _body: status == 404)
        if request.progress is not None:
            request.progress(f"fetched {ep.url(path)}", n, len(chosen))
        if body is None:
            log.warning("source.missing", f"{ep.url(path)}: no longer held (404); skipped")
            continue
        blobs.append(Blob(ep.url(path), body))
    if not blobs:
        raise EmptyInputError(ep.shown, f"none of the {len(chosen)} traces found could be read")
    return blobs
