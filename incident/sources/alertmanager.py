"""Prometheus Alertmanager as a source: `alertmanager+http(s)://HOST:9093`.

    GET /api/v2/alerts?active=true&silenced=false&filter=MATCHER...

What fires now (the time window does not apply: Alertmanager keeps no history). --query
gives label matchers, comma-separated (`severity="critical",team="payments"`); --service
adds `service="S"`. The answer is the API v2 alert list, which the alert reader knows; an
empty list reads as "nothing is firing".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from incident import log
from incident.errors import UsageError
from incident.ingest.detect import LOGS
from incident.ingest.sources import Blob
from incident.sources.http import Client, endpoint

if TYPE_CHECKING:
    from incident.sources import SourceRequest

_PATH = "/api/v2/alerts"
# Commas between matchers, not inside their quoted values.
_SPLIT = re.compile(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)")


def matchers(request: SourceRequest) -> list[str]:
    found = [m.strip() for m in _SPLIT.split(request.query or "") if m.strip()]
    if request.service:
        quoted = request.service.replace("\\", "\\\\").replace('"', '\\"')
        found.append(f'service="{quoted}"')
    return found


def fetch(url: str, request: SourceRequest) -> list[Blob]:
    """The alerts Alertmanager holds now (see the module docstring)."""
    ep = endpoint(url, "alertmanager")
    if request.kind == LOGS:
        raise UsageError(f"{ep.shown}: Alertmanager holds alerts; give it as INPUT or --alerts")
    params: list[tuple[str, str]] = [("active", "true"), ("silenced", "false")]
    params.extend(("filter", m) for m in matchers(request))
    with Client(ep, max_bytes=request.max_bytes) as client:
        body = client.get(_PATH, params) or b"[]"
    log.debug("source.read", f"{ep.url(_PATH)}: {len(body):,} bytes of alerts")
    return [Blob(ep.url(_PATH), body)]
