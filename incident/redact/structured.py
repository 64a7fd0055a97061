"""Redaction applied to whole things: a Bundle of spans, logs and alerts, or the bytes of a
file that must come back in the same format (JSON, JSON Lines, text, gzip of any of these).
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
    (string values redacted by key and by content, key order kept), text is redacted as
    text, and gzip comes back as gzip. Protobuf and other binary input is refused."""
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
    out = redact_document(text, redactor).encode("utf-8")
    return gzip.compress(out, mtime=0) if gzipped else out


def redact_document(text: str, redactor: Redactor) -> str:
    """Redact one decoded file: a JSON document, JSON Lines, or plain text."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            doc = json.loads(stripped)
        except ValueError:
            pass  # not one document: JSON Lines or text, handled below
        else:
            tail = text[len(text.rstrip()) :]
            return _dump_like(redactor.redact_value(doc), stripped) + tail
    lines = text.splitlines(keepends=True)
    if not any(line.lstrip()[:1] == "{" for line in lines):
        # Plain text in one go, so that a PEM key spanning lines is still caught whole.
        return redactor.redact_text(text)
    out: list[str] = []
    for line in lines:
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        out.append(_redact_line(body, redactor) + ending)
    return "".join(out)


def _redact_line(body: str, redactor: Redactor) -> str:
    s = body.strip()
    if s[:1] in ("{", "["):
        try:
            doc = json.loads(s)
        except ValueError:
            return redactor.redact_text(body)
        return _dump_like(redactor.redact_value(doc), s)
    return redactor.redact_text(body)


def _dump_like(doc: Any, original: str) -> str:
    """Serialise in roughly the input's layout: its indent, or compact with its separators."""
    m = _INDENT.match(original)
    if m:
        ws = m.group(1)
        indent: int | str = ws if "\t" in ws else len(ws)
        return json.dumps(doc, ensure_ascii=False, indent=indent)
    spaced = re.search(r'"\s*:\s', original[:2000]) is not None
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(doc, ensure_ascii=False, separators=separators)
