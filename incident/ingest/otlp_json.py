"""OTLP JSON (and the Collector's JSON Lines) into model spans and log records.

Decoding uses msgspec structs that mirror OTLP; spans stay raw bytes until each is decoded and
converted in turn, so a large export never holds all its decoded structs at once, and a span
that does not fit them is re-read leniently on its own.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import msgspec

from incident.errors import FormatError, UnreadableInputError
from incident.ingest.bounds import NESTED_TOO_DEEPLY
from incident.ingest.ids import norm_id
from incident.model import (
    Bundle,
    InputInfo,
    LogRecord,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
)

# Longer attribute strings are cut (real stack traces stay whole, a 5 MB blob does not).
MAX_ATTR_CHARS = 16 * 1024
# Deeper nested attribute values are stringified rather than walked.
MAX_VALUE_DEPTH = 16
UNKNOWN_SERVICE = "unknown_service"
# String values up to this length are interned (enum-like values: methods, hosts, routes);
# longer ones (URLs with ids, messages) are rarely repeated exactly.
_INTERN_CHARS = 64
_intern = sys.intern
_ZERO_ID = "0" * 16

_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUSES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


# --- msgspec mirrors of OTLP/JSON (field names are lowerCamelCase on the wire) ----------


class _Base(msgspec.Struct, rename="camel", gc=False):
    pass


class AnyValueJ(_Base):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: int | str | None = None
    double_value: float | str | None = None
    array_value: ArrayValueJ | None = None
    kvlist_value: KvListJ | None = None
    bytes_value: str | None = None


class ArrayValueJ(_Base):
    values: list[AnyValueJ] = []


class KeyValueJ(_Base):
    key: str = ""
    value: AnyValueJ = msgspec.field(default_factory=lambda: AnyValueJ())


class KvListJ(_Base):
    values: list[KeyValueJ] = []


class ResourceJ(_Base):
    attributes: list[KeyValueJ] = []


class ScopeJ(_Base):
    name: str = ""
    version: str = ""


class StatusJ(_Base):
    code: int | str = 0
    message: str = ""


class EventJ(_Base):
    time_unix_nano: int | str = 0
    name: str = ""
    attributes: list[KeyValueJ] = []


class LinkJ(_Base):
    trace_id: str = ""
    span_id: str = ""


class SpanJ(_Base):
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    name: str = ""
    kind: int | str = 0
    start_time_unix_nano: int | str = 0
    end_time_unix_nano: int | str = 0
    attributes: list[KeyValueJ] = []
    events: list[EventJ] = []
    links: list[LinkJ] = []
    status: StatusJ | None = None


class FastSpanJ(SpanJ):
    """SpanJ as nearly every exporter writes it, decoded non-strictly: msgspec turns the
    decimal-string timestamps into ints in C, sparing a Python int() per field."""

    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0


class ScopeSpansJ(_Base):
    scope: ScopeJ | None = None
    instrumentation_library: ScopeJ | None = None
    # Each span stays undecoded until its turn: decoding all of a big export's spans first
    # would hold two full copies (structs and model) at the peak.
    spans: list[msgspec.Raw] = []


class ResourceSpansJ(_Base):
    resource: ResourceJ | None = None
    scope_spans: list[ScopeSpansJ] = []
    instrumentation_library_spans: list[ScopeSpansJ] = []


class TracesDocJ(_Base):
    """Every envelope seen around resourceSpans: plain, Tempo, Tempo v2, Jaeger api_v3."""

    resource_spans: list[ResourceSpansJ] = []
    batches: list[ResourceSpansJ] = []
    trace: TracesDocJ | None = None
    result: TracesDocJ | None = None
    # Lines of a Collector file export may carry these instead; kept undecoded.
    resource_logs: msgspec.Raw | None = None
    resource_metrics: msgspec.Raw | None = None


_DOC_DECODER = msgspec.json.Decoder(TracesDocJ)
_SPAN_DECODER = msgspec.json.Decoder(SpanJ)
# Non-strict only turns numeric strings into the ints asked for; other fields keep OTLP's
# unions, where strings stay strings.
_FAST_SPAN_DECODER = msgspec.json.Decoder(FastSpanJ, strict=False)
_BATCH_DECODER = msgspec.json.Decoder(list[FastSpanJ], strict=False)
# Spans decoded per call: big enough to amortise the call, small enough to stay cheap.
_BATCH = 2048


# --- conversion ----------------------------------------------------------------------------


class Tally:
    """What a reader read around, turned into counters and warnings at the end."""

    __slots__ = (
        "bad_ids",
        "bad_spans",
        "duplicates",
        "name",
        "repaired",
        "self_parent",
        "truncated",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.bad_ids = 0
        self.bad_spans = 0
        self.repaired = 0
        self.self_parent = 0
        self.truncated = 0
        self.duplicates = 0

    def apply(self, bundle: Bundle) -> None:
        q = bundle.quality
        q.skipped += self.bad_ids + self.bad_spans
        q.repaired += self.repaired + self.self_parent + self.truncated
        q.duplicates += self.duplicates
        n = self.name
        if self.duplicates:
            q.warn(f"{n}: {self.duplicates} duplicate span records dropped")
        if self.bad_ids:
            q.warn(f"{n}: {self.bad_ids} spans skipped: missing or invalid trace/span id")
        if self.bad_spans:
            q.warn(f"{n}: {self.bad_spans} spans skipped: fields of the wrong type or bad bytes")
        if self.repaired:
            q.warn(f"{n}: {self.repaired} spans repaired: end before start or bad timestamps")
        if self.self_parent:
            q.warn(f"{n}: {self.self_parent} spans named themselves as parent (made roots)")
        if self.truncated:
            q.warn(f"{n}: {self.truncated} attribute values cut to {MAX_ATTR_CHARS} characters")


def to_int(value: object) -> int | None:
    """An integer from an int, a decimal string or an integral float; None otherwise."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                f = float(value)
            except ValueError:
                return None
            return int(f) if f == f and abs(f) < 1e30 else None
    if isinstance(value, float) and value == value and abs(value) < 1e30:
        return int(value)
    return None


