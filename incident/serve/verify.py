"""Is a webhook really from its sender? Signature and shared-secret checks, per source, over
the raw body, every comparison in constant time (`hmac.compare_digest`).

Schemes, as the vendors document them:
- `grafana`: Grafana's webhook contact point signs the body with HMAC-SHA256 and sends the
  hex digest in `X-Grafana-Alerting-Signature` (the header is configurable). With a
  timestamp header configured, it signs `timestamp + ":" + body` and sends the Unix
  timestamp in that header; stale timestamps are refused (replay).
- `pagerduty`: PagerDuty V3 webhooks send `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`,
  the HMAC-SHA256 of the body under each current secret (several during a rotation); one
  match suffices.
- `hmac-sha256`: the same HMAC, hex, in a configured header (a `sha256=` prefix is allowed).
- `token`: a shared secret sent as a header value, e.g. Alertmanager's `http_config`
  bearer token (`Authorization: Bearer <secret>`) or a custom header Opsgenie's webhook
  integration adds; Opsgenie documents no payload signature of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from incident.serve.config import SourceRule


class VerifyError(Exception):
    """The request is not what its sender would have sent: answered 401, never queued."""


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.strip().encode("utf-8"))


def check(rule: SourceRule | None, headers: Mapping[str, str], body: bytes) -> None:
    """Raise VerifyError unless the request passes the source's check (none: passes)."""
    if rule is None or rule.verify is None:
        return
    header = rule.signature_header
    given = headers.get(header.lower()) or headers.get(header)
    if not given:
        raise VerifyError(f"missing {header} header ({rule.name} requires a signature)")
    if rule.verify == "token":
        token = given.removeprefix("Bearer ").removeprefix("bearer ")
        if not _equal(rule.secret, token):
            raise VerifyError(f"{header} does not carry the shared secret")
        return
    if rule.verify == "pagerduty":
        expected = "v1=" + _hex_hmac(rule.secret, body)
        if not any(_equal(expected, part) for part in given.split(",")):
            raise VerifyError(f"no valid v1 signature in {header}")
        return
    message = body
    if rule.verify == "grafana" and rule.timestamp_header:
        stamp = headers.get(rule.timestamp_header.lower()) or ""
        _fresh(stamp, rule)
        message = stamp.encode("utf-8") + b":" + body
    signature = given.removeprefix("sha256=")
    if not _equal(_hex_hmac(rule.secret, message), signature.lower()):
        raise VerifyError(f"{header} is not the HMAC-SHA256 of the body")


def _fresh(stamp: str, rule: SourceRule) -> None:
    try:
        sent = float(stamp)
    except ValueError as exc:
        raise VerifyError(f"missing or bad {rule.timestamp_header} header") from exc
    if abs(time.time() - sent) > rule.max_skew_s:
        raise VerifyError(f"{rule.timestamp_header} is more than {rule.max_skew_s:.0f}s off")
