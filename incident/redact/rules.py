"""The redaction rules: one small record per kind of secret or personal datum, with the
validators (Luhn, mod-97, SSN ranges, public IP, base64 that decodes to a secret) that keep
look-alikes out.

A rule finds candidates with a regex and lets a validator accept, narrow, extend or refuse
each one, so every rule has the same shape and users can add their own beside the defaults.

Every pattern here runs in time linear in its input, whatever the input holds: quantifiers
are bounded or cover a single character class that the match then keeps, and the parts that
would need backtracking (where a DSN password ends, how far a PEM block or a quoted value
goes) are read by the validator with `str.find` and anchored `re.match` calls instead.
`tests/test_redact_hostile.py` feeds every rule 100 KB of input built to make it backtrack.

Size: about 1,000 lines, on purpose. It is a table of rules, each a few lines with the
validator that belongs to it; split by kind, a reader would have to jump between files to
see why two rules do not overlap.

Ids are kept by the shape of their value, never by their key alone (`is_id_shaped`):
hex, UUIDs, decimal and short prefixed ids are what trace, span and request ids look like;
anything else under an id key is redacted like any other value.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from incident.redact.providers import PROVIDERS

# A validator gets the regex match and returns the (start, end) to replace, or None to keep.
# The span may reach past the match (a validator that reads the rest of a value itself).
Span = tuple[int, int]
Validator = Callable[[re.Match[str]], Span | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of sensitive text: `kind` names the placeholder, `name` the rule itself."""

    name: str
    kind: str
    pattern: re.Pattern[str]
    validate: Validator
    # Lowercase substrings of which at least one must occur for the regex to be worth
    # running: a cheap prefilter, since most telemetry strings hold nothing sensitive.
    needs: tuple[str, ...] = ()

    def applies(self, lowered: str) -> bool:
        return not self.needs or any(n in lowered for n in self.needs)

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans to replace, in order. When a validator extends a span past
        its match, the search resumes after the span: text already taken is not rescanned
        (which keeps, say, a run of unterminated PEM headers linear)."""
        spans: list[Span] = []
        search = self.pattern.search
        pos, n = 0, len(text)
        while pos <= n:
            match = search(text, pos)
            if match is None:
                break
            span = self.validate(match)
            start, end = match.span()
            if span is not None and span[1] > span[0] and (not spans or span[0] >= spans[-1][1]):
                spans.append(span)
                end = max(end, span[1])
            pos = end if end > start else start + 1
        return spans


def whole(group: int | str = 0) -> Validator:
    """Accept every match, replacing the given group."""

    def accept(match: re.Match[str]) -> Span | None:
        if match.group(group) is None:
            return None
        return match.span(group)

    return accept


def _looks_random(value: str) -> bool:
    """Tokens mix letters and digits; words and service names usually do not."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def random_token(group: int | str = 0) -> Validator:
    def accept(match: re.Match[str]) -> Span | None:
        value = match.group(group)
        if value is None or not _looks_random(value):
            return None
        return match.span(group)

    return accept


# --- validators with arithmetic behind them ---------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    """Issuer prefix and length: keeps epoch times, decimal span ids and counters out."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if two in (30, 36, 38, 39):
        return 14 <= n <= 19
    if two == 35 or four in (1800, 2131):
        return 15 <= n <= 19
    if two == 50 or 56 <= two <= 69:  # Maestro, Discover, UnionPay, RuPay
        return 12 <= n <= 19
    return False


# Words near a bare digit run that make it a card number rather than an id or a counter.
_CARD_CONTEXT = re.compile(
    r"(?i)card|credit|debit|visa|master|amex|american express|discover|diners|jcb|maestro|"
    r"unionpay|payment|paid|billing|charge|cvv|cvc|(?<![a-z])(?:cc|pan|pay)(?![a-z])"
)
# ... and an id key right before it, which wins over any such word further back.
_ID_BEFORE = re.compile(
    r"(?i)(?:(?:span|trace|parent|request|correlation|message|event)(?:[_.-]?id)?"
    r"|(?<![a-z])id)[\"']?[ \t]{0,3}[:=,]?[ \t]{0,3}[\"']?$"
)


