"""Redaction applied to whole things: a Bundle of spans, logs and alerts, or the bytes of a
file that must come back in the same format (JSON, JSON Lines, CSV, text, gzip of any of
these).

Nothing here recurses: values are walked by the Redactor with an explicit stack, JSON too
deep for json.loads is a FormatError (never a RecursionError), and a document deeper than
json.dumps can write is written back by a stack-based writer with the same output.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

import msgspec

from incident.errors import FormatError, UnreadableInputError
from incident.model import Alert, Bundle, LogRecord, SpanEvent
from incident.redact.redactor import Redactor
from incident.redact.rules import is_id_key


def redact_bundle(bundle: Bundle, redactor: Redactor | None = None) -> Bundle:
    """A new bundle with span names, attributes, events, status messages, log messages and
    fields, and alert texts, labels and annotations redacted; ids, services and times kept."""
    r = redactor or Redactor()
    resources: dict[int, dict[str, Any]] = {}

    def resource(res: dict[str, Any]) -> dict[str, Any]:
        # Resources are shared by every span of one process: redact each once.
        found = resources.get(id(res))
        if found is None:
            found = resources[id(res)] = _attrs(r, res)
        return found

    spans = [
        msgspec.structs.replace(
            s,
            name=r.redact_text(s.name),
            status_message=r.redact_text(s.status_message),
            attributes=_attrs(r, s.attributes),
            events=tuple(
                SpanEvent(e.time_ns, r.redact_text(e.name), _attrs(r, e.attributes))
                for e in s.events
            ),
            resource=resource(s.resource),
        )
        for s in bundle.spans
    ]
    logs = [_log(r, rec) for rec in bundle.logs]
    alerts = [_alert(r, a) for a in bundle.alerts]
    quality = msgspec.structs.replace(bundle.quality, warnings=list(bundle.quality.warnings))
    return Bundle(
        spans=spans,
        logs=logs,
        alerts=alerts,
        inputs=[msgspec.structs.replace(i, notes=list(i.notes)) for i in bundle.inputs],
        quality=quality,
        notices=[r.redact_text(n) for n in bundle.notices],
    )


def _attrs(r: Redactor, attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: r.redact_value(v, k) for k, v in attrs.items()}


def _opt(r: Redactor, text: str | None) -> str | None:
    return None if text is None else r.redact_text(text)


def _log(r: Redactor, rec: LogRecord) -> LogRecord:
    return msgspec.structs.replace(
        rec, message=r.redact_text(rec.message), fields=_attrs(r, rec.fields)
    )


def _alert(r: Redactor, a: Alert) -> Alert:
    return msgspec.structs.replace(
        a,
        name=r.redact_text(a.name),
        labels={k: str(r.redact_value(v, k)) for k, v in a.labels.items()},
        annotations={k: str(r.redact_value(v, k)) for k, v in a.annotations.items()},
        runbook=_opt(r, a.runbook),
        generator_url=_opt(r, a.generator_url),
        summary=_opt(r, a.summary),
    )


# --- files --------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_INDENT = re.compile(r"^[\[{]\r?\n([ \t]+)")


def redact_file_bytes(data: bytes, name: str, redactor: Redactor) -> bytes:
    """The same file, same format, redacted: JSON documents and JSON Lines are walked
    (string values redacted by key and by content, key order kept), CSV with id columns
    (TraceID, SpanID, ...) row by row with its ids kept by shape, other text as text, and
    gzip comes back as gzip. Protobuf and other binary input is refused."""
    gzipped = data[:2] == _GZIP_MAGIC
    if gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise UnreadableInputError(name, f"corrupt gzip data ({exc})", "a valid .gz") from exc
    if b"\x00" in data[:4096]:
        raise FormatError(
            name,
            "binary content (protobuf?) cannot be redacted in place",
            "JSON, JSON Lines or text; export OTLP as JSON to redact it",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableInputError(name, "not UTF-8 text", "JSON, JSON Lines or text") from exc
    out = redact_document(text, redactor, name).encode("utf-8")
    return gzip.compress(out, mtime=0) if gzipped else out


def redact_document(text: str, redactor: Redactor, name: str = "input") -> str:
    """Redact one decoded file: a JSON document, JSON Lines, CSV, or plain text. `name`
    names the file in the error raised for JSON nested too deeply to parse."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            doc = _loads(stripped, name)
        except ValueError:
            pass  # not one document: JSON Lines or text, handled below
        else:
            tail = text[len(text.rstrip()) :]
            return _dump_like(redactor.redact_value(doc), stripped) + tail
    lines = text.splitlines(keepends=True)
    if not any(line.lstrip()[:1] == "{" for line in lines):
        # Row by row only when no private key spans lines (it must be caught whole).
        whole_keys = all(
            "END" in line for line in lines if "BEGIN" in line and "PRIVATE KEY" in line
        )
        id_columns = _csv_id_columns(lines) if whole_keys else frozenset()
        if id_columns:
            return _redact_csv(lines, id_columns, redactor)
        # Plain text in one go, so that a PEM key spanning lines is still caught whole.
        return redactor.redact_text(text)
    out: list[str] = []
    for line in lines:
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        out.append(_redact_line(body, redactor, name) + ending)
    return "".join(out)


