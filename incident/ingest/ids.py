"""Trace and span ids as every exporter writes them (hex of any case, base64, integers) turned
into the one form the model uses: lowercase hex, or None when the id is absent or unusable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# base64 lengths (with padding, and without) of 8- and 16-byte ids.
_B64_LENGTHS = frozenset((12, 11, 24, 22))


def norm_id(value: object) -> str | None:
    """Lowercase hex for a hex string, a base64 string or a non-negative integer id.

    Missing, empty, all-zero or unparseable ids give None: an all-zero id means "no id" in
    every tracing format.
    """
    if type(value) is str:
        n = len(value)
        if n == 16 or n == 32:
            # Fast path (millions of calls): C-level hex parsing that also lowercases.
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = b""
            if len(raw) * 2 == n:
                return raw.hex() if raw.strip(b"\0") else None
        if n == 0:
            return None
        elif n in _B64_LENGTHS and not _HEX_DIGITS.issuperset(value):
            out = _from_base64(value) or ""
        elif n <= 32 and _HEX_DIGITS.issuperset(value):
            # Some writers drop leading zeros (Jaeger, Zipkin v1): pad to 64 or 128 bits.
            out = value.lower().rjust(16 if n <= 16 else 32, "0")
        else:
            return None
    elif isinstance(value, str):
        return norm_id(str(value))
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if value < 0:
            # Signed 64-bit ids (Jaeger Thrift, some JVM exporters) are two's complement.
            value &= (1 << 64) - 1
        if value >= 1 << 128:
            return None
        out = format(value, "016x" if value < 1 << 64 else "032x")
    elif isinstance(value, bytes | bytearray):
        out = bytes(value).hex() if len(value) in (8, 16) else ""
    else:
        return None
    if not out or out.count("0") == len(out):
        return None
    return out


def _from_base64(text: str) -> str | None:
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(padded)
        except (binascii.Error, ValueError):
            return None
    if len(raw) not in (8, 16):
        return None
    return raw.hex()


def derived_span_id(span_id: str, salt: str) -> str:
    """A stable 64-bit hex id derived from another id, for records that reused an id."""
    digest = hashlib.blake2b(f"{span_id}/{salt}".encode(), digest_size=8).hexdigest()
    # Never all zeros, so the derived id is always a usable id.
    return digest if digest.strip("0") else "0000000000000001"