def card(match: re.Match[str]) -> Span | None:
    """Luhn, issuer prefix and length always; and, for a bare digit run (no grouping), a
    word like 'card' or 'visa' nearby: decimal span ids pass Luhn one time in ten."""
    raw = match.group(0)
    seps = {c for c in raw if not c.isdigit()}
    if len(seps) > 1:
        return None
    digits = "".join(c for c in raw if c.isdigit())
    if seps:
        groups = re.split(r"[ -]", raw)
        # Cards are printed in groups of four (Amex 4-6-5); other spacing is something else.
        if not (all(len(g) == 4 for g in groups[:-1]) or [len(g) for g in groups] == [4, 6, 5]):
            return None
    if not 12 <= len(digits) <= 19 or not _card_brand_ok(digits) or not luhn_ok(digits):
        return None
    if not seps:
        text, (start, end) = match.string, match.span(0)
        before = text[max(0, start - 48) : start]
        if _ID_BEFORE.search(before[-32:]):
            return None
        if not (_CARD_CONTEXT.search(before) or _CARD_CONTEXT.search(text[end : end + 24])):
            return None
    return match.span(0)


# Lengths per country from the IBAN registry (the common ones; unknown countries are refused).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


# Countries whose account part is digits only: a letter there means "not an IBAN".
_NUMERIC_BBAN = frozenset(
    {
        "AT",
        "BE",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "HR",
        "HU",
        "LT",
        "NO",
        "PL",
        "PT",
        "SE",
        "SI",
        "SK",
    }
)
# Span and trace ids are lowercase hex; about 1 in 97 of them passes mod-97 by chance.
_HEX_ID = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")


def iban_ok(compact: str) -> bool:
    if _HEX_ID.fullmatch(compact):
        return False
    compact = compact.upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if compact[:2] in _NUMERIC_BBAN and not compact[4:].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def iban(match: re.Match[str]) -> Span | None:
    """Read exactly the registry length of characters (single spaces allowed between them)
    from the country code on, so neither a following word nor a failed candidate before it
    swallows the text of the next one."""
    text, start = match.string, match.start()
    want = IBAN_LENGTHS.get(text[start : start + 2].upper())
    if want is None:
        return None
    chars: list[str] = []
    i = start
    while i < len(text) and len(chars) < want:
        ch = text[i]
        if ch.isascii() and ch.isalnum():
            chars.append(ch)
        elif not (ch == " " and i + 1 < len(text) and text[i + 1] != " " and chars):
            return None
        i += 1
    if len(chars) < want or (i < len(text) and text[i].isalnum()):
        return None  # too short, or glued to more characters: not a standalone IBAN
    return (start, i) if iban_ok("".join(chars)) else None


def ssn(match: re.Match[str]) -> Span | None:
    area, group, serial = match.group("area"), match.group("group"), match.group("serial")
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        return None
    return match.span(0)


_NINO_BAD_PREFIXES = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def nino(match: re.Match[str]) -> Span | None:
    if match.group(0)[:2].upper() in _NINO_BAD_PREFIXES:
        return None
    return match.span(0)


def basic_auth(match: re.Match[str]) -> Span | None:
    """Basic credentials decode to user:password; the word after 'Basic' in prose does not."""
    token = match.group(1)
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return match.span(1) if b":" in decoded else None


_VERSION_CONTEXT = re.compile(r"(?i)(?:version|release|ver|build)[\s:=]*$")


def public_ipv4(match: re.Match[str]) -> Span | None:
    """End-user (global) addresses are personal; pod, loopback and private ones are kept."""
    text = match.group(0)
    before = match.string[max(0, match.start() - 12) : match.start()]
    if before.endswith(("v", "V")) or _VERSION_CONTEXT.search(before):
        return None
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return None
    return match.span(0) if address.is_global else None


def public_ipv6(match: re.Match[str]) -> Span | None:
    try:
        address = ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return None
    return match.span(0) if address.is_global else None


# The log templater replaces digit runs with <*>: such an address still shows its network.
def templated_ipv4(match: re.Match[str]) -> Span | None:
    text = match.group(0)
    if "<*>" not in text or text.count("<*>") == 4:
        return None
    try:
        address = ipaddress.IPv4Address(text.replace("<*>", "1"))
    except ValueError:
        return None
    return match.span(0) if address.is_global else None


def templated_ipv6(match: re.Match[str]) -> Span | None:
    text = match.group(0)
    if "<*>" not in text or text.count(":") < 3:
        return None
    groups = [g for g in text.replace("<*>", "").split(":") if g]
    return match.span(0) if any(len(g) >= 2 for g in groups) else None


_PHONE_CONTEXT = re.compile(
    r"(?i)(?:phone|tel|telephone|mobile|cell|fax|call|sms|whatsapp|msisdn|contact)\b[^\w\n]{0,3}"
    r"(?:number|no\.?|nr\.?|#)?[^\w\n]{0,3}$"
)
_UNIT_AFTER = re.compile(
    r"\s?(?:ms|s|us|µs|ns|sec|secs|seconds|min|%|kb|mb|gb|kib|mib|gib)\b", re.I
)
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}$")