def _loads(text: str, name: str) -> Any:
    """json.loads, with a FormatError (not a RecursionError) for absurdly deep nesting."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise FormatError(
            name, "JSON nested too deeply", "JSON nested at most a few hundred levels deep"
        ) from exc


def _redact_line(body: str, redactor: Redactor, name: str) -> str:
    s = body.strip()
    if s[:1] in ("{", "["):
        try:
            doc = _loads(s, name)
        except ValueError:
            return redactor.redact_text(body)
        return _dump_like(redactor.redact_value(doc), s)
    return redactor.redact_text(body)


# --- CSV ----------------------------------------------------------------------------------

_CSV_NAME = re.compile(r"[\w.:/-]{1,64}")


def _csv_id_columns(lines: list[str]) -> frozenset[int]:
    """Indexes of the id columns (TraceID, SpanID, ParentID, ...) when the first line is a
    CSV header (column names, no spaces) and the next has as many fields; else empty."""
    header = lines[0].rstrip("\r\n") if lines else ""
    if "," not in header or len(header) > 4096:
        return frozenset()
    names = [f.strip().strip('"').strip() for f in header.split(",")]
    if not all(_CSV_NAME.fullmatch(n) for n in names):
        return frozenset()
    # The header alone decides: a data row whose free text holds quotes or commas may not
    # split into as many fields, and must not turn its ids back into plain text.
    return frozenset(i for i, n in enumerate(names) if is_id_key(n))


def _csv_fields(line: str) -> list[tuple[int, int]]:
    """(start, end) of each field of one CSV line; quoted fields may hold commas."""
    fields: list[tuple[int, int]] = []
    i, n = 0, len(line)
    while True:
        j = i
        if i < n and line[i] == '"':
            j = i + 1
            while True:
                q = line.find('"', j)
                if q < 0:
                    j = n
                    break
                if line.startswith('""', q):
                    j = q + 2
                    continue
                j = q + 1
                break
        comma = line.find(",", j)
        end = n if comma < 0 else comma
        fields.append((i, end))
        if comma < 0:
            return fields
        i = comma + 1


def _redact_csv(lines: list[str], id_columns: frozenset[int], redactor: Redactor) -> str:
    """CSV row by row: id columns through `redact_id` (a decimal span id that passes Luhn
    stays a span id), the other columns of a row redacted together as text."""
    out = [redactor.redact_text(lines[0])]
    for line in lines[1:]:
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        pieces: list[str] = []
        last = 0
        for index, (start, end) in enumerate(_csv_fields(body)):
            if index not in id_columns:
                continue
            pieces.append(redactor.redact_text(body[last:start]))
            field = body[start:end]
            if len(field) >= 2 and field[0] == field[-1] == '"':
                pieces.append('"' + redactor.redact_id(field[1:-1]) + '"')
            else:
                pieces.append(redactor.redact_id(field))
            last = end
        pieces.append(redactor.redact_text(body[last:]))
        out.append("".join(pieces) + ending)
    return "".join(out)


# --- writing JSON back ----------------------------------------------------------------------


def _dump_like(doc: Any, original: str) -> str:
    """Serialise in roughly the input's layout: its indent, or compact with its separators."""
    m = _INDENT.match(original)
    indent: int | str | None = None
    separators = (",", ": ")
    if m:
        ws = m.group(1)
        indent = ws if "\t" in ws else len(ws)
    elif re.search(r'"\s*:\s', original[:2000]) is not None:
        separators = (", ", ": ")
    else:
        separators = (",", ":")
    try:
        return json.dumps(doc, ensure_ascii=False, indent=indent, separators=separators)
    except RecursionError:
        return _dumps_deep(doc, indent, separators)


def _dumps_deep(doc: Any, indent: int | str | None, separators: tuple[str, str]) -> str:
    """json.dumps for documents too deep for it: the same text, built with a stack."""
    item_sep, key_sep = separators
    pad = " " * indent if isinstance(indent, int) else indent
    out: list[str] = []
    # ("text", s) is written as is; ("value", v, level) is a value at that depth.
    stack: list[tuple[str, Any, int]] = [("value", doc, 0)]
    while stack:
        what, obj, level = stack.pop()
        if what == "text":
            out.append(obj)
            continue
        if isinstance(obj, dict) and obj:
            items: list[tuple[str, Any]] = list(obj.items())
            opening, closing = "{", "}"
        elif isinstance(obj, list | tuple) and obj:
            items = [("", v) for v in obj]
            opening, closing = "[", "]"
        else:
            out.append(json.dumps(obj, ensure_ascii=False))
            continue
        inner = "" if pad is None else "\n" + pad * (level + 1)
        stack.append(("text", ("" if pad is None else "\n" + pad * level) + closing, 0))
        is_dict = opening == "{"
        for i in range(len(items) - 1, -1, -1):
            key, value = items[i]
            stack.append(("value", value, level + 1))
            lead = (item_sep if i else "") + inner
            if is_dict:
                lead += json.dumps(str(key), ensure_ascii=False) + key_sep
            stack.append(("text", lead, 0))
        stack.append(("text", opening, 0))
    return "".join(out)
