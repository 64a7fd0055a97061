"""OTLP JSON trace bodies as the trace backends answer them: one document or several JSON
objects in a row (a streamed answer), each `{"result": ...}`, `{"trace": ...}` or bare.

Only what choosing traces needs is looked at here (ids, times, error status); the spans
themselves are read by `incident.ingest`, from the bytes handed on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec

from incident.errors import FormatError
from incident.sources.sample import Candidate

_ERROR_CODES = (2, "STATUS_CODE_ERROR", "ERROR")
_SCOPE_KEYS = ("scopeSpans", "instrumentationLibrarySpans")


def documents(body: bytes, name: str, expected: str) -> list[Any]:
    """Every JSON value in `body`: one document, or several written one after another."""
    try:
        return [msgspec.json.decode(body)]
    except msgspec.DecodeError:
        pass
    except UnicodeDecodeError as exc:
        raise FormatError(name, "not UTF-8", expected) from exc
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(name, "not UTF-8", expected) from exc
    decoder = json.JSONDecoder()
    found: list[Any] = []
    pos = 0
    size = len(text)
    try:
        while True:
            while pos < size and text[pos] in " \t\r\n":
                pos += 1
            if pos >= size:
                break
            value, pos = decoder.raw_decode(text, pos)
            found.append(value)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(name, f"malformed JSON ({exc})", expected) from exc
    return found


def gateway_error(doc: Any) -> str | None:
    """The message of a grpc-gateway error object (`{"error": {"message": ...}}`)."""
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return str(doc["error"].get("message") or doc["error"])
    return None


def resource_spans(doc: Any) -> list[dict[str, Any]]:
    """The resourceSpans of one document, through `result` and `trace` wrappers."""
    for _ in range(3):
        if not isinstance(doc, dict):
            return []
        for key in ("resourceSpans", "batches"):
            if isinstance(doc.get(key), list):
                return [r for r in doc[key] if isinstance(r, dict)]
        inner = doc.get("result", doc.get("trace"))
        if inner is None:
            return []
        doc = inner
    return []


def spans(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in _SCOPE_KEYS:
        for scope in resource.get(key) or ():
            if isinstance(scope, dict):
                yield from (s for s in scope.get("spans") or () if isinstance(s, dict))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def summarise(resources: list[dict[str, Any]]) -> dict[str, Candidate]:
    """Per trace id: the span of time it covers and whether any span failed."""
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    failed: set[str] = set()
    for resource in resources:
        for span in spans(resource):
            tid = str(span.get("traceId") or "")
            if not tid:
                continue
            start = _int(span.get("startTimeUnixNano"))
            end = _int(span.get("endTimeUnixNano"))
            starts[tid] = min(starts.get(tid, start), start)
            ends[tid] = max(ends.get(tid, end), end)
            status = span.get("status")
            if isinstance(status, dict) and status.get("code") in _ERROR_CODES:
                failed.add(tid)
    return {tid: Candidate(tid, max(0, ends[tid] - starts[tid]), tid in failed) for tid in starts}


def keep_traces(resources: list[dict[str, Any]], keep: set[str]) -> bytes:
    """One OTLP JSON document holding only the spans of the traces in `keep`."""
    out: list[dict[str, Any]] = []
    for resource in resources:
        scopes: list[dict[str, Any]] = []
        for key in _SCOPE_KEYS:
            for scope in resource.get(key) or ():
                if not isinstance(scope, dict):
                    continue
                kept = [
                    s
                    for s in scope.get("spans") or ()
                    if isinstance(s, dict) and str(s.get("traceId") or "") in keep
                ]
                if kept:
                    scopes.append({**scope, "spans": kept})
        if scopes:
            rest = {k: v for k, v in resource.items() if k not in _SCOPE_KEYS}
            out.append({**rest, "scopeSpans": scopes})
    return msgspec.json.encode({"resourceSpans": out})