def _to_float(value: float | str) -> float | str:
    if isinstance(value, float):
        return value
    try:
        return float(value)  # proto3 JSON writes "NaN" and "Infinity" as strings
    except ValueError:
        return value


def _value(v: AnyValueJ | None, tally: Tally, depth: int = 0) -> Any:
    if v is None:
        return None
    if v.string_value is not None:
        s = v.string_value
        if len(s) > MAX_ATTR_CHARS:
            tally.truncated += 1
            return s[:MAX_ATTR_CHARS] + "…"
        return s
    if v.int_value is not None:
        iv = v.int_value
        return iv if type(iv) is int else to_int(iv)
    if v.bool_value is not None:
        return v.bool_value
    if v.double_value is not None:
        return _to_float(v.double_value)
    if depth >= MAX_VALUE_DEPTH and (v.array_value is not None or v.kvlist_value is not None):
        tally.truncated += 1
        return "<nested too deeply>"
    if v.array_value is not None:
        return [_value(x, tally, depth + 1) for x in v.array_value.values]
    if v.kvlist_value is not None:
        return {kv.key: _value(kv.value, tally, depth + 1) for kv in v.kvlist_value.values}
    if v.bytes_value is not None:
        return v.bytes_value
    return None


def attributes(kvs: list[KeyValueJ], tally: Tally, small: bool = False) -> dict[str, Any]:
    """OTLP key-value pairs as a dict; `small` promises no string in them can need cutting.

    Keys and short string values repeat across spans: interned, a million spans share one
    copy of each instead of holding millions of equal strings.
    """
    # Most values are short strings: build the dict in one C-speed comprehension, then
    # revisit only when some value was not a string or the strings are long in total.
    out: dict[str, Any] = {
        _intern(kv.key): _intern(s)
        if (s := kv.value.string_value) is not None and len(s) <= _INTERN_CHARS
        else s
        for kv in kvs
    }
    if not small and sum(map(len, filter(None, out.values()))) > MAX_ATTR_CHARS:
        for key, value in out.items():
            if value is not None and len(value) > MAX_ATTR_CHARS:
                tally.truncated += 1
                out[key] = value[:MAX_ATTR_CHARS] + "…"
    if None in out.values():
        for kv in kvs:
            if out[kv.key] is None:
                v = kv.value
                iv = v.int_value
                if type(iv) is int:
                    out[kv.key] = iv
                elif isinstance(iv, str) and iv.isdigit():
                    out[kv.key] = int(iv)
                else:
                    out[kv.key] = _value(v, tally)
    return out


