"""Grafana Loki as a source: `loki+http(s)://HOST:3100`.

    GET /loki/api/v1/query_range?query=LOGQL&start=NS&end=NS&limit=N&direction=forward

The query is --query (a LogQL log query), else `{service_name="S"}` for --service, else
every stream with a service name. Pages are read oldest first: each next page starts at the
last page's newest timestamp, and the lines already read at that very nanosecond are
dropped, so nothing is lost or read twice. Each page goes to the log reader as a body of its
own, as the JSON Lines `logcli --output=jsonl` writes (which the log reader knows).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import msgspec

from incident import log
from incident.errors import EmptyInputError, FormatError, UsageError
from incident.ingest.detect import ALERTS
from incident.ingest.sources import Blob
from incident.sources import otlp_body
from incident.sources.http import Client, endpoint

if TYPE_CHECKING:
    from incident.sources import SourceRequest

EXPECTED = "a Loki query_range answer with resultType `streams` (a log query, not a metric one)"
# Loki refuses pages above its max_entries_limit_per_query, 5000 by default.
PAGE = 5000
DEFAULT_MAX_LINES = 100_000
MAX_LINES_ENV = "INCIDENT_LOKI_MAX_LINES"
_PATH = "/loki/api/v1/query_range"

Entry = tuple[str, str]  # (stream labels as JSON, line)


def logql(request: SourceRequest) -> str:
    """The LogQL the request stands for."""
    if request.query and request.query.strip():
        return request.query.strip()
    if request.service:
        quoted = request.service.replace("\\", "\\\\").replace('"', '\\"')
        return f'{{service_name="{quoted}"}}'
    return '{service_name=~".+"}'


def _max_lines() -> int:
    raw = os.environ.get(MAX_LINES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_LINES
    if not raw.isdigit() or int(raw) == 0:
        raise UsageError(f"{MAX_LINES_ENV}={raw!r} is not a positive whole number")
    return int(raw)


def fetch(url: str, request: SourceRequest) -> list[Blob]:
    """Log lines from Loki, every page of the window (see the module docstring)."""
    ep = endpoint(url, "loki")
    if request.kind == ALERTS:
        raise UsageError(f"{ep.shown}: Loki holds logs; give it as INPUT or --logs")
    window = request.window
    if window is None:  # pragma: no cover - the Opener always resolves it
        raise UsageError(f"{ep.shown}: no time window")
    query = logql(request)
    cap = _max_lines()
    name = ep.url(_PATH)
    blobs: list[Blob] = []
    start, total, page = window.start_ns, 0, 0
    boundary: int | None = None
    seen: set[Entry] = set()
    with Client(ep, max_bytes=request.max_bytes) as client:
        while True:
            page += 1
            size = min(PAGE, cap - total)
            params: dict[str, str | int] = {
                "query": query,
                "start": start,
                "end": window.end_ns,
                "limit": size,
                "direction": "forward",
            }
            doc = _streams(client.get(_PATH, params) or b"{}", name)
            got, newest, body, fresh = _page(doc, boundary, seen)
            if fresh:
                blobs.append(Blob(f"{ep.shown} (page {page})", body))
                total += fresh
            log.debug("source.page", f"{name}: page {page}, {fresh} new lines", page=page)
            if got < size or newest is None:
                break
            if total >= cap:
                log.warning(
                    "source.capped",
                    f"{ep.shown}: stopped after {total:,} lines (raise {MAX_LINES_ENV} or "
                    "narrow --query/--since to read more)",
                )
                break
            if newest == boundary and not fresh:
                # A whole page within one nanosecond: step past it rather than loop.
                log.warning("source.crowded", f"{name}: more than {size} lines at {newest} ns")
                newest += 1
            if newest != boundary:
                seen = set()
            seen |= _entries_at(doc, newest)
            start, boundary = newest, newest
    if not total:
        raise EmptyInputError(
            ep.shown,
            f"no log lines match {query} from {window.text()}",
            "a time range with logs (--since, --from/--to) or another --query/--service",
        )
    log.info("source.read", f"{ep.shown}: {total:,} log lines in {page} page(s)")
    return blobs


def _streams(body: bytes, name: str) -> dict[str, Any]:
    docs = otlp_body.documents(body, name, EXPECTED)
    doc = docs[0] if len(docs) == 1 else None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(data, dict):
        raise FormatError(name, "no `data` object", EXPECTED)
    if doc.get("status") not in (None, "success"):
        raise FormatError(name, f"status {doc.get('status')!r}", EXPECTED)
    if data.get("resultType") != "streams" or not isinstance(data.get("result"), list):
        raise FormatError(name, f"resultType {data.get('resultType')!r}", EXPECTED)
    return doc


def _labels(stream: dict[str, Any]) -> str:
    labels = stream.get("stream")
    return msgspec.json.encode(dict(sorted(labels.items()))).decode() if labels else "{}"


def _ts(value: Any) -> int | None:
    if isinstance(value, list) and value:
        try:
            return int(value[0])
        except (TypeError, ValueError):
            return None
    return None


def _page(
    doc: dict[str, Any], boundary: int | None, seen: set[Entry]
) -> tuple[int, int | None, bytes, int]:
    """(entries in the page, newest timestamp, the lines to read, entries not read before).

    The lines are handed on as `logcli --output=jsonl` writes them (labels, line, timestamp):
    the log reader knows that shape line by line, whatever the size of the page.
    """
    got = 0
    newest: int | None = None
    out: list[bytes] = []
    for stream in doc["data"]["result"]:
        if not isinstance(stream, dict) or not isinstance(stream.get("values"), list):
            continue
        key = _labels(stream)
        labels = stream.get("stream") if isinstance(stream.get("stream"), dict) else {}
        for value in stream["values"]:
            got += 1
            ts = _ts(value)
            if ts is None or not isinstance(value[1], str):
                continue  # the reader would only count it as skipped
            newest = ts if newest is None else max(newest, ts)
            if ts == boundary and (key, value[1]) in seen:
                continue
            line = {"labels": labels, "line": value[1], "timestamp": str(ts)}
            out.append(msgspec.json.encode(line))
    return got, newest, b"\n".join(out) + b"\n", len(out)


def _entries_at(doc: dict[str, Any], ts: int) -> set[Entry]:
    found: set[Entry] = set()
    for stream in doc["data"]["result"]:
        if isinstance(stream, dict):
            key = _labels(stream)
            for value in stream.get("values") or ():
                if _ts(value) == ts:
                    found.add((key, str(value[1])))
    return found
