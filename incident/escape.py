"""Escaping shared by every human-readable output (terminal, plain text, Markdown, Slack) and
by the digest: telemetry text is untrusted, so nothing in it may drive the reader's terminal,
hide from the reader, or become a link the reader did not ask for.

One visible form is used everywhere:

- control characters (C0 except tab, DEL, C1) become `\\xNN`, e.g. ESC is shown as `\\x1b`;
- invisible and bidirectional characters (zero-width spaces and joiners, bidi embeddings,
  overrides and isolates, word joiners, the BOM, the soft hyphen, Unicode tag characters,
  filler letters, lone surrogates) become `<U+XXXX>`, e.g. `check<U+200B>out`;
- line breaks (CR, LF, CRLF, VT, FF, the file/group/record separators, NEL, U+2028,
  U+2029) become one space in a single-line field, or `\\n` in a multi-line one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel

_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

# Characters that render as nothing (or reorder what follows) and so can make two different
# strings look the same: Unicode format characters (category Cf) that are not visible
# signs, plus invisible letters and marks used for the same trick, plus lone surrogates,
# which cannot even be written to a UTF-8 stream.
_INVISIBLE = (
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # Arabic letter mark
    "\u115f\u1160"  # Hangul choseong / jungseong fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u180b-\u180f"  # Mongolian variation selectors and vowel separator
    "\u200b-\u200f"  # zero-width space, non-joiner, joiner; LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates, deprecated formats
    "\u3164"  # Hangul filler
    "\ufeff"  # zero-width no-break space (BOM)
    "\uffa0"  # halfwidth Hangul filler
    "\ufff9-\ufffb"  # interlinear annotation
    "\ud800-\udfff"  # lone surrogates
    "\U000110bd\U000110cd"  # Kaithi number signs
    "\U00013430-\U0001343f"  # Egyptian hieroglyph format controls
    "\U0001bca0-\U0001bca3"  # shorthand format controls
    "\U0001d173-\U0001d17a"  # musical symbol format controls
    "\U000e0000-\U000e007f"  # tag characters (invisible ASCII look-alikes)
)
INVISIBLE = re.compile(f"[{_INVISIBLE}]")
# C0 except tab and line feed (line breaks are handled before), DEL and C1.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_UNSAFE = re.compile(f"[{_CONTROL}{_INVISIBLE}]")
UNSAFE_CHARS = re.compile(f"[\n{_CONTROL}{_INVISIBLE}]")

M = TypeVar("M", bound=BaseModel)


def show_char(char: str) -> str:
    """The visible form of one control or invisible character."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0xA0 else f"<U+{code:04X}>"


def visible(text: str, *, multiline: bool = False) -> str:
    """`text` with control and invisible characters in their visible form, and line breaks
    flattened to spaces (or, when `multiline`, normalised to `\\n`). Idempotent."""
    text = _LINE_BREAK.sub("\n" if multiline else " ", text)
    return _UNSAFE.sub(lambda m: show_char(m.group()), text)


def safe_data(value: Any, multiline: Collection[str] = (), key: str | None = None) -> Any:
    """A copy of JSON-like data (dicts, lists, scalars) with every string made visible.
    Strings under a key named in `multiline` keep their line breaks; all others are one
    line. Dict keys are made visible too."""
    if isinstance(value, str):
        return visible(value, multiline=key is not None and key in multiline)
    if isinstance(value, dict):
        return {
            (visible(k) if isinstance(k, str) else k): safe_data(
                v, multiline, k if isinstance(k, str) else None
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [safe_data(v, multiline, key) for v in value]
    return value


def safe_model(model: M, multiline: Collection[str] = ()) -> M:
    """A copy of a pydantic model in which every string field is made visible (see
    `safe_data`), so a renderer cannot forget one."""
    data = safe_data(model.model_dump(by_alias=True), multiline)
    return type(model).model_validate(data)


# --- links ----------------------------------------------------------------------------------

_SCHEMES = ("http", "https")
# What an ASCII authority (userinfo@host:port) may hold; a backslash, space or quote may not.
_NETLOC = re.compile(r"[A-Za-z0-9.\-_~%!$&'*+,;=:@\[\]]+")
# Characters kept as they are in a path, query or fragment; everything else (space, `(`,
# `)`, `<`, `>`, `"`, backticks, `|`, `\`, braces, non-ASCII) is percent-encoded. `%` is
# kept so an already encoded URL is not encoded twice.
_PATH_SAFE = "/:@!$&'*+,;=%"
_QUERY_SAFE = _PATH_SAFE + "?"


def _ascii_netloc(netloc: str) -> str | None:
    if netloc.isascii():
        return netloc if _NETLOC.fullmatch(netloc) else None
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    user = quote(userinfo, safe=":%!$&'*+,;=") + at if at else ""
    rebuilt = f"{user}{ascii_host}{colon}{port}"
    return rebuilt if _NETLOC.fullmatch(rebuilt) else None


def http_url(url: str | None) -> str | None:
    """`url` ready to be a link target, or None when it must not be one.

    Only absolute http:// and https:// URLs with a host qualify; javascript:, data:, file:,
    relative and scheme-less references, and anything holding a control or invisible
    character, do not. The result is percent-encoded so that it holds no space, parenthesis,
    angle bracket, quote, backtick or pipe: safe inside `<...>` in Markdown and Slack.
    """
    if not url:
        return None
    text = url.strip()
    if UNSAFE_CHARS.search(text) or "\t" in text or len(text) > 4096:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc or not parts.hostname:
        return None
    netloc = _ascii_netloc(parts.netloc)
    if netloc is None:
        return None
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )
