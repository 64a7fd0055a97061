"""What one input is, decided from its content: OTLP JSON, JSON Lines or protobuf, Jaeger,
Zipkin, OTLP logs, or whatever the log and alert readers recognise; then the right reader.
"""

from __future__ import annotations

import codecs
import re

import msgspec

from incident.errors import EmptyInputError, FormatError, UnreadableInputError
from incident.ingest import alerts, jaeger, logs, otlp_json, span_csv, zipkin
from incident.ingest.bounds import NESTED_TOO_DEEPLY, screen_times
from incident.ingest.sources import Blob
from incident.ingest.toolkit import Paused, iter_lines
from incident.model import Bundle

HEAD = 64 * 1024
_LONG_LINE = 1024 * 1024
_WS = b" \t\r\n"
_OTLP_TRACE_KEYS = (b'"resourceSpans"', b'"scopeSpans"', b'"instrumentationLibrarySpans"')
_OTLP_LINE_KEYS = (b'"resourceSpans"', b'"resourceLogs"', b'"resourceMetrics"')
EXPECTED = (
    "OTLP (JSON, JSON Lines or protobuf), Jaeger or Zipkin traces, a CSV span table, logs, "
    "or alerts"
)
# The log reader's name for plain text lines: it accepts almost any text.
PLAIN_TEXT = "text"
# Forced kinds, as given by --logs and --alerts.
LOGS, ALERTS = "logs", "alerts"
# The first line of a TOML or INI file: a [table] or [[array of tables]] header.
_CONFIG_TABLE = re.compile(rb"\[\[?[A-Za-z0-9_.\- \"']{1,80}\]\]?[ \t]*\r?\n")
# What a crash leaves in a log file: blocks that were allocated but never written. A lone
# NUL is no such hole (UTF-16 text has one after every ASCII letter) and counts as noise.
_NUL_RUN = re.compile(rb"\x00{2,}")
_NOT_NUL = re.compile(rb"[^\x00\t\n\r ]")
_HOLE_BLOCK = 1024 * 1024
# Bytes no text line holds (tabs, line breaks and ESC, for colours, are allowed).
_CONTROLS = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r\x1b") + b"\x7f"


def _sniff_logs(head: str, json: bool = False) -> str | None:
    """The log format the log reader sees in `head`; in JSON, "any text" does not count."""
    try:
        result = logs.sniff(head)
    except RecursionError:
        # Absurdly nested JSON is no log format; the caller reports it as what it is.
        return None
    if json and result == PLAIN_TEXT:
        return None
    return result or None


# --- bytes -> text -------------------------------------------------------------------------


def _unbom(data: bytes, name: str) -> bytes:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Windows tools write UTF-16 with a BOM; everything downstream wants UTF-8.
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeError as exc:
            raise UnreadableInputError(name, "invalid UTF-16 text", "UTF-8 text") from exc
    return data