def phone(match: re.Match[str]) -> Span | None:
    """Phone numbers are digits in phone-shaped groups; look-alikes (dates, versions, IPs,
    durations, ids) are refused by shape, and bare digit runs need a word like 'phone'."""
    raw = match.group(0)
    start, end = match.span(0)
    ext = re.search(r"\s*(?:x|ext\.?)\s*\d{1,5}$", raw)
    body = raw[: ext.start()] if ext else raw
    digits = "".join(c for c in body if c.isdigit())
    if not 7 <= len(digits) <= 15:
        return None
    if _DATE_LIKE.search(body):
        return None
    if _UNIT_AFTER.match(match.string, end):
        return None  # "HTTP 200 (165.056 ms)": a status and a duration, not a number to dial
    groups = [g for g in re.split(r"[^\d]+", body) if g]
    # "00" dials out only when followed by grouping; 00998588 alone is a register dump.
    international = body.startswith("+") or (body.startswith("00") and len(groups) > 1)
    if "  " in body:
        return None  # column-aligned numbers (curl progress, tables), not a dialled number
    if not international and " " in body and len(groups[0]) >= 6:
        return None  # "081109 203615 148": date, time and pid in HDFS-style logs
    if "." in body:
        # 10.0.0.12, 1.22.333 and friends: dotted phones use groups of two or more digits.
        if len(groups) == 4 and all(len(g) <= 3 for g in groups):
            return None
        if any(len(g) < 2 for g in groups) or len(groups) < 3:
            return None
    if [len(g) for g in groups] == [3, 2, 4] and "-" in body:
        return None  # SSN-shaped; the SSN rule decides
    if len(groups) == 1 and not international:
        before = match.string[max(0, start - 24) : start]
        if not _PHONE_CONTEXT.search(before) or not 9 <= len(digits) <= 12:
            return None
    if international and len(digits) < 8:
        return None
    return (start, end)


# --- validators that read the rest of a value themselves --------------------------------

_PEM_END = re.compile(r"-----END (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----")
# The body of a block cut short (truncated, or its END line lost): base64, line breaks,
# escaped line breaks in JSON (`\n`), and the `Proc-Type: 4,ENCRYPTED` style headers.
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=\s\\:,-]{0,65536}")
_PEM_MAX = 65536


def pem_private_key(match: re.Match[str]) -> Span | None:
    """From the BEGIN line to its END line, or to the end of the base64 body if none."""
    text, (start, end) = match.string, match.span()
    limit = min(len(text), end + _PEM_MAX)
    closing = _PEM_END.search(text, end, limit)
    if closing is not None:
        return (start, closing.end())
    body = _PEM_BODY.match(text, end, limit)
    return (start, body.end() if body else end)


# After `scheme://`: the URL up to whitespace, a quote or an angle bracket.
_URL_REST = re.compile(r"[^\s\"'<>`]{1,1024}")
# What follows the '@' that ends the userinfo: a host (name, IPv4 or [IPv6]), maybe a port,
# then the end of the authority.
_URL_HOST = re.compile(r"(?:[\w.~%-]{1,253}|\[[0-9A-Fa-f:.]{2,64}\])(?::\d{1,5})?(?=[/?#,;)\]}]|$)")
_PORT_PATH = re.compile(r"\d{1,5}[/?#]")


def url_password(match: re.Match[str]) -> Span | None:
    """The password of `scheme://user:password@host`. A password may hold '/', '@' or ':'
    (`postgres://u:p@ss/w0rd@db:5432/x`): the last '@' followed by a host ends it. With no
    password, a user part that is itself a token (a Sentry DSN key) is the secret."""
    text, at_rest = match.string, match.end()
    rest = _URL_REST.match(text, at_rest)
    if rest is None:
        return None
    chunk = rest.group(0)
    at = chunk.rfind("@")
    for _ in range(8):
        if at <= 0 or _URL_HOST.match(chunk, at + 1):
            break
        at = chunk.rfind("@", 0, at)
    if at <= 0 or not _URL_HOST.match(chunk, at + 1):
        return None
    userinfo = chunk[:at]
    colon = userinfo.find(":")
    if colon < 0:
        if len(userinfo) >= 16 and _looks_random(userinfo) and not _has_any(userinfo, "/?#"):
            return (at_rest, at_rest + at)
        return None
    user, password = userinfo[:colon], userinfo[colon + 1 :]
    if not password or _has_any(user, "/?#"):
        return None
    if _PORT_PATH.match(password):
        return None  # `host:8080/path?to=a@b.example`: a port and a path, not a password
    return (at_rest + colon + 1, at_rest + at)


def _has_any(value: str, chars: str) -> bool:
    return any(c in value for c in chars)


