"""Redaction: every kind is caught, look-alikes survive, placeholders are consistent and
reversible, and structured walkers judge values by their key (including OTLP/Jaeger)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from realfiles import FIXTURES, REALDATA, real_path

from incident.errors import FormatError
from incident.model import Alert, Bundle, LogRecord, Span, SpanEvent
from incident.redact import Redactor, is_sensitive_key, redact_bundle, redact_file_bytes

CORPUS = Path(__file__).parent / "fixtures" / "redaction"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
SECRETS: dict[str, str] = MANIFEST["secrets"]
KEEP: dict[str, str] = MANIFEST["keep"]
CORPUS_FILES = [
    "otlp_traces.json",
    "jaeger_trace.json",
    "app_logs.jsonl",
    "alertmanager.json",
    "plain.log",
]


def leaked(text: str, window: int = 10) -> list[str]:
    """Names of corpus secrets of which any `window`-character piece appears in `text`:
    catches partial leaks (a key cut short, or half-templated), not only whole values."""
    return [
        name
        for name, value in SECRETS.items()
        if any(
            piece in text and len(set(piece)) > 2
            for piece in (value[i : i + window] for i in range(max(1, len(value) - window + 1)))
        )
    ]


def corpus_lines() -> list[str]:
    """Every corpus value as `key=value` text (the way evidence renders attributes), plus
    the plain-text records: secrets with the context a reader of the telemetry would see."""
    lines: list[str] = []
    for name in CORPUS_FILES:
        text = (CORPUS / name).read_text()
        if name.endswith(".json"):
            lines.extend(_flatten(json.loads(text), ""))
        elif name.endswith(".jsonl"):
            for row in text.splitlines():
                lines.extend(_flatten(json.loads(row), ""))
        else:
            lines.extend(re.split(r"\n(?=\d{4}-)", text))
    return lines


def _flatten(obj: Any, key: str) -> list[str]:
    if isinstance(obj, dict):
        name = obj.get("key")
        if isinstance(name, str) and "value" in obj:
            return _flatten(obj["value"], name)
        if key and set(obj) <= {"stringValue", "intValue", "arrayValue", "values", "boolValue"}:
            return [f for v in obj.values() for f in _flatten(v, key)]
        return [f for k, v in obj.items() for f in _flatten(v, f"{key}.{k}" if key else k)]
    if isinstance(obj, list):
        return [f for v in obj for f in _flatten(v, key)]
    return [f"{key}={obj}"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("key AKIAIOSFODNN7EXAMPLE in use", "secret"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret"),
        ("token ghs_abcdefghijklmnopqrstuvwxyz0123456789", "secret"),
        ("xoxp-1234567890-abcdefghij posted", "secret"),
        ("stripe pk_live_0123456789abcdefABCD", "secret"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "secret"),
        ("mysql://root:toor123@10.0.0.5:3306/app", "secret"),
        ("db_password: S3cure!pass", "secret"),
        ("contact bob.smith@mail.example.org", "email"),
        ("call +1-202-555-0173 now", "phone"),
        ("tel 020 7946 0958", "phone"),
        ("mobile: 07700900123", "phone"),
        ("paid with 6011 1111 1111 1117", "card"),
        ("SSN 219-09-9999 on file", "national_id"),
        ("NINO QQ123456C is not valid but AB123456C is", "national_id"),
        ("iban FR14 2004 1010 0505 0001 3M02 606", "iban"),
        ("span be01cf339af39a24 iban BE68 5390 0754 7034", "iban"),
        ("client 81.2.69.142 connected", "ip"),
    ],
)
def test_each_kind_is_replaced_by_its_placeholder(text: str, kind: str) -> None:
    """A value of each supported kind is replaced by a placeholder naming that kind."""
    r = Redactor()
    out = r.redact_text(text)
    assert f"<{kind}:1>" in out
    assert r.counts.get(kind, 0) >= 1


@pytest.mark.parametrize("value", list(KEEP.values()))
def test_diagnostic_look_alikes_survive(value: str) -> None:
    """Ids, versions, routes, pods, durations, timestamps and internal IPs are kept."""
    text = f"at {value} we saw it"
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "listening on 0.0.0.0:8080 and 192.168.1.20, fe80::1, ::1",
        "took 1532 ms; retry 3 of 5; 1,234,567 rows; status=503",
        "2026-03-14 09:26:53.589 and 12:30:45.123 and epoch 1773480413589",
        "ts 1773480413589000000 span 7532117432012345678",
        "v2.14.0.1 and k8s 1.28.3 and release 4.3.2.1",
        "failed to refresh token: connection refused; basic validation failed",
        "mac 00:1a:2b:3c:4d:5e digest sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c",
        "uuid 12345678-1234-1234-1234-123456789012 remote git@github.com:org/repo.git",
        "documentation range 203.0.113.50 is not an end user",
    ],
)
def test_operational_text_is_not_redacted(text: str) -> None:
    """Look-alikes of phones, cards, IPs and secrets in ordinary operational text survive."""
    assert Redactor().redact_text(text) == text


def test_invalid_checksums_are_kept() -> None:
    """A 16-digit number failing Luhn and an IBAN failing mod-97 are not personal data."""
    r = Redactor()
    text = "order 4111 1111 1111 1112 and GB82WEST12345698765433"
    assert r.redact_text(text) == text


def test_placeholders_are_consistent_and_restorable() -> None:
    """The same value gets the same placeholder everywhere; restore maps it back."""
    r = Redactor()
    a = r.redact_text("from jane@example.com to bob@example.com")
    b = r.redact_text("again JANE@example.com")
    assert a == "from <email:1> to <email:2>"
    assert b == "again <email:1>"
    assert r.restore("ask <email:2> about <email:1> and <email:9>") == (
        "ask bob@example.com about jane@example.com and <email:9>"
    )


def test_counts_are_occurrences_and_each_value_keeps_one_placeholder() -> None:
    """`counts` counts every replacement (memoised repeats too); each distinct value has one
    placeholder."""
    r = Redactor()
    for _ in range(3):
        r.redact_text("mail jane@example.com")
    r.redact_text("mail bob@example.com")
    assert r.counts["email"] == 4
    assert sorted(r.mapping) == ["<email:1>", "<email:2>"]


def test_allow_list_and_extra_patterns() -> None:
    """Allowed values pass through; user patterns get their own kind, narrowed by `value`."""
    r = Redactor(
        extra_patterns={"employee": r"\bEMP-\d{6}\b", "tenant": r"tenant=(?P<value>\w+)"},
        allow=["support@example.com"],
    )
    out = r.redact_text("EMP-123456 on tenant=acme wrote to support@example.com")
    assert out == "<employee:1> on tenant=<tenant:1> wrote to support@example.com"


@pytest.mark.parametrize(
    "key",
    [
        "authorization",
        "Cookie",
        "set-cookie",
        "password",
        "db.passwd",
        "client_secret",
        "refresh_token",
        "csrftoken",
        "api_key",
        "apikey",
        "x-api-key",
        "private_key",
        "session",
        "credentials",
        "http.request.header.authorization",
        "http.request.header.x-api-key",
    ],
)
def test_sensitive_keys(key: str) -> None:
    """Keys that name credentials are recognised, dotted or not, in any case."""
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key", ["http.route", "session.id", "max_tokens", "token_type", "cache_key"]
)
def test_ordinary_keys_are_not_sensitive(key: str) -> None:
    """Keys that merely contain a sensitive word are not treated as credentials."""
    assert not is_sensitive_key(key)


def test_redact_value_by_key_and_by_content() -> None:
    """Sensitive keys lose their whole value (nested too); id keys keep theirs whole."""
    r = Redactor()
    out = r.redact_value(
        {
            "password": "plainword",
            "credentials": {"user": "svc", "pin": 1234},
            "trace_id": "4111111111111111",
            "message": "mail jane@example.com",
            "enabled": True,
        }
    )
    assert out["password"].startswith("<secret:")
    assert all(str(v).startswith("<secret:") for v in out["credentials"].values())
    assert out["trace_id"] == "4111111111111111"
    assert out["message"] == "mail <email:1>"
    assert out["enabled"] is True


def test_otlp_attributes_and_jaeger_tags_are_judged_by_sibling_key() -> None:
    """In `{"key": name, "value": ...}` lists the sibling key decides, for both shapes."""
    r = Redactor()
    otlp = [{"key": "http.request.header.authorization", "value": {"stringValue": "opaque"}}]
    jaeger = [{"key": "password", "type": "string", "value": "opaque"}]
    assert r.redact_value(otlp)[0]["value"]["stringValue"] == "<secret:1>"
    red = r.redact_value(jaeger)[0]
    assert red == {"key": "password", "type": "string", "value": "<secret:1>"}


def test_json_inside_a_string_is_walked_by_key() -> None:
    """A JSON document carried as a string (an SNS Message) has its keys honoured too."""
    r = Redactor()
    message = json.dumps({"AlarmName": "p99", "authorization": "opaque-value", "n": 1})
    out = r.redact_value({"Sns": {"Message": message}})
    inner = json.loads(out["Sns"]["Message"])
    assert inner == {"AlarmName": "p99", "authorization": "<secret:1>", "n": 1}


def _bundle() -> Bundle:
    s = SECRETS
    span = Span(
        trace_id=KEEP["trace_id"],
        span_id=KEEP["span_id"],
        parent_id=None,
        service="checkout",
        name=f"GET /users/{s['email']}",
        status_message=f"refund to {s['iban_plain']} failed",
        attributes={
            "http.request.header.authorization": ["Bearer " + s["bearer"]],
            "client.address": s["ipv4_public"],
            "http.route": KEEP["route"],
        },
        events=(SpanEvent(1, "exception", {"exception.message": f"jwt {s['jwt']}"}),),
        resource={"k8s.pod.name": KEEP["pod"], "deploy.token": s["github_classic"]},
    )
    log = LogRecord(
        time_ns=1,
        level="ERROR",
        message=f"card {s['card_spaced']} phone {s['phone_intl']}",
        fields={"user": {"email": s["email2"], "ssn": s["ssn"]}},
    )
    alert = Alert(
        source="alertmanager",
        status="firing",
        name="HighErrorRate",
        labels={"customer": s["email"], "pod": KEEP["pod"]},
        annotations={"description": f"key {s['aws_key_id']} from {s['ipv4_public']}"},
        generator_url=f"http://prom/graph?token={s['kv_token']}",
    )
    return Bundle(spans=[span], logs=[log], alerts=[alert])


def test_corpus_in_context_leaks_nothing() -> None:
    """Every corpus secret, seen as `key=value` text or in its log line, is redacted."""
    r = Redactor()
    lines = corpus_lines()
    out = "\n".join(r.redact_text(line) for line in lines)
    assert [k for k, v in SECRETS.items() if v in out] == []
    assert all(any(v in line for line in lines) for v in SECRETS.values())


def test_redact_bundle_covers_every_place_and_leaves_input_untouched() -> None:
    """Span names, attributes, events, status, resource, logs and alerts are all redacted
    into a new bundle; the original bundle still holds its values; ids survive."""
    bundle = _bundle()
    before = json.dumps(_plain(bundle), sort_keys=True)
    out = redact_bundle(bundle, Redactor())
    dumped = json.dumps(_plain(out))
    for name, value in SECRETS.items():
        assert value not in dumped, name
    assert json.dumps(_plain(bundle), sort_keys=True) == before
    assert out.spans[0].trace_id == KEEP["trace_id"]
    assert out.spans[0].attributes["http.route"] == KEEP["route"]
    assert out.spans[0].resource["k8s.pod.name"] == KEEP["pod"]
    assert out.alerts[0].labels["pod"] == KEEP["pod"]


def _plain(bundle: Bundle) -> Any:
    import msgspec

    return msgspec.to_builtins(bundle)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_redact_file_leaks_no_corpus_secret_and_keeps_look_alikes(name: str) -> None:
    """Each corpus file comes back with no secret left and every look-alike intact."""
    data = (CORPUS / name).read_bytes()
    out = redact_file_bytes(data, name, Redactor()).decode()
    source = data.decode()
    present = [k for k, v in SECRETS.items() if v in source]
    assert present, "the corpus file should contain secrets"
    assert [k for k in present if SECRETS[k] in out] == []
    assert [k for k, v in KEEP.items() if v in source and v not in out] == []


def test_redact_file_keeps_json_structure_and_key_order() -> None:
    """A JSON document keeps its keys in order and its indentation."""
    data = (CORPUS / "otlp_traces.json").read_bytes()
    out = redact_file_bytes(data, "otlp_traces.json", Redactor())
    before, after = json.loads(data), json.loads(out)
    assert _shape(before) == _shape(after)
    assert out.decode().startswith('{\n  "resourceSpans"')


def _shape(obj: Any) -> Any:
    if isinstance(obj, dict):
        return [(k, _shape(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [_shape(v) for v in obj]
    return type(obj).__name__ if not isinstance(obj, int | float) else "number"


def test_redact_file_jsonl_stays_one_record_per_line() -> None:
    """JSON Lines stay JSON Lines: same number of lines, each a JSON object."""
    data = (CORPUS / "app_logs.jsonl").read_bytes()
    out = redact_file_bytes(data, "app_logs.jsonl", Redactor()).decode()
    lines = out.splitlines()
    assert len(lines) == len(data.decode().splitlines())
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_redact_file_gzip_in_gzip_out() -> None:
    """A gzipped input comes back gzipped, with the same redaction inside."""
    data = (CORPUS / "app_logs.jsonl").read_bytes()
    out = redact_file_bytes(gzip.compress(data), "app_logs.jsonl.gz", Redactor())
    assert out[:2] == b"\x1f\x8b"
    assert gzip.decompress(out) == redact_file_bytes(data, "app_logs.jsonl", Redactor())


def test_protobuf_input_is_refused_with_a_clear_error() -> None:
    """Binary (protobuf) input is not guessed at: a FormatError names the file and the fix."""
    with pytest.raises(FormatError) as info:
        redact_file_bytes(b"\n\x8a\x01\x00\x12\x05hello", "traces.pb", Redactor())
    assert "traces.pb" in str(info.value)
    assert "JSON" in str(info.value)


def test_presidio_recall() -> None:
    """Recall on the presidio synthetic PII corpus stays at the measured level per kind."""
    path = real_path("pii/presidio-research_synth_dataset_v2.json")
    records = json.loads(gzip.decompress(path.read_bytes()))
    wanted = {
        "EMAIL_ADDRESS": 0.99,
        "PHONE_NUMBER": 0.95,
        "CREDIT_CARD": 0.98,
        "IBAN_CODE": 0.99,
        "US_SSN": 0.99,
        "IP_ADDRESS": 0.99,
    }
    found = dict.fromkeys(wanted, 0)
    total = dict.fromkeys(wanted, 0)
    for rec in records:
        out = Redactor().redact_text(rec["full_text"])
        for span in rec["spans"]:
            kind = span["entity_type"]
            if kind in wanted:
                total[kind] += 1
                found[kind] += span["entity_value"] not in out
    for kind, floor in wanted.items():
        assert total[kind] > 0
        assert found[kind] / total[kind] >= floor, (kind, found[kind], total[kind])


def test_ids_from_real_exports_are_not_taken_for_ibans_or_phones() -> None:
    """Seen in real data: a span id passing mod-97, HDFS date/time/pid columns, curl
    progress columns, register dumps and IPs written into host names all survive."""
    text = (
        "span be01cf339af39a24 | 081109 203615 148 INFO dfs.DataNode | "
        "100   109    0     0 | dear 00998588 | for 191-210-223-172.user.example.com.br"
    )
    assert Redactor().redact_text(text) == text


def _json_shape(data: bytes) -> str:
    """'document', 'lines' (every non-blank line a JSON value) or 'text'."""
    try:
        json.loads(data)
    except ValueError:
        pass  # not one document
    else:
        return "document"
    try:
        for line in data.decode().splitlines():
            if line.strip():
                json.loads(line)
    except ValueError:
        return "text"
    return "lines"


@pytest.mark.parametrize(
    "root",
    [FIXTURES, pytest.param(REALDATA, marks=pytest.mark.realdata)],
    ids=["copies", "shared"],
)
def test_real_exports_are_not_over_redacted(root: Path) -> None:
    """On real traces, logs and alerts from public projects the look-alike-prone kinds
    (cards, IBANs, national ids, phones) find nothing but the one real phone number, and
    every file comes back in its own format. The copies here and, where it is beside the
    checkout, the whole shared folder (with files that may not be copied)."""
    counts: dict[str, int] = {}
    for path in sorted(p for d in ("traces", "logs", "alerts") for p in (root / d).rglob("*")):
        if (
            not path.is_file()
            or path.suffix in (".md", ".csv", ".gz")
            or "LICENSE" in path.name
            or "redaction" in path.parts
        ):
            continue
        r = Redactor()
        data = path.read_bytes()
        out = redact_file_bytes(data, path.name, r)
        assert _json_shape(out) == _json_shape(data), path
        for kind, n in r.counts.items():
            counts[kind] = counts.get(kind, 0) + n
    assert counts.get("card", 0) == counts.get("iban", 0) == counts.get("national_id", 0) == 0
    assert counts.get("phone", 0) <= 1


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("anthropic sk-ant-api0<*>-FakeKeyForIncidentTests_0123456789abcdef", "FakeKeyFor"),
        ("client 2a0<*>:<*>:<*>:82a::200e timed out", "82a::200e"),
        ("from 81.2.<*>.<*> again", "81.2."),
        ("for token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ", "eyJhbGci"),
    ],
)
def test_templated_and_truncated_secrets_are_still_caught(text: str, leak: str) -> None:
    """Log templating (digits -> <*>) and truncation must not make a secret unrecognisable."""
    assert leak not in Redactor().redact_text(text)


def test_templated_diagnostics_survive() -> None:
    """Wildcards in ports, times, private addresses and versions are left alone."""
    text = "orders-db:<*> at <*>:<*>:<*> from 10.0.<*>.<*> v<*>.<*>.<*> <*>.<*>.<*>.<*>"
    assert Redactor().redact_text(text) == text


def test_status_code_and_duration_are_not_a_phone_number() -> None:
    """Evidence lines like "HTTP 200 (165.056 ms)" keep their numbers: they are diagnosis."""
    from incident.redact import Redactor

    redactor = Redactor()
    text = "users POST maps.partner.example: HTTP 200 (165.056 ms)"
    assert redactor.redact_text(text) == text
    assert redactor.redact_text("phone: 415-555-0132 ok") == "phone: <phone:1> ok"
