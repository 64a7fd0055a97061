"""OTLP/JSON's shapes as msgspec structs, and their conversion into model spans.

The structs mirror OTLP/JSON (field names are lowerCamelCase on the wire); SpanSink turns
decoded spans into model spans, a batch at a time, rescuing or counting the misfits.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import msgspec

from incident.ingest.bounds import TOO_DEEP
from incident.ingest.ids import norm_id
from incident.ingest.toolkit import (
    INTERN_CHARS,
    MAX_ATTR_CHARS,
    MAX_VALUE_DEPTH,
    UNKNOWN_SERVICE,
    Tally,
    to_int,
)
from incident.model import Span, SpanEvent, SpanKind, SpanLink, StatusCode

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


class FastAnyValueJ(AnyValueJ):
    """AnyValueJ as nearly every exporter writes it: a decimal-string intValue (proto3 JSON
    writes int64 so) becomes an int in C under the non-strict decode."""

    int_value: int | None = None


class FastKeyValueJ(KeyValueJ):
    value: FastAnyValueJ = msgspec.field(default_factory=lambda: FastAnyValueJ())


class FastSpanJ(SpanJ):
    """SpanJ as nearly every exporter writes it, decoded non-strictly: msgspec turns the
    decimal-string timestamps and integer attributes into ints in C, sparing a Python int()
    per field. Anything else fails the decode and is read through SpanJ instead."""

    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    attributes: list[FastKeyValueJ] = []  # type: ignore[assignment]


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


_SPAN_DECODER = msgspec.json.Decoder(SpanJ)
# Non-strict only turns numeric strings into the ints asked for; other fields keep OTLP's
# unions, where strings stay strings.
_FAST_SPAN_DECODER = msgspec.json.Decoder(FastSpanJ, strict=False)
_BATCH_DECODER = msgspec.json.Decoder(list[FastSpanJ], strict=False)
# Spans decoded per call: big enough to amortise the call, small enough to stay cheap.
_BATCH = 2048


# --- conversion ----------------------------------------------------------------------------


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
        return tally.cut(s) if len(s) > MAX_ATTR_CHARS else s
    if v.int_value is not None:
        iv = v.int_value
        return iv if type(iv) is int else to_int(iv)
    if v.bool_value is not None:
        return v.bool_value
    if v.double_value is not None:
        return _to_float(v.double_value)
    if depth >= MAX_VALUE_DEPTH and (v.array_value is not None or v.kvlist_value is not None):
        tally.truncated += 1
        return TOO_DEEP
    if v.array_value is not None:
        return [_value(x, tally, depth + 1) for x in v.array_value.values]
    if v.kvlist_value is not None:
        return {kv.key: _value(kv.value, tally, depth + 1) for kv in v.kvlist_value.values}
    if v.bytes_value is not None:
        return v.bytes_value
    return None


def attributes(kvs: list[KeyValueJ], tally: Tally) -> dict[str, Any]:
    """OTLP key-value pairs as a dict (see `short_attributes` for the hot path).

    Keys and short string values repeat across spans: interned, a million spans share one
    copy of each instead of holding millions of equal strings.
    """
    # Most values are short strings: build the dict in one C-speed comprehension, then
    # revisit only when some value was not a string or the strings are long in total.
    out: dict[str, Any] = {
        _intern(kv.key): _intern(s)
        if (s := kv.value.string_value) is not None and len(s) <= INTERN_CHARS
        else s
        for kv in kvs
    }
    if sum(map(len, filter(None, out.values()))) > MAX_ATTR_CHARS:
        for key, value in out.items():
            if value is not None and len(value) > MAX_ATTR_CHARS:
                out[key] = tally.cut(value)
    return _fill_others(out, kvs, tally)


def short_attributes(kvs: list[FastKeyValueJ], tally: Tally) -> dict[str, Any]:
    """`attributes` of a span decoded through FastSpanJ whose strings are all too short to
    need cutting: strings and integers are taken in one C-speed comprehension, the rarer
    kinds (booleans, doubles, arrays, maps) after it."""
    out: dict[str, Any] = {
        _intern(kv.key): (_intern(s) if len(s) <= INTERN_CHARS else s)
        if (s := (v := kv.value).string_value) is not None
        else v.int_value
        for kv in kvs
    }
    return _fill_others(out, kvs, tally)


def _fill_others(out: dict[str, Any], kvs: Sequence[KeyValueJ], tally: Tally) -> dict[str, Any]:
    """The values a comprehension above left None (integers written as strings, booleans,
    doubles, arrays, maps), each read by `_value`: one rule for every reader of them."""
    if None in out.values():
        for kv in kvs:
            if out[kv.key] is None:
                out[kv.key] = _value(kv.value, tally)
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


def resource_of(rs: ResourceSpansJ, tally: Tally) -> tuple[str, dict[str, Any]]:
    """(service name, resource attributes) of a resource, shared by all its spans."""
    res = attributes(rs.resource.attributes, tally) if rs.resource else {}
    service = res.get("service.name")
    service = _intern(str(service)) if service not in (None, "") else UNKNOWN_SERVICE
    return service, res


class SpanSink:
    """Converts OTLP span structs into model spans, sharing trace-id strings between spans."""

    __slots__ = ("out", "tally", "trace_ids")

    def __init__(self, tally: Tally) -> None:
        self.out: list[Span] = []
        self.tally = tally
        self.trace_ids: dict[str, str | None] = {}

    def resource(self, rs: ResourceSpansJ) -> None:
        service, res = resource_of(rs, self.tally)
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
            short = max(map(len, chunk)) <= MAX_ATTR_CHARS
            try:
                batch: Sequence[SpanJ] = decode(b"[" + b",".join(chunk) + b"]")
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                # A misfit span fails its whole batch: read that batch span by span.
                batch = self._one_by_one(chunk)
                short = False
            del chunk
            self.spans(batch, service, res, short)

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
        self, items: Sequence[SpanJ], service: str, res: dict[str, Any], short: bool = False
    ) -> None:
        """The hot loop of a million-span export: fast paths inline, rare cases in helpers.

        `short` says these spans are a batch decoded through FastSpanJ and no attribute
        string of theirs can be long enough to need cutting.
        """
        # Bound once: attribute and global lookups per span add up.
        tally, trace_ids, append = self.tally, self.trace_ids, self.out.append
        norm, intern, fromhex = norm_id, _intern, bytes.fromhex
        attrs: Any = short_attributes if short else attributes
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
                end, no_duration = self._ends_before(start, end)
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
                    attrs(sp.attributes, tally) if sp.attributes else {},
                    self._events(sp.events) if sp.events else (),
                    self._links(sp.links) if sp.links else (),
                    res,
                    no_duration,
                )
            )

    def span(self, sp: SpanJ, service: str, res: dict[str, Any]) -> None:
        self.spans([sp], service, res)

    def _ends_before(self, start: int, end: int) -> tuple[int, bool]:
        """A span that ends before it starts is repaired to no duration; (new end, whether
        the end was missing altogether)."""
        self.tally.repaired += 1
        return start, end == 0

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
