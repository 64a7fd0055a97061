"""OTLP JSON (and the Collector's JSON Lines) into model spans; the log lines of those JSON
Lines go to the log reader's OTLP converter.

Decoding uses msgspec structs that mirror OTLP; spans stay raw bytes until each is decoded and
converted in turn, so a large export never holds all its decoded structs at once, and a span
that does not fit them is re-read leniently on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

from incident.errors import FormatError, UnreadableInputError
from incident.ingest import parallel
from incident.ingest.bounds import NESTED_TOO_DEEPLY
from incident.ingest.logs.otlp import records_from_request
from incident.ingest.otlp_spans import (
    ResourceJ,
    ResourceSpansJ,
    SpanJ,
    SpanSink,
    TracesDocJ,
    attributes,
)
from incident.ingest.toolkit import UNKNOWN_SERVICE, Paused, Tally, iter_lines
from incident.model import Bundle, InputInfo, LogRecord

_DOC_DECODER = msgspec.json.Decoder(TracesDocJ)


# --- typed path: the whole document decoded into structs -----------------------------------


def _resource_lists(doc: TracesDocJ, depth: int = 0) -> Iterator[list[ResourceSpansJ]]:
    """Every resourceSpans list in a document, through `trace` and `result` wrappers."""
    yield doc.resource_spans
    yield doc.batches
    if depth < 4:
        for inner in (doc.trace, doc.result):
            if inner is not None:
                yield from _resource_lists(inner, depth + 1)


def has_spans_envelope(doc: TracesDocJ) -> bool:
    return any(lst for lst in _resource_lists(doc))


def spans_from_lists(lists: Iterable[list[ResourceSpansJ]], sink: SpanSink) -> None:
    """Convert the resources' spans on this core, in order; the lists are emptied."""
    for lst in lists:
        for rs in lst:
            sink.resource(rs)
        lst.clear()


def _not_utf8(name: str, exc: UnicodeDecodeError) -> UnreadableInputError:
    return UnreadableInputError(name, f"not UTF-8 (bad byte at offset {exc.start})", "UTF-8 JSON")


def _decode_error(name: str, exc: Exception) -> FormatError:
    return FormatError(name, f"malformed JSON: {exc}", "complete, valid JSON")


def decode_document(data: bytes | memoryview, name: str) -> TracesDocJ | None:
    """The typed decode of one OTLP JSON document; None when some field has a foreign type.

    Raises FormatError for malformed or absurdly nested JSON.
    """
    with Paused():
        try:
            return _DOC_DECODER.decode(data)
        except msgspec.ValidationError:
            return None
        except UnicodeDecodeError as exc:
            raise _not_utf8(name, exc) from exc
        except msgspec.DecodeError as exc:
            raise _decode_error(name, exc) from exc
        except RecursionError as exc:
            raise FormatError(name, NESTED_TOO_DEEPLY, "an OTLP JSON export") from exc


def read_doc(doc: TracesDocJ, name: str, min_spans: int | None = None) -> Bundle:
    """Spans from a typed document; the document's lists are emptied as they are read.

    A big document's spans are converted on two cores when there are two (see parallel);
    `min_spans` overrides parallel.MIN_SPANS.
    """
    tally = Tally(name)
    sink = SpanSink(tally)
    with Paused():
        if not parallel.convert(_resource_lists(doc), sink, min_spans):
            spans_from_lists(_resource_lists(doc), sink)
    bundle = Bundle(spans=sink.out)
    bundle.inputs.append(
        InputInfo(path=name, kind="traces", format="otlp-json", records=len(sink.out))
    )
    tally.apply(bundle)
    return bundle


