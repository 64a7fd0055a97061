"""The redaction rules: one small record per kind of secret or personal datum, with the
validators (Luhn, mod-97, SSN ranges, public IP) that keep look-alikes out.

A rule finds candidates with a regex and lets a validator accept, narrow or refuse each one,
so every rule has the same shape and users can add their own beside the defaults.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

# A validator gets the regex match and returns the (start, end) to replace, or None to keep.
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
        spans: list[Span] = []
        for match in self.pattern.finditer(text):
            span = self.validate(match)
            # A validator may extend past its match; never hand out overlapping spans.
            if span is not None and span[1] > span[0] and (not spans or span[0] >= spans[-1][1]):
                spans.append(span)
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


def card(match: re.Match[str]) -> Span | None:
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


# --- the patterns ------------------------------------------------------------------------

_B = r"(?<![A-Za-z0-9_])"  # a left boundary that, unlike \b, also works before '+' or '('
_E = r"(?![A-Za-z0-9_])"

_SECRET_WORDS = (
    r"password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|token|access[_-]?token|refresh[_-]?token|auth[_-]?token|"
    r"id[_-]?token|session[_-]?token|session[_-]?id|credentials?|cookie|set-cookie"
)


_NOT_VALUES = frozenset({"null", "none", "redacted", "***", "true", "false", "required", "invalid"})


def key_value_secret(match: re.Match[str]) -> Span | None:
    """`password=x` and `"password": "x"` always; `token: x` only when x looks like a
    secret rather than prose (`failed to refresh token: connection refused`)."""
    value = match.group("value")
    if value.startswith("<") or value.lower() in _NOT_VALUES:
        return None
    # A quoted value (`"password": "x"`) is an assignment, not prose.
    if (
        not match.group("q")
        and match.group("sep").strip() == ":"
        and not (len(value) >= 6 and (any(c.isdigit() for c in value) or not value.isalpha()))
    ):
        return None
    return match.span("value")


def email(match: re.Match[str]) -> Span | None:
    """`git@github.com:org/repo` is an SSH remote, not a person."""
    local = match.group(0).split("@", 1)[0]
    return None if local == "git" else match.span(0)


def aws_secret_shaped(match: re.Match[str]) -> Span | None:
    """A bare AWS secret key: 40 base64 characters mixing cases, digits and a '/' or '+'
    (a commit sha is 40 lowercase hex, a path has no such mix)."""
    v = match.group(0)
    if (
        any(c.isupper() for c in v)
        and any(c.islower() for c in v)
        and any(c.isdigit() for c in v)
        and ("/" in v or "+" in v)
        and not v.startswith("/")
    ):
        return match.span(0)
    return None


_DIGITS = tuple("0123456789")
_NEEDS: dict[str, tuple[str, ...]] = {
    "pem-private-key": ("private key",),
    "slack-webhook": ("hooks.slack.com",),
    "url-password": ("://",),
    "jwt": ("eyj",),
    "bearer": ("bearer",),
    "basic-auth": ("basic",),
    "aws-access-key-id": (
        "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa",
    ),
    "aws-secret-access-key": ("secret",),
    "aws-secret-shaped": ("/", "+"),
    "github-token": ("gh",),
    "github-fine-grained": ("github_pat_",),
    "slack-token": ("xox",),
    "stripe-key": ("_live_", "_test_"),
    "google-api-key": ("aiza",),
    "anthropic-key": ("sk-ant-",),
    "openai-key": ("sk-",),
    "templated-token": ("<*>",),
    "templated-ipv4": ("<*>",),
    "templated-ipv6": ("<*>",),
    "key-value-secret": (
        "pass", "pwd", "secret", "key", "token", "credential", "cookie", "session",
    ),
    "email": ("@",),
    "iban": _DIGITS,
    "card": _DIGITS,
    "us-ssn": _DIGITS,
    "uk-nino": _DIGITS,
    "ipv4": (".",),
    "ipv6": (":",),
    "phone": _DIGITS,
}  # fmt: skip


def default_rules() -> list[Rule]:
    """The built-in rules, most specific first: earlier rules win overlapping text."""
    return [replace(rule, needs=_NEEDS.get(rule.name, ())) for rule in _rules()]


def _rules() -> list[Rule]:
    c = re.compile
    return [
        Rule(
            "pem-private-key",
            "secret",
            c(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"
                r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----|[A-Za-z0-9+/=\s\\n]*)",
                re.S,
            ),
            whole(),
        ),
        Rule(
            "slack-webhook",
            "secret",
            c(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
            whole(),
        ),
        Rule(
            "url-password",
            "secret",
            c(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@<>\"']*:(?P<pw>[^@/\s<>\"']+)@"),
            whole("pw"),
        ),
        Rule(
            "jwt",
            "secret",
            # Also a JWT cut short by truncation: base64url JSON ('{"' encodes as eyJ).
            c(r"\beyJ[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*){0,2}"),
            whole(),
        ),
        Rule("bearer", "secret", c(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{8,})"), whole(1)),
        Rule("basic-auth", "secret", c(r"(?i)\bbasic\s+([A-Za-z0-9+/]{6,}={0,2})"), basic_auth),
        Rule(
            "aws-access-key-id",
            "secret",
            c(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
            whole(),
        ),
        Rule(
            "aws-secret-access-key",
            "secret",
            c(
                r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?"
                r"(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
            ),
            whole("value"),
        ),
        Rule(
            "aws-secret-shaped",
            "secret",
            c(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
            aws_secret_shaped,
        ),
        Rule("github-token", "secret", c(r"\bgh[pousr]_[A-Za-z0-9]{30,255}\b"), whole()),
        Rule("github-fine-grained", "secret", c(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"), whole()),
        Rule("slack-token", "secret", c(r"\bxox[abprse]-[A-Za-z0-9-]{10,}"), whole()),
        Rule(
            "stripe-key",
            "secret",
            c(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}\b"),
            whole(),
        ),
        Rule("google-api-key", "secret", c(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), whole()),
        Rule("anthropic-key", "secret", c(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), whole()),
        Rule(
            "openai-key",
            "secret",
            c(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
            random_token(),
        ),
        Rule(
            "templated-token",
            "secret",
            c(
                r"\b(?:sk-|gh[pousr]_|github_pat_|xox[abprse]-|AKIA|ASIA|AIza|eyJ|[spr]k_(?:live|test)_)"
                r"(?:[A-Za-z0-9_.-]|<\*>)*<\*>(?:[A-Za-z0-9_.-]|<\*>)*"
            ),
            whole(),
        ),
        Rule(
            "key-value-secret",
            "secret",
            c(
                r"(?i)(?<![A-Za-z0-9])[\"']?(?:[a-z0-9]+[_.-])*(?:" + _SECRET_WORDS + r")[\"']?"
                r"(?P<sep>\s*[:=]\s*)(?P<q>[\"']?)(?P<value>(?:[^\s\"',;&<>)}\]]|&(?![A-Za-z_][\w.-]*=))+)"
            ),
            key_value_secret,
        ),
        Rule(
            "email",
            "email",
            c(
                r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
            ),
            email,
        ),
        Rule(
            "iban",
            "iban",
            # Only the start is matched; the validator reads the rest (see `iban`).
            c(r"(?i)" + _B + r"[A-Z]{2}\d{2}(?= ?[A-Z0-9])"),
            iban,
        ),
        Rule("card", "card", c(_B + r"(?<![-+])\d(?:[ -]?\d){11,18}" + _E + r"(?!-\d)"), card),
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
        ),
        Rule(
            "uk-nino",
            "national_id",
            c(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"),
            nino,
        ),
        Rule(
            "ipv4",
            "ip",
            c(
                r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w]|\.\d)"
            ),
            public_ipv4,
        ),
        Rule(
            "ipv6",
            "ip",
            c(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])"),
            public_ipv6,
        ),
        Rule(
            "templated-ipv4",
            "ip",
            c(r"(?<![\w.])(?:\d{1,3}|<\*>)(?:\.(?:\d{1,3}|<\*>)){3}(?![\w]|\.\d)"),
            templated_ipv4,
        ),
        Rule(
            "templated-ipv6",
            "ip",
            c(r"(?<![\w:.>])(?:[0-9A-Fa-f]|<\*>|:){6,}(?![\w:.<])"),
            templated_ipv6,
        ),
        Rule(
            "phone",
            "phone",
            c(
                r"(?<![\w.:/+<(-])(?:\+\(?|\(|\b)\d[\d ().-]{5,22}\d(?:\s*(?:x|ext\.?)\s*\d{1,5})?"
                r"(?![\w:/]|\.\w|-\d)"
            ),
            phone,
        ),
    ]


# Keys whose whole value is a credential, whatever it looks like. Matched on the last
# segment of a dotted name (`http.request.header.authorization`), case-insensitively.
SENSITIVE_KEYS = frozenset(
    {
        "authorization", "proxy-authorization", "cookie", "set-cookie", "password", "passwd",
        "pwd", "secret", "client_secret", "api_key", "apikey", "api-key", "x-api-key",
        "private_key", "privatekey", "session", "sessionid", "session_id", "credentials",
        "credential", "access_key", "secret_key", "aws_secret_access_key", "x-auth-token",
        "x-amz-security-token", "passphrase", "ssn", "pin",
    }
)  # fmt: skip
_SENSITIVE_SUFFIXES = (
    "token", "_secret", "-secret", "password", "passwd", "_api_key", "-api-key", "apikey",
    "_private_key", "_credentials",
)  # fmt: skip
_NOT_SENSITIVE = frozenset({"token_type", "tokens", "max_tokens", "token_count"})

# Keys that carry the ids diagnosis joins on: never rewritten, even if digits look like a card.
ID_KEYS = frozenset(
    {
        "trace_id", "traceid", "span_id", "spanid", "parent_id", "parentid", "parent_span_id",
        "parentspanid", "trace.id", "span.id", "request_id", "requestid", "x-request-id",
        "correlation_id", "trace", "logging.googleapis.com/trace", "logging.googleapis.com/spanid",
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
    return key.strip().lower() in ID_KEYS