def _quoted_end(text: str, start: int, quote: str, limit: int) -> int:
    """Where a value opened by `quote` at `start` ends: its closing quote, else the end of
    the line, else `limit` characters on."""
    stop = min(len(text), start + limit)
    close = text.find(quote, start, stop)
    newline = text.find("\n", start, stop)
    if close < 0:
        return newline if newline >= 0 else stop
    return newline if 0 <= newline < close else close


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,30}[ \t]{1,4}")
_ONE_TOKEN = re.compile(r"[^\s\"',;<>]{1,4096}")
# Schemes whose credentials are a list of `name=value` parameters, spaces and all.
_PARAM_SCHEMES = frozenset(
    {"digest", "aws4-hmac-sha256", "oauth", "signature", "hoba", "mutual", "vapid", "hmac"}
)


def authorization_header(match: re.Match[str]) -> Span | None:
    """`Authorization: <scheme> <credentials>` for any scheme (Token, Digest, AWS4, ...):
    the credentials go, the scheme word stays. Bearer and Basic have rules of their own."""
    text, start = match.string, match.end()
    quote = match.group("q")
    if quote:
        end = _quoted_end(text, start, quote, 4096)
        scheme = _SCHEME.match(text, start, end)
        cred = scheme.end() if scheme else start
        if cred >= end or text[cred] == "<":
            return None
        return (cred, end)
    scheme = _SCHEME.match(text, start)
    cred = scheme.end() if scheme else start
    if scheme and scheme.group(0).strip().lower() in _PARAM_SCHEMES:
        end = _quoted_end(text, cred, "\n", 4096)
        return (cred, end) if end > cred and text[cred] != "<" else None
    token = _ONE_TOKEN.match(text, cred)
    if token is None:
        return None
    value = token.group(0)
    if len(value) < 8 and not _looks_random(value):
        return None  # "authorization: denied for user" is prose
    return token.span()


# name=value pairs separated by ';': the first name is short, so a run of text that is not
# a cookie is given up on quickly.
_COOKIE_LIST = re.compile(
    r"[^\s;\"'<>,=]{1,256}=[^\s;\"'<>,]{0,4096}(?:;[ \t]{0,8}[^\s;\"'<>,]{1,4096}){0,256}"
)


def cookie_header(match: re.Match[str]) -> Span | None:
    """Every cookie of a `Cookie:` or `Set-Cookie:` header, not only the first."""
    text, start = match.string, match.end()
    quote = match.group("q")
    if quote:
        end = _quoted_end(text, start, quote, 16384)
        return (start, end) if end > start and text[start] != "<" else None
    found = _COOKIE_LIST.match(text, start)
    if found is None:
        return None  # "cookie: expired" is prose; a cookie header is name=value pairs
    return found.span()


_NOT_VALUES = frozenset(
    {"null", "none", "nil", "redacted", "***", "true", "false", "required", "invalid", "", "''"}
)
# An unquoted value: up to whitespace, a quote, a separator, or a '&' that starts the next
# `name=` of a query string.
_KV_VALUE = re.compile(r"(?:[^\s\"',;&<>)}\]]|&(?![A-Za-z_][\w.-]{0,64}=)){1,1024}")


def key_value_secret(match: re.Match[str]) -> Span | None:
    """`password=x`, `"password": "x y z"` and `dbPassword: 'x'` always; `token: x` only
    when x looks like a secret rather than prose (`failed to refresh token: connection
    refused`). The key word must end the key and start it or follow a separator or a
    lower-to-upper case change (`db_password`, `db.password`, `dbPassword`)."""
    text, vstart = match.string, match.end()
    quote = match.group("q")
    if quote:
        vend = _quoted_end(text, vstart, quote, 4096)
        value = text[vstart:vend]
    else:
        found = _KV_VALUE.match(text, vstart)
        if found is None:
            return None
        value = found.group(0)
        vend = found.end()
    if not value or value.startswith("<") or value.lower() in _NOT_VALUES:
        return None
    # A quoted value (`"password": "x"`) is an assignment, not prose.
    if (
        not quote
        and match.group("sep") == ":"
        and not (len(value) >= 6 and (any(c.isdigit() for c in value) or not value.isalpha()))
    ):
        return None
    return (vstart, vend)


def xml_secret(match: re.Match[str]) -> Span | None:
    """`<password>x</password>`: the element text, up to the next tag."""
    text, start = match.string, match.end()
    end = text.find("<", start, start + 4096)
    if end <= start:
        return None
    return (start, end)


def email(match: re.Match[str]) -> Span | None:
    """`git@github.com:org/repo` is an SSH remote, not a person."""
    local = match.group(0).split("@", 1)[0]
    return None if local == "git" else match.span(0)


# Words near a bare 40-character base64 string that make it an AWS secret access key.
_AWS_CONTEXT = ("aws", "akia", "asia", "secret", "amazon", "credential", "access key")