def _kind(value: int | str) -> int:
    if type(value) is int:
        return value if 0 <= value <= 5 else SpanKind.UNSPECIFIED
    if isinstance(value, str):
        upper = value.upper()
        return _KINDS.get(upper, _KINDS.get("SPAN_KIND_" + upper, SpanKind.UNSPECIFIED))
    return SpanKind.UNSPECIFIED


def _status(status: StatusJ | None) -> tuple[int, str]:
    if status is None:
        return StatusCode.UNSET, ""
    code = status.code
    if type(code) is int:
        return (code if 0 <= code <= 2 else StatusCode.UNSET), status.message
    if isinstance(code, str):
        upper = code.upper()
        return _STATUSES.get(upper, _STATUSES.get("STATUS_CODE_" + upper, 0)), status.message
    return StatusCode.UNSET, status.message


class _SpanSink:
    """Converts OTLP span structs into model spans, sharing trace-id strings between spans."""

    __slots__ = ("out", "tally", "trace_ids")

    def __init__(self, tally: Tally) -> None:
        self.out: list[Span] = []
        self.tally = tally
        self.trace_ids: dict[str, str | None] = {}

    def resource(self, rs: ResourceSpansJ) -> None:
        res = attributes(rs.resource.attributes, self.tally) if rs.resource else {}
        service = res.get("service.name")
        service = _intern(str(service)) if service not in (None, "") else UNKNOWN_SERVICE
        for scopes in (rs.scope_spans, rs.instrumentation_library_spans):
            for scope in scopes:
                self.raw_spans(scope.spans, service, res)
                # Drop the raw spans at once: they pin nothing big, but they add up.
                scope.spans = []

    def raw_spans(self, raws: list[msgspec.Raw], service: str, res: dict[str, Any]) -> None:
        """Decode spans a batch at a time and convert them; misfit spans rescued or counted.

        One decode call per span would cost more than the decoding; one per scope would hold
        a whole big scope's structs at once.
        """
        decode = _BATCH_DECODER.decode
        for at in range(0, len(raws), _BATCH):
            chunk = raws[at : at + _BATCH]
            # A span's strings cannot be longer than its JSON text: then none needs cutting.
            small = max(map(len, chunk)) <= MAX_ATTR_CHARS
            try:
                batch: Sequence[SpanJ] = decode(b"[" + b",".join(chunk) + b"]")
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                # A misfit span fails its whole batch: read that batch span by span.
                batch = self._one_by_one(chunk)
                small = False
            del chunk
            self.spans(batch, service, res, small)

    def _one_by_one(self, raws: list[msgspec.Raw]) -> list[SpanJ]:
        decode = _FAST_SPAN_DECODER.decode
        out: list[SpanJ] = []
        for raw in raws:
            try:
                out.append(decode(raw))
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                rescued = self._rescue(raw)
                if rescued is not None:
                    out.append(rescued)
        return out

    def _rescue(self, raw: msgspec.Raw) -> SpanJ | None:
        """The strict typed decode, else a lenient conversion, else a counted bad span."""
        try:
            return _SPAN_DECODER.decode(raw)
        except msgspec.ValidationError:
            return self._lenient(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            # Only the envelope was checked up front: a span's own bytes can still be bad.
            self.tally.bad_spans += 1
            return None

    def _lenient(self, raw: msgspec.Raw) -> SpanJ | None:
        try:
            return msgspec.convert(msgspec.json.decode(raw), SpanJ, strict=False)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            self.tally.bad_spans += 1
            return None

    def spans(
        self, items: Sequence[SpanJ], service: str, res: dict[str, Any], small: bool = False
    ) -> None:
        """The hot loop of a million-span export: fast paths inline, rare cases in helpers.

        `small` says no attribute string of these spans can be long enough to need cutting.
        """
        tally = self.tally
        trace_ids = self.trace_ids
        append = self.out.append
        norm = norm_id
        attrs = attributes
        intern = _intern
        fromhex = bytes.fromhex
        for sp in items:
            tid = trace_ids.get(sp.trace_id, "")
            if tid == "":
                tid = trace_ids[sp.trace_id] = norm(sp.trace_id)
            # The usual 16 hex digits are parsed inline (a call per id adds up); anything
            # else, and anything fromhex rejects, goes through norm_id.
            raw_id = sp.span_id
            try:
                sid = fromhex(raw_id).hex() if len(raw_id) == 16 else norm(raw_id)
            except ValueError:
                sid = norm(raw_id)
            if tid is None or sid is None or sid == _ZERO_ID or len(sid) != len(raw_id):
                sid = norm(raw_id)
                if tid is None or sid is None:
                    tally.bad_ids += 1
                    continue
            raw_id = sp.parent_span_id
            if not raw_id:
                pid = None
            elif len(raw_id) == 16:
                try:
                    pid = fromhex(raw_id).hex()
                except ValueError:
                    pid = norm(raw_id)
                if pid is not None and (pid == _ZERO_ID or len(pid) != 16):
                    pid = norm(raw_id)
            else:
                pid = norm(raw_id)
            if pid == sid:
                pid = None
                tally.self_parent += 1
            start = sp.start_time_unix_nano
            end = sp.end_time_unix_nano
            if type(start) is not int or type(end) is not int:
                start, end = self._times(start, end)
            no_duration = False
            if end < start:
                tally.repaired += 1
                no_duration = end == 0
                end = start
            st = sp.status
            if st is None:
                code, message = 0, ""
            elif type(st.code) is int and 0 <= st.code <= 2:
                code, message = st.code, st.message
            else:
                code, message = _status(st)
            kind = sp.kind
            if type(kind) is not int or not 0 <= kind <= 5:
                kind = _kind(kind)
            append(
                Span(
                    tid,
                    sid,
                    pid,
                    service,
                    intern(sp.name),
                    kind,
                    start,
                    end,
                    code,
                    message,
                    attrs(sp.attributes, tally, small) if sp.attributes else {},
                    self._events(sp.events) if sp.events else (),
                    self._links(sp.links) if sp.links else (),
                    res,
                    no_duration,
                )
            )

    def span(self, sp: SpanJ, service: str, res: dict[str, Any]) -> None:
        self.spans([sp], service, res)

    def _times(self, raw_start: int | str, raw_end: int | str) -> tuple[int, int]:
        try:
            start, end = int(raw_start), int(raw_end)
        except ValueError:
            maybe_start, maybe_end = to_int(raw_start), to_int(raw_end)
            self.tally.repaired += 1
            start = maybe_start or maybe_end or 0
            end = maybe_end or start
        return start, end

    def _events(self, events: list[EventJ]) -> tuple[SpanEvent, ...]:
        return tuple(
            SpanEvent(
                time_ns=to_int(e.time_unix_nano) or 0,
                name=e.name,
                attributes=attributes(e.attributes, self.tally),
            )
            for e in events
        )

    def _links(self, links: list[LinkJ]) -> tuple[SpanLink, ...]:
        found = []
        for link in links:
            ltid, lsid = norm_id(link.trace_id), norm_id(link.span_id)
            if ltid and lsid:
                found.append(SpanLink(trace_id=ltid, span_id=lsid))
        return tuple(found)


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


def spans_from_doc(doc: TracesDocJ, sink: _SpanSink) -> None:
    for lst in _resource_lists(doc):
        for rs in lst:
            sink.resource(rs)
        lst.clear()


class Paused:
    """GC off for a block: decoding allocates millions of objects and has no cycles."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


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


def read_doc(doc: TracesDocJ, name: str) -> Bundle:
    """Spans from a typed document; the document's lists are emptied as they are read."""
    tally = Tally(name)
    sink = _SpanSink(tally)
    with Paused():
        spans_from_doc(doc, sink)
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


def spans_from_obj(obj: object, sink: _SpanSink) -> None:
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


def read_object(obj: object, name: str, fmt: str = "otlp-json") -> Bundle:
    """Spans from an already decoded OTLP JSON value."""
    tally = Tally(name)
    sink = _SpanSink(tally)
    with Paused():
        spans_from_obj(obj, sink)
    bundle = Bundle(spans=sink.out)
    bundle.inputs.append(InputInfo(path=name, kind="traces", format=fmt, records=len(sink.out)))
    tally.apply(bundle)
    return bundle


# --- JSON Lines, as the Collector file exporter writes them -------------------------------


def iter_lines(data: bytes) -> Iterator[tuple[int, memoryview]]:
    """(line number, line) without copying the buffer; blank lines left out."""
    view = memoryview(data)
    pos, lineno, size = 0, 0, len(data)
    while pos < size:
        lineno += 1
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = size
        line = view[pos:nl]
        pos = nl + 1
        if bytes(line[:64]).strip() or (len(line) > 64 and bytes(line).strip()):
            yield lineno, line


def read_jsonl(data: bytes, name: str) -> Bundle:
    """Trace, log and metric lines mixed: spans and logs are kept, metrics counted."""
    tally = Tally(name)
    sink = _SpanSink(tally)
    logs = Bundle()
    metrics = garbage = 0
    with Paused():
        for lineno, line in iter_lines(data):
            try:
                doc = _DOC_DECODER.decode(line)
            except msgspec.ValidationError:
                try:
                    obj = msgspec.json.decode(line)
                except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                    garbage += 1
                    continue
                if looks_like_otlp_traces(obj):
                    spans_from_obj(obj, sink)
                elif isinstance(obj, dict) and "resourceLogs" in obj:
                    logs.extend(logs_from_otlp(obj, name, first_line=lineno))
                elif isinstance(obj, dict) and "resourceMetrics" in obj:
                    metrics += 1
                else:
                    garbage += 1
                continue
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                garbage += 1
                continue
            if has_spans_envelope(doc):
                spans_from_doc(doc, sink)
            elif doc.resource_logs is None and doc.resource_metrics is None:
                # Valid JSON with none of the OTLP keys (an empty resourceSpans is fine).
                raw_line = bytes(line)
                if b'"resourceSpans"' not in raw_line and b'"batches"' not in raw_line:
                    garbage += 1
                continue
            if doc.resource_logs is not None:
                try:
                    obj = msgspec.json.decode(doc.resource_logs)
                except RecursionError:
                    garbage += 1
                    continue
                logs.extend(logs_from_otlp({"resourceLogs": obj}, name, first_line=lineno))
            if doc.resource_metrics is not None:
                metrics += 1
    bundle = Bundle(spans=sink.out)
    tally.apply(bundle)
    if sink.out or not logs.logs:
        bundle.inputs.append(
            InputInfo(
                path=name,
                kind="traces",
                format="otlp-jsonl",
                records=len(sink.out),
                skipped=garbage,
                notes=[f"{metrics} metric lines ignored"] if metrics else [],
            )
        )
    if logs.logs:
        bundle.logs.extend(logs.logs)
        bundle.inputs.append(
            InputInfo(path=name, kind="logs", format="otlp-jsonl", records=len(logs.logs))
        )
        for w in logs.quality.warnings:
            bundle.quality.warn(w)
        bundle.quality.log_lines_skipped += logs.quality.log_lines_skipped
    if garbage:
        bundle.quality.skipped += garbage
        bundle.quality.warn(f"{name}: {garbage} lines skipped: not OTLP JSON")
    if metrics:
        bundle.quality.warn(f"{name}: {metrics} metric lines ignored")
    return bundle


# --- OTLP logs -----------------------------------------------------------------------------

_SEVERITY_TEXT = {
    "TRACE": "TRACE",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "INFORMATION": "INFO",
    "NOTICE": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "FATAL": "FATAL",
    "ALERT": "FATAL",
    "EMERG": "FATAL",
    "EMERGENCY": "FATAL",
}
_SEVERITY_BANDS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_INSTANCE_KEYS = ("k8s.pod.name", "host.name", "service.instance.id", "container.id")


def _level(number: object, text: object) -> str | None:
    if isinstance(text, str) and text:
        found = _SEVERITY_TEXT.get(text.strip().upper().rstrip("0123456789"))
        if found:
            return found
    n = to_int(number)
    if n is not None and 1 <= n <= 24:
        return _SEVERITY_BANDS[(n - 1) // 4]
    return None


def _generic_attrs(raw: object, tally: Tally) -> dict[str, Any]:
    try:
        kvs = msgspec.convert(raw if isinstance(raw, list) else [], list[KeyValueJ], strict=False)
    except (msgspec.ValidationError, RecursionError):
        tally.repaired += 1
        return {}
    return attributes(kvs, tally)


def _body_text(raw: object, tally: Tally) -> str:
    if not isinstance(raw, dict):
        return "" if raw is None else str(raw)
    try:
        value = _value(msgspec.convert(raw, AnyValueJ, strict=False), tally)
    except (msgspec.ValidationError, RecursionError):
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def logs_from_otlp(obj: object, name: str, first_line: int = 0) -> Bundle:
    """OTLP logs JSON (`resourceLogs`, or Collector JSON Lines of it) -> log records.

    `first_line` is the line the object came from in a JSON Lines file (0: a whole file);
    it becomes part of each record's `source` so evidence can point back at it.
    """
    tally = Tally(name)
    out: list[LogRecord] = []
    skipped = 0
    for env in _envelopes(obj):
        for rl in _as_list(env.get("resourceLogs")):
            if not isinstance(rl, dict):
                skipped += 1
                continue
            resource = rl.get("resource")
            res = _generic_attrs(
                resource.get("attributes") if isinstance(resource, dict) else None, tally
            )
            service = res.get("service.name")
            service = str(service) if service not in (None, "") else None
            instance = next((str(res[k]) for k in _INSTANCE_KEYS if res.get(k)), None)
            scopes = _as_list(rl.get("scopeLogs")) + _as_list(rl.get("instrumentationLibraryLogs"))
            for sl in scopes:
                records = _as_list(sl.get("logRecords")) if isinstance(sl, dict) else []
                scope = sl.get("scope") if isinstance(sl, dict) else None
                scope_name = scope.get("name") if isinstance(scope, dict) else None
                for rec in records:
                    if not isinstance(rec, dict):
                        skipped += 1
                        continue
                    t = to_int(rec.get("timeUnixNano")) or to_int(rec.get("observedTimeUnixNano"))
                    fields = _generic_attrs(rec.get("attributes"), tally)
                    if isinstance(scope_name, str) and scope_name:
                        fields.setdefault("otel.scope.name", scope_name)
                    where = f"{name}:{first_line}" if first_line else f"{name}#{len(out) + 1}"
                    out.append(
                        LogRecord(
                            time_ns=t or None,
                            level=_level(rec.get("severityNumber"), rec.get("severityText")),
                            message=_body_text(rec.get("body"), tally),
                            service=service,
                            trace_id=norm_id(rec.get("traceId")),
                            span_id=norm_id(rec.get("spanId")),
                            instance=instance,
                            fields=fields,
                            source=where,
                        )
                    )
    bundle = Bundle(logs=out)
    bundle.inputs.append(
        InputInfo(path=name, kind="logs", format="otlp-logs", records=len(out), skipped=skipped)
    )
    bundle.quality.log_lines_skipped += skipped
    tally.apply(bundle)
    return bundle