# --- lenient path: generic JSON values, one resource and one span at a time ---------------


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _envelopes(obj: object, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """The object and the wrappers inside it (`trace`, `result`), a few levels at most."""
    if isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                yield from _envelopes(item, depth)
        return
    if not isinstance(obj, dict):
        return
    yield obj
    if depth < 4:
        for key in ("trace", "result"):
            inner = obj.get(key)
            if isinstance(inner, dict):
                yield from _envelopes(inner, depth + 1)


def spans_from_obj(obj: object, sink: SpanSink) -> None:
    """Rescue what fits from a generically decoded OTLP value; count what does not."""
    tally = sink.tally
    for env in _envelopes(obj):
        for key in ("resourceSpans", "batches"):
            for rs in _as_list(env.get(key)):
                if not isinstance(rs, dict):
                    tally.bad_spans += 1
                    continue
                try:
                    resource = msgspec.convert(rs.get("resource") or {}, ResourceJ)
                except (msgspec.ValidationError, RecursionError):
                    resource = ResourceJ()
                    tally.repaired += 1
                res = attributes(resource.attributes, tally)
                service = res.get("service.name")
                service = str(service) if service not in (None, "") else UNKNOWN_SERVICE
                for skey in ("scopeSpans", "instrumentationLibrarySpans"):
                    for ss in _as_list(rs.get(skey)):
                        spans = _as_list(ss.get("spans")) if isinstance(ss, dict) else []
                        for raw in spans:
                            try:
                                sp = msgspec.convert(raw, SpanJ, strict=False)
                            except (msgspec.ValidationError, RecursionError):
                                tally.bad_spans += 1
                                continue
                            sink.span(sp, service, res)


def looks_like_otlp_traces(obj: object) -> bool:
    return any(
        isinstance(env.get("resourceSpans"), list) or _is_batches(env.get("batches"))
        for env in _envelopes(obj)
    )


def _is_batches(value: object) -> bool:
    return isinstance(value, list) and any(
        isinstance(b, dict) and ("scopeSpans" in b or "instrumentationLibrarySpans" in b)
        for b in value
    )


def read_object(obj: object, name: str) -> Bundle:
    """Spans from an already decoded OTLP JSON value."""
    tally = Tally(name)
    sink = SpanSink(tally)
    with Paused():
        spans_from_obj(obj, sink)
    bundle = Bundle(spans=sink.out)
    bundle.inputs.append(
        InputInfo(path=name, kind="traces", format="otlp-json", records=len(sink.out))
    )
    tally.apply(bundle)
    return bundle


# --- JSON Lines, as the Collector file exporter writes them -------------------------------


def read_jsonl(data: bytes, name: str, min_spans: int | None = None) -> Bundle:
    """Trace, log and metric lines mixed: spans and logs are kept, metrics counted.

    The typed lines' spans are converted together at the end (on two cores when they are
    many, see parallel; `min_spans` overrides parallel.MIN_SPANS), in line order."""
    lines = _Lines(name, min_spans)
    with Paused():
        for lineno, line in iter_lines(data):
            lines.read(lineno, line)
        lines.flush()
    return lines.bundle()


class _Lines:
    """What the lines of a JSON Lines export held, gathered as they are read."""

    __slots__ = (
        "bad_logs",
        "garbage",
        "logs",
        "metrics",
        "min_spans",
        "name",
        "pending",
        "sink",
        "tally",
    )

    def __init__(self, name: str, min_spans: int | None = None) -> None:
        self.name = name
        self.tally = Tally(name)
        self.sink = SpanSink(self.tally)
        self.logs: list[LogRecord] = []
        self.bad_logs = self.metrics = self.garbage = 0
        # The typed lines' resource lists, spans still raw, converted by `flush`.
        self.pending: list[list[ResourceSpansJ]] = []
        self.min_spans = min_spans

    def flush(self) -> None:
        """Convert the spans of the typed lines read so far, in order."""
        pending, self.pending = self.pending, []
        if pending and not parallel.convert(pending, self.sink, self.min_spans):
            spans_from_lists(pending, self.sink)

    def read(self, lineno: int, line: memoryview) -> None:
        try:
            doc = _DOC_DECODER.decode(line)
        except msgspec.ValidationError:
            self._generic(lineno, line)
            return
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            self.garbage += 1
            return
        if has_spans_envelope(doc):
            self.pending.extend(_resource_lists(doc))
        elif doc.resource_logs is None and doc.resource_metrics is None:
            # Valid JSON with none of the OTLP keys (an empty resourceSpans is fine).
            raw_line = bytes(line)
            if b'"resourceSpans"' not in raw_line and b'"batches"' not in raw_line:
                self.garbage += 1
            return
        if doc.resource_logs is not None:
            try:
                resource_logs = msgspec.json.decode(doc.resource_logs)
            except RecursionError:
                self.garbage += 1
                return
            self._logs({"resourceLogs": resource_logs}, lineno)
        if doc.resource_metrics is not None:
            self.metrics += 1

    def _generic(self, lineno: int, line: memoryview) -> None:
        """A line with a field the typed structs do not fit, read as generic JSON."""
        try:
            obj = msgspec.json.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            self.garbage += 1
            return
        if looks_like_otlp_traces(obj):
            self.flush()  # the lines before it first: spans keep the file's order
            spans_from_obj(obj, self.sink)
        elif isinstance(obj, dict) and "resourceLogs" in obj:
            self._logs(obj, lineno)
        elif isinstance(obj, dict) and "resourceMetrics" in obj:
            self.metrics += 1
        else:
            self.garbage += 1

    def _logs(self, request: dict[str, Any], lineno: int) -> None:
        found, bad = records_from_request(request, f"{self.name}:{lineno}")
        self.logs.extend(found)
        self.bad_logs += bad

    def bundle(self) -> Bundle:
        name, spans, logs = self.name, self.sink.out, self.logs
        metrics, garbage = self.metrics, self.garbage
        bundle = Bundle(spans=spans)
        self.tally.apply(bundle)
        if spans or not logs:
            bundle.inputs.append(
                InputInfo(
                    path=name,
                    kind="traces",
                    format="otlp-jsonl",
                    records=len(spans),
                    skipped=garbage,
                    notes=[f"{metrics} metric lines ignored"] if metrics else [],
                )
            )
        if logs:
            bundle.logs.extend(logs)
            bundle.inputs.append(
                InputInfo(path=name, kind="logs", format="otlp-jsonl", records=len(logs))
            )
            bundle.quality.log_lines_skipped += self.bad_logs
        if garbage:
            bundle.quality.skipped += garbage
            bundle.quality.warn(f"{name}: {garbage} lines skipped: not OTLP JSON")
        if metrics:
            bundle.quality.warn(f"{name}: {metrics} metric lines ignored")
        return bundle