def aws_secret_shaped(match: re.Match[str]) -> Span | None:
    """A bare AWS secret key: 40 base64 characters mixing cases and digits, with a '/' or
    '+' in it or AWS words nearby (a commit sha is 40 lowercase hex, a path has no mix)."""
    v = match.group(0)
    if not (
        any(c.isupper() for c in v)
        and any(c.islower() for c in v)
        and any(c.isdigit() for c in v)
        and not v.startswith("/")
    ):
        return None
    if "/" in v or "+" in v:
        return match.span(0)
    text, (start, end) = match.string, match.span(0)
    around = (text[max(0, start - 96) : start] + " " + text[end : end + 64]).lower()
    return match.span(0) if any(w in around for w in _AWS_CONTEXT) else None


def _is_base64_key(value: str) -> bool:
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


def base64_key(match: re.Match[str]) -> Span | None:
    """An 88-character base64 key ending in '==' (Azure storage and service bus keys)."""
    return match.span(0) if _is_base64_key(match.group(0)) else None


# --- base64 that hides a secret ---------------------------------------------------------

_B64_MIN, _B64_MAX = 12, 1 << 20
_B64_DEPTH = 3  # base64 inside base64 inside base64 is still looked into
# Control characters, and the replacement character: what binary decodes to.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{12,}={0,2}")


def _b64_decode_text(value: str) -> str | None:
    """The text a base64 (standard or URL-safe) segment decodes to, if it is mostly
    printable UTF-8; None for binary, ids and anything that is not base64."""
    core = value.rstrip("=")
    if not (_B64_MIN <= len(core) <= _B64_MAX):
        return None
    if core.lower() == core or core.upper() == core:
        return None  # words, hex ids, pod names, lowercase paths: not worth decoding
    if "-" in core or "_" in core:
        if "+" in core or "/" in core:
            return None
        core = core.replace("-", "+").replace("_", "/")
    if len(core) % 4 == 1:
        core = core[:-1]
    try:
        raw = base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if len(decoded) < 8:
        return None
    unprintable = len(_UNPRINTABLE.findall(decoded))
    return decoded if unprintable <= 0.1 * len(decoded) else None


def _sensitive_inside(text: str, depth: int) -> bool:
    """Whether any default rule finds something in `text` (decoded base64)."""
    lowered = text.lower()
    for rule in _inner_rules():
        if rule.applies(lowered) and rule.find(text):
            return True
    if depth < _B64_DEPTH:
        for seg in _B64_RUN.finditer(text):
            decoded = _b64_decode_text(seg.group(0))
            if decoded is not None and _sensitive_inside(decoded, depth + 1):
                return True
    return False


def base64_payload(match: re.Match[str]) -> Span | None:
    """A base64 segment that decodes to text holding anything another rule would redact
    (`cGFzc3dvcmQ9...` is `password=...`): the whole segment goes."""
    decoded = _b64_decode_text(match.group(0))
    if decoded is None or not _sensitive_inside(decoded, 1):
        return None
    return match.span(0)


@lru_cache(maxsize=1)
def _inner_rules() -> tuple[Rule, ...]:
    return tuple(r for r in _default_rules() if r.name != "base64-payload")


_QUERY_NAMES = frozenset({"code", "session", "sessionid", "auth"})


def query_secret(match: re.Match[str]) -> Span | None:
    """`?sig=`, `&X-Amz-Signature=`, `?key=`, `#access_token=`: the parameter's value.
    Names that are also ordinary words (`code`, `auth`) need a token-like value."""
    value = match.group("value")
    if match.group("name").lower() in _QUERY_NAMES and (len(value) < 8 or not _looks_random(value)):
        return None
    return match.span("value")


# --- the patterns ------------------------------------------------------------------------

_B = r"(?<![A-Za-z0-9_])"  # a left boundary that, unlike \b, also works before '+' or '('
_E = r"(?![A-Za-z0-9_])"