def _text(data: bytes, name: str) -> str:
    """The bytes as text. A few lines of other bytes (a crash's garbage) are read around,
    the bad bytes replaced for the line readers to judge; mostly not UTF-8 is refused."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "replace")
        lines = bad = 0
        for line in text.split("\n"):
            if line.strip():
                lines += 1
                bad += "\ufffd" in line
        if bad * 2 > lines:
            raise UnreadableInputError(
                name, f"not UTF-8 text (bad byte at offset {exc.start})", "UTF-8 JSON or text"
            ) from exc
        return text


def _is_binary(head: bytes) -> bool:
    """Most lines of the sample are noise: control bytes or bytes that are not text.

    Decided line by line so that a log a crash left with runs of NUL bytes or a few lines
    of garbage is still read (around them); a PNG or random bytes are not.
    """
    lines = head.split(b"\n")
    if len(head) == HEAD and len(lines) > 1:
        lines.pop()  # the sample cut the last line, maybe inside a character
    good = bad = 0
    for line in lines:
        text = _NUL_RUN.sub(b"", line).strip() if b"\x00\x00" in line else line.strip()
        if not text:
            bad += b"\x00" in line  # only NULs: the hole a crash leaves
            continue
        if _is_noise(text):
            bad += 1
        else:
            good += 1
    return bad > good


def _is_noise(line: bytes) -> bool:
    """More than a tenth of the line is control bytes or bytes that decode to nothing."""
    text = line.decode("utf-8", "replace")
    noise = text.count("\ufffd") + len(line) - len(line.translate(None, _CONTROLS))
    return noise * 10 > len(text)


def _after_hole(data: bytes, start: int) -> tuple[bytes, int]:
    """The bytes after the NUL run (and whitespace) at `start`; all of it if nothing follows.

    Whole blocks of NULs are passed by counting (a decompressed bomb of zeros is gigabytes
    long); the pattern only searches the block where something else appears.
    """
    size = len(data)
    pos = start
    while pos < size:
        end = min(pos + _HOLE_BLOCK, size)
        if data.count(0, pos, end) != end - pos:
            found = _NOT_NUL.search(data, pos, end)
            if found is not None:
                rest = data[found.start() :]
                return rest, _first_nonspace(rest)
        pos = end
    return data, start


def _first_nonspace(data: bytes) -> int:
    """Offset of the first non-whitespace byte, or -1 when there is none."""
    size = len(data)
    pos = 0
    while pos < size:
        chunk = data[pos : pos + HEAD]
        stripped = chunk.lstrip(_WS)
        if stripped:
            return pos + len(chunk) - len(stripped)
        pos += HEAD
    return -1


# --- JSON Lines ----------------------------------------------------------------------------


def _decode_small(line: bytes | memoryview) -> object:
    """Decode one line generically; a broken line gives None."""
    try:
        return msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def _looks_like_jsonl(data: bytes, start: int, tolerant: bool) -> bool:
    """Several JSON values, one per line.

    Strict mode (before trying a whole-document parse): the first line is a complete object
    or array and more follows. Tolerant mode (after that parse failed): at least two of the
    first lines are objects, so a garbage line does not hide a JSON Lines file.
    """
    if not tolerant:
        nl = data.find(b"\n", start)
        if nl < 0:
            return False
        if not data[nl : nl + HEAD].strip(_WS) and not data[nl:].strip(_WS):
            return False
        if nl - start > _LONG_LINE:
            # Decoding a huge first line generically only to look at it would cost more
            # than reading it: a closed bracket and a next line that opens one will do.
            first_end = data[max(start, nl - 64) : nl].rstrip(_WS)[-1:]
            next_start = data[nl : nl + 64].lstrip(_WS)[:1]
            return first_end in (b"}", b"]") and next_start in (b"{", b"[")
        return isinstance(_decode_small(memoryview(data)[start:nl]), dict | list)
    good = 0
    for n, (_, line) in enumerate(iter_lines(data)):
        if n >= 20 or good >= 2:
            break
        if len(line) < 16 * 1024 * 1024 and isinstance(_decode_small(line), dict):
            good += 1
    return good >= 2


def _has_otlp_lines(data: bytes) -> bool:
    """Whether one of the first lines is an OTLP envelope (traces, logs or metrics)."""
    for n, (_, line) in enumerate(iter_lines(data)):
        if n >= 50:
            break
        head = bytes(line[:4096])
        if any(key in head for key in _OTLP_LINE_KEYS):
            return True
    return False


def _read_jsonl(data: bytes, name: str, force: str | None) -> Bundle:
    if force is None and _has_otlp_lines(data):
        return otlp_json.read_jsonl(data, name)
    if force == ALERTS or (force is None and alerts.sniff(_first_value(data)) is not None):
        bundle = Bundle()
        for _, line in iter_lines(data):
            obj = _decode_small(line)
            if obj is None or alerts.sniff(obj) is None:
                bundle.quality.skipped += 1
                continue
            bundle.extend(alerts.read(obj, name))
        return bundle
    text = _text(data, name)
    if force == LOGS or _sniff_logs(text[:HEAD], json=True) is not None:
        return logs.read(text, name)
    raise FormatError(name, "JSON Lines of an unknown shape", EXPECTED)


def _first_value(data: bytes) -> object:
    for _, line in iter_lines(data):
        value = _decode_small(line)
        if value is not None:
            return value
    return None


# --- whole documents -----------------------------------------------------------------------


def _decode_whole(data: bytes, name: str) -> object:
    with Paused():
        try:
            return msgspec.json.decode(data)
        except UnicodeDecodeError as exc:
            raise UnreadableInputError(
                name, f"not UTF-8 (bad byte at offset {exc.start})", "UTF-8 JSON"
            ) from exc
        except msgspec.DecodeError as exc:
            problem = str(exc)
            if "truncated" in problem:
                problem = f"truncated JSON ({problem})"
            raise FormatError(name, f"malformed JSON: {problem}", "complete, valid JSON") from exc
        except RecursionError as exc:
            raise FormatError(name, NESTED_TOO_DEEPLY, EXPECTED) from exc


def _describe(obj: object) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(sorted(str(k) for k in obj)[:6]) or "none"
        return f"a JSON object of an unknown shape (keys: {keys})"
    if isinstance(obj, list):
        return f"a JSON array of an unknown shape ({len(obj)} items)"
    return f"a bare JSON {type(obj).__name__}"


def dispatch_json(obj: object, name: str, text_head: str) -> Bundle | None:
    """The reader for a decoded JSON document, chosen by its shape.

    None means the document is a log file the log reader wants as text.
    """
    if otlp_json.looks_like_otlp_traces(obj):
        return otlp_json.read_object(obj, name)
    if jaeger.looks_like_jaeger(obj):
        return jaeger.read(obj, name)
    if zipkin.looks_like_zipkin(obj):
        return zipkin.read(obj, name)
    if isinstance(obj, dict) and isinstance(obj.get("resourceLogs"), list):
        return None  # OTLP logs: the log reader's
    if alerts.sniff(obj) is not None:
        return alerts.read(obj, name)
    if _sniff_logs(text_head, json=True) is not None:
        return None
    raise FormatError(name, _describe(obj), EXPECTED)


def _read_typed(data: bytes, head: bytes, start: int, name: str) -> Bundle | None:
    if data[start : start + 1] == b"{" and b'"spanID"' in head:
        return jaeger.read_bytes(data, name)
    if data[start : start + 1] == b"[" and b'"traceId"' in head:
        return zipkin.read_bytes(data, name)
    return None


def _read_json(box: list[bytes], start: int, name: str, force: str | None) -> Bundle:
    """`box` holds the only other reference to the bytes, so they can be freed early."""
    data = box[0]
    if _looks_like_jsonl(data, start, tolerant=False):
        return _read_jsonl(data, name, force)
    head = data[start : start + HEAD]
    try:
        if force is None and any(key in head for key in _OTLP_TRACE_KEYS):
            doc = otlp_json.decode_document(data, name)
            if doc is not None and otlp_json.has_spans_envelope(doc):
                # The typed document is all that is needed: free the bytes before converting.
                box.clear()
                del data
                return otlp_json.read_doc(doc, name)
        # Jaeger and Zipkin of the usual shapes decode typed, far lighter than generic JSON;
        # None means "not that shape after all" and the generic route below decides.
        typed = _read_typed(data, head, start, name) if force is None else None
        if typed is not None:
            return typed
        obj = _decode_whole(data, name)
    except FormatError as exc:
        # A JSON Lines file whose first line is broken fails as one document; read it by line.
        if _looks_like_jsonl(data, start, tolerant=True):
            return _read_jsonl(data, name, force)
        # Text logs whose lines open with a bracket ("[Sun Dec 04 ...] [error] ...") fail
        # as malformed JSON; a thousand brackets deep, they are no log but absurd nesting.
        if force != ALERTS and not exc.problem.startswith(NESTED_TOO_DEEPLY):
            text_head = data[:HEAD].decode("utf-8", "replace")
            if force == LOGS or _sniff_logs(text_head) is not None:
                return logs.read(_text(data, name), name)
        if _CONFIG_TABLE.match(data[start : start + 200]):
            # "[section]" then key = value: a TOML or INI file, not broken JSON.
            raise FormatError(
                name, "a TOML or INI configuration file, not telemetry", EXPECTED
            ) from exc
        raise
    if force == ALERTS:
        return alerts.read(obj, name)
    if force == LOGS:
        del obj
        return logs.read(_text(data, name), name)
    text_head = data[:HEAD].decode("utf-8", "replace")
    bundle = dispatch_json(obj, name, text_head)
    if bundle is not None:
        return bundle
    del obj
    return logs.read(_text(data, name), name)


# --- entry point ---------------------------------------------------------------------------


def read_blob(blob: Blob, force: str | None = None) -> Bundle:
    """Read one input's bytes with the reader its content calls for.

    `force` ("logs" or "alerts") skips detection of the kind, as --logs and --alerts do.
    Times outside 1970-2200 are screened out here, for every reader at once.
    Raises an InputError subclass when nothing in the input is usable.
    """
    name = blob.name
    try:
        bundle = _read(blob, force)
    except RecursionError as exc:
        # The readers catch the decoders' depth limit; this is the net for any walk of a
        # decoded value that still ran out of stack. Only absurd nesting gets here.
        raise FormatError(name, f"{NESTED_TOO_DEEPLY} to read", EXPECTED) from exc
    screen_times(bundle, name)
    if not (bundle.spans or bundle.logs or bundle.alerts or bundle.notices):
        skipped = bundle.quality.skipped + bundle.quality.log_lines_skipped
        problem = f"no usable records ({skipped} skipped)" if skipped else "no records"
        raise EmptyInputError(name, problem, EXPECTED)
    return bundle


def _read(blob: Blob, force: str | None) -> Bundle:
    name = blob.name
    data = _unbom(blob.take(), name)
    start = _first_nonspace(data)
    hole = data[start : start + 2] == b"\x00\x00"
    if hole:
        # A crash's hole at the very start: what follows it is the file.
        data, start = _after_hole(data, start)
    if start < 0:
        forced = {ALERTS: "an alert payload in JSON", LOGS: "log lines"}
        expected = forced.get(force or "", EXPECTED)
        raise EmptyInputError(name, "empty file" if not data else "only whitespace", expected)
    head = data[:HEAD]
    with Paused():
        if data[start : start + 1] in (b"{", b"["):
            box = [data]
            del data
            try:
                bundle = _read_json(box, start, name, force)
            except FormatError:
                # Noise that happens to start with a bracket is binary, not broken JSON.
                if _is_binary(head):
                    raise UnreadableInputError(name, "binary data", EXPECTED) from None
                raise
        elif force is None and data[:1] == b"\x0a" and (proto := _try_proto(data, name)):
            bundle = proto
        elif _is_binary(head):
            raise UnreadableInputError(name, "binary data", EXPECTED)
        elif (
            force is None
            and _looks_like_jsonl(data, start, tolerant=True)
            and _has_otlp_lines(data)
        ):
            # An OTLP JSON Lines export whose first line is garbage is still OTLP.
            bundle = _read_jsonl(data, name, force)
        else:
            text = _text(data, name)
            if force == ALERTS:
                raise FormatError(name, "not JSON", "an alert payload in JSON")
            if force is None and span_csv.looks_like_span_csv(text[:HEAD]):
                bundle = span_csv.read(text, name)
            elif force != LOGS and _sniff_logs(text[:HEAD]) is None:
                raise FormatError(name, "text in no recognised format", EXPECTED)
            else:
                bundle = logs.read(text, name)
    if hole:
        q = bundle.quality
        if bundle.logs:
            q.log_lines_skipped += 1
        else:
            q.skipped += 1
        q.warn(f"{name}: a run of NUL bytes at the start skipped (a crash leaves such holes)")
    return bundle


def _try_proto(data: bytes, name: str) -> Bundle | None:
    """OTLP protobuf has no magic: a parse that yields spans is the only proof."""
    from incident.ingest import otlp_proto  # protobuf costs import time; only load it here

    try:
        return otlp_proto.read(data, name)
    except FormatError:
        return None