# Key words whose value is a credential: matched at the end of a key (`db_password`,
# `dbPassword`, `x-api-key`), so the key's own prefix needs no pattern of its own.
_SECRET_WORDS = (
    r"password|passwd|passphrase|pwd|secret|client[_-]?secret|api[_-]?key|apikey|app[_-]?key|"
    r"application[_-]?key|subscription[_-]?key|access[_-]?key|secret[_-]?key|"
    r"secret[_-]?access[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|private[_-]?key|"
    r"signing[_-]?key|encryption[_-]?key|master[_-]?key|token|access[_-]?token|"
    r"refresh[_-]?token|auth[_-]?token|id[_-]?token|session[_-]?token|session[_-]?id|"
    r"sessionid|credentials?"
)
# The start of a key word: not inside a word, except at a lower-to-upper case change.
_WORD_START = r"(?:(?<![A-Za-z0-9])|(?-i:(?<=[a-z0-9])(?=[A-Z])))"
_QUERY_WORDS = (
    r"sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential|key|api[_-]?key|apikey|access[_-]?key|access[_-]?token|token|"
    r"id[_-]?token|refresh[_-]?token|auth|auth[_-]?token|client[_-]?secret|password|passwd|"
    r"pwd|secret|code|session|sessionid|jwt|private[_-]?token"
)
_TEMPLATED_PREFIXES = (
    r"sk-|gh[pousr]_|github_pat_|glpat-|xox[abprse]-|AKIA|ASIA|AIza|eyJ|[spr]k_(?:live|test)_|"
    r"whsec_|npm_|hv[sbr]\.|dckr_pat_|pypi-|SG\.|ya29\.|GOCSPX-"
)

_DIGITS = tuple("0123456789")
_AWS_KEY_IDS = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")


def default_rules() -> list[Rule]:
    """The built-in rules, most specific first: earlier rules win overlapping text."""
    return list(_default_rules())


@lru_cache(maxsize=1)
def _default_rules() -> tuple[Rule, ...]:
    """Every built-in rule, in the order they apply.

    Data table: one entry per rule (name, class, pattern and the validator that belongs to
    it), grouped by class; kept in one function so the order in which rules apply, which
    decides overlaps, reads top to bottom (see the module's "Size:" note).
    """
    c = re.compile
    secrets = [
        Rule(
            "pem-private-key",
            "secret",
            c(r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----"),
            pem_private_key,
            ("private key",),
        ),
        Rule(
            "slack-webhook",
            "secret",
            c(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{8,512}"),
            whole(),
            ("hooks.slack.com",),
        ),
        Rule("url-password", "secret", c(r"://"), url_password, ("://",)),
        Rule(
            "jwt",
            "secret",
            # Also a JWT cut short by truncation: base64url JSON ('{"' encodes as eyJ).
            c(r"\beyJ[A-Za-z0-9_-]{10,16384}(?:\.[A-Za-z0-9_-]{0,16384}){0,2}"),
            whole(),
            ("eyj",),
        ),
        Rule(
            "bearer",
            "secret",
            c(r"(?i)\bbearer\s{1,8}([A-Za-z0-9._~+/=-]{8,4096})"),
            whole(1),
            ("bearer",),
        ),
        Rule(
            "basic-auth",
            "secret",
            c(r"(?i)\bbasic\s{1,8}([A-Za-z0-9+/]{6,4096}={0,2})"),
            basic_auth,
            ("basic",),
        ),
        Rule(
            "authorization-header",
            "secret",
            c(
                r"(?i)(?<![A-Za-z0-9_-])(?:proxy-)?authori[sz]ation\\?[\"']?[ \t]{0,8}[:=]"
                r"[ \t]{0,8}(?P<q>\\?[\"']|)"
            ),
            authorization_header,
            ("authori",),
        ),
        Rule(
            "cookie-header",
            "secret",
            c(
                r"(?i)(?<![A-Za-z0-9_-])(?:set-)?cookie2?\\?[\"']?[ \t]{0,8}[:=][ \t]{0,8}"
                r"(?P<q>\\?[\"']|)"
            ),
            cookie_header,
            ("cookie",),
        ),
        Rule(
            "aws-access-key-id",
            "secret",
            c(r"\b(?:" + "|".join(_AWS_KEY_IDS) + r")[A-Z0-9]{16}\b"),
            whole(),
            tuple(k.lower() for k in _AWS_KEY_IDS),
        ),
        Rule(
            "aws-secret-access-key",
            "secret",
            c(
                r"(?i)(?<![a-z0-9])(?:aws[_.-]?)?secret[_.-]?(?:access[_.-]?)?key\\?[\"']?"
                r"[ \t]{0,8}(?:=>|:=|[:=])[ \t]{0,8}\\?[\"']?"
                r"(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
            ),
            whole("value"),
            ("secret",),
        ),
        Rule(
            "aws-secret-shaped",
            "secret",
            c(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
            aws_secret_shaped,
            ("/", "+", *_AWS_CONTEXT),
        ),
        Rule(
            "base64-key",
            "secret",
            c(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"),
            base64_key,
            ("==",),
        ),
    ]
    secrets += [
        Rule(p.name, "secret", c(p.pattern), random_token() if p.check == "random" else whole(),
             p.needs)
        for p in PROVIDERS
    ]  # fmt: skip
    secrets += [
        Rule(
            "templated-token",
            "secret",
            c(
                r"(?<![A-Za-z0-9_])(?:" + _TEMPLATED_PREFIXES + r")[A-Za-z0-9_.-]{0,256}<\*>"
                r"(?:[A-Za-z0-9_.-]|<\*>){0,512}"
            ),
            whole(),
            ("<*>",),
        ),
        Rule(
            "token-word",
            "secret",
            # `Token 9f8e...`, `api key: AbC123...` in prose: a random-looking value right
            # after the word (`token expired` and `token: refused` are left alone).
            c(
                r"(?i)(?<![A-Za-z0-9_-])(?:token|api[ _-]?key)[ \t]{1,4}"
                r"(?P<value>[A-Za-z0-9._~+/=-]{16,4096})"
            ),
            random_token("value"),
            ("token", "key"),
        ),
        Rule(
            "query-secret",
            "secret",
            c(
                r"(?i)[?&;#](?P<name>" + _QUERY_WORDS + r")=(?P<value>[^&#\s\"'<>]{1,4096})"
            ),
            query_secret,
            ("sig", "key", "token", "auth", "secret", "pass", "pwd", "code", "session",
             "jwt", "credential"),
        ),
        Rule(
            "key-value-secret",
            "secret",
            c(
                r"(?i)" + _WORD_START + r"(?:" + _SECRET_WORDS + r")\\?[\"']?"
                r"[ \t]{0,8}(?P<sep>=>|:=|[:=])[ \t]{0,8}(?P<q>\\?[\"']|)"
            ),
            key_value_secret,
            ("pass", "pwd", "secret", "key", "token", "credential", "session"),
        ),
        Rule(
            "xml-secret",
            "secret",
            c(
                r"(?i)<(?:[\w.:-]{0,32}[_.:-])?(?:password|passwd|secret|token|api[_-]?key|"
                r"apikey|private[_-]?key|client[_-]?secret|access[_-]?key|secret[_-]?key|"
                r"credentials?)>"
            ),
            xml_secret,
            ("pass", "secret", "token", "key", "credential"),
        ),
        Rule("base64-payload", "secret", _B64_RUN, base64_payload),
    ]  # fmt: skip
    personal = [
        Rule(
            "email",
            "email",
            c(r"(?<![\w.%+-])[\w.%+-]{1,256}@(?:[\w-]{1,63}\.){1,16}[^\W\d_]{2,63}(?![\w-])"),
            email,
            ("@",),
        ),
        Rule(
            "iban",
            "iban",
            # Only the start is matched; the validator reads the rest (see `iban`).
            c(r"(?i)" + _B + r"[A-Z]{2}\d{2}(?= ?[A-Z0-9])"),
            iban,
            _DIGITS,
        ),
        Rule(
            "card",
            "card",
            c(_B + r"(?<![-+])\d(?:[ -]?\d){11,18}" + _E + r"(?!-\d)"),
            card,
            _DIGITS,
        ),
        Rule(
            "us-ssn",
            "national_id",
            c(
                _B
                + r"(?<!-)(?P<area>\d{3})([- ])(?P<group>\d{2})\2(?P<serial>\d{4})"
                + _E
                + r"(?!-\d)"
            ),
            ssn,
            _DIGITS,
        ),
        Rule(
            "uk-nino",
            "national_id",
            c(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"),
            nino,
            _DIGITS,
        ),
        Rule(
            "ipv4",
            "ip",
            c(
                r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
                r"(?![\w]|\.\d)"
            ),
            public_ipv4,
            (".",),
        ),
        Rule(
            "ipv6",
            "ip",
            c(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])"),
            public_ipv6,
            (":",),
        ),
        Rule(
            "templated-ipv4",
            "ip",
            c(r"(?<![\w.])(?:\d{1,3}|<\*>)(?:\.(?:\d{1,3}|<\*>)){3}(?![\w]|\.\d)"),
            templated_ipv4,
            ("<*>",),
        ),
        Rule(
            "templated-ipv6",
            "ip",
            c(r"(?<![\w:.>])(?:[0-9A-Fa-f]|<\*>|:){6,128}(?![\w:.<])"),
            templated_ipv6,
            ("<*>",),
        ),
        Rule(
            "phone",
            "phone",
            c(
                r"(?<![\w.:/+<(-])(?:\+\(?|\(|\b)\d[\d ().-]{5,22}\d"
                r"(?:\s{0,3}(?:x|ext\.?)\s{0,3}\d{1,5})?(?![\w:/]|\.\w|-\d)"
            ),
            phone,
            _DIGITS,
        ),
    ]
    return tuple(secrets + personal)


# --- keys --------------------------------------------------------------------------------

# Keys whose whole value is a credential, whatever it looks like. Matched on the last
# segment of a dotted name (`http.request.header.authorization`), case-insensitively.
SENSITIVE_KEYS = frozenset(
    {
        "authorization", "proxy-authorization", "cookie", "set-cookie", "password", "passwd",
        "pwd", "secret", "client_secret", "api_key", "apikey", "api-key", "x-api-key",
        "private_key", "privatekey", "session", "sessionid", "session_id", "credentials",
        "credential", "access_key", "secret_key", "aws_secret_access_key", "secretaccesskey",
        "x-auth-token", "x-amz-security-token", "passphrase", "ssn", "pin", "accountkey",
        "sharedaccesskey", "x-goog-api-key", "x-amz-signature",
    }
)  # fmt: skip
_SENSITIVE_SUFFIXES = (
    "token", "_secret", "-secret", "password", "passwd", "_api_key", "-api-key", "apikey",
    "_private_key", "_credentials", "secretaccesskey", "_secret_key", "-secret-key",
)  # fmt: skip
_NOT_SENSITIVE = frozenset({"token_type", "tokens", "max_tokens", "token_count"})

# Keys that name the ids diagnosis joins on. Being under one of them keeps a value only
# when the value also looks like an id (`is_id_shaped`): the key alone exempts nothing.
ID_KEYS = frozenset(
    {
        "trace_id", "traceid", "span_id", "spanid", "parent_id", "parentid", "parent_span_id",
        "parentspanid", "trace.id", "span.id", "request_id", "requestid", "x-request-id",
        "correlation_id", "correlationid", "x-correlation-id", "trace", "span", "parent",
        "logging.googleapis.com/trace", "logging.googleapis.com/spanid", "traceparent",
        "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-amzn-trace-id",
        "uber-trace-id", "x-cloud-trace-context", "uuid", "guid", "id",
    }
)  # fmt: skip


@lru_cache(maxsize=65536)
def is_sensitive_key(key: str) -> bool:
    name = key.strip().lower()
    last = name.rsplit(".", 1)[-1]
    if last in _NOT_SENSITIVE or name in _NOT_SENSITIVE:
        return False
    return name in SENSITIVE_KEYS or last in SENSITIVE_KEYS or last.endswith(_SENSITIVE_SUFFIXES)


@lru_cache(maxsize=65536)
def is_id_key(key: str) -> bool:
    """A key that holds ids: a known name (`trace_id`, `x-request-id`, `traceparent`), or
    one ending in `_id`, `-id`, `.id` or a camel-case `Id`/`ID` (`spanId`, `SpanID`)."""
    name = key.strip()
    low = name.lower()
    if low in ID_KEYS or low.rsplit("/", 1)[-1] in ID_KEYS or low.rsplit(".", 1)[-1] in ID_KEYS:
        return True
    if low.endswith(("_id", "-id", ".id", "_ids", "-ids", ".ids")):
        return True
    return len(name) > 2 and name.endswith(("Id", "ID", "Ids", "IDs")) and name[-3].isalnum()


_HEX = r"[0-9a-fA-F]"
_UUID = _HEX + r"{8}-" + _HEX + r"{4}-" + _HEX + r"{4}-" + _HEX + r"{4}-" + _HEX + r"{12}"
_ID_SHAPE = re.compile(
    r"\{?" + _UUID + r"\}?"  # UUIDs
    r"|" + _HEX + r"{8,64}"  # trace and span ids, commit shas
    r"|-?\d{1,40}"  # decimal ids (Zipkin, RCA datasets, database keys)
    r"|[A-Za-z0-9+/]{11}=?|[A-Za-z0-9+/]{22}(?:==)?"  # base64 of 8 or 16 bytes (OTLP JSON)
    r"|[A-Za-z0-9_-]{11}|[A-Za-z0-9_-]{22}"  # ... and its URL-safe form
    r"|[0-9A-HJKMNP-TV-Z]{26}"  # ULIDs
    r"|00-" + _HEX + r"{32}-" + _HEX + r"{16}-" + _HEX + r"{2}"  # W3C traceparent
    r"|\d-" + _HEX + r"{8}-" + _HEX + r"{24}"  # AWS X-Ray
    r"|" + _HEX + r"{16,32}:" + _HEX + r"{16}:" + _HEX + r"{1,16}:" + _HEX + r"{1,2}"  # Jaeger
    # short prefixed ids: `req-123abc`, `req_01HV...`, `evt:7f3c...`, `req-<uuid>`
    r"|[A-Za-z][A-Za-z0-9]{0,15}[-_:.](?:" + _UUID + r"|[A-Za-z0-9]{3,32})"
)


def is_id_shaped(value: str) -> bool:
    """Whether `value` looks like a trace, span or request id rather than free text."""
    return len(value) <= 80 and _ID_SHAPE.fullmatch(value) is not None
