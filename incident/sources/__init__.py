"""Live sources: a URL such as `jaeger+http://host:16686` in place of a file.

Each backend module turns one URL and a `SourceRequest` (time window, service, query, how
many traces) into response bodies wrapped as ingest `Blob`s; the ingest readers then read
them exactly as they read files. Nothing here parses telemetry.

    FETCHERS         scheme family -> the module whose `fetch(url, request)` reads it
    is_url(text)     whether an INPUT string names a live source
    Opener           what `incident.ingest.load` calls for such strings
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import cast

from incident import log
from incident.errors import UsageError
from incident.ingest.sources import Blob
from incident.sources.timerange import Window, last

# One line per backend. The key is the URL scheme up to any "+transport" ("jaeger" for
# jaeger+https://, "chdb" for chdb:PATH); the module is imported only when such a URL is read.
FETCHERS: dict[str, str] = {
    "jaeger": "incident.sources.jaeger",
    "tempo": "incident.sources.tempo",
    "loki": "incident.sources.loki",
    "alertmanager": "incident.sources.alertmanager",
    "clickhouse": "incident.sources.clickhouse",
    "chdb": "incident.sources.clickhouse",
}
# How many traces a trace source fetches whole unless --limit says otherwise.
DEFAULT_LIMIT = 200
# The window read when a URL comes without --since or --from/--to.
DEFAULT_WINDOW_NS = 3600 * 10**9
# The baseline's default: the incident window, one day earlier.
DEFAULT_BASELINE_SHIFT_NS = 24 * 3600 * 10**9
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9.-]*)?:")

Progress = Callable[[str, int, int], None]
Fetcher = Callable[[str, "SourceRequest"], list[Blob]]

__all__ = [
    "DEFAULT_LIMIT",
    "FETCHERS",
    "Opener",
    "SourceRequest",
    "Window",
    "baseline_request",
    "fetch",
    "is_url",
]


@dataclass(frozen=True)
class SourceRequest:
    """What to ask a live source for; the same for every URL of one command line."""

    window: Window | None = None  # None: the last hour, said once on stderr
    service: str | None = None
    query: str | None = None  # TraceQL, LogQL, Alertmanager matchers, Jaeger operation/ids
    limit: int = DEFAULT_LIMIT  # traces fetched whole, sampled when more are found
    kind: str | None = None  # "logs" / "alerts" when given under --logs / --alerts
    max_bytes: int | None = None  # per response body (default: the input size limit)
    seed: int = 0  # the random share of the trace sample
    progress: Progress | None = None
    note: str = ""  # said once on stderr when a URL is first read (how the window was chosen)

    def window_or_default(self) -> Window:
        """The window asked for, or the default one (the last hour)."""
        return self.window or last(DEFAULT_WINDOW_NS)

    def resolved(self) -> SourceRequest:
        """This request with a window (the last hour when none was given)."""
        if self.window is not None:
            return self
        return replace(
            self,
            window=last(DEFAULT_WINDOW_NS),
            note="live sources: no --since or --from/--to given, reading the last hour",
        )


def family(text: str) -> str | None:
    """The registry key of a source URL ("jaeger", "chdb"), or None for anything else."""
    m = _SCHEME.match(text)
    if m is None:
        return None
    name = m.group(1).lower()
    return name if name in FETCHERS else None


def is_url(text: str) -> bool:
    """Whether an INPUT, --logs, --alerts, --traces or --baseline string is a live source."""
    return family(text) is not None


def fetch(url: str, request: SourceRequest) -> list[Blob]:
    """The response bodies of one source URL, ready for `incident.ingest.detect.read_blob`.

    Raises UsageError for a URL that cannot be used (credentials in it, an unknown
    transport) and InputError when the backend is unreachable, refuses, or has nothing.
    """
    name = family(url)
    if name is None:
        raise UsageError(f"{url}: not a live source URL (known: {', '.join(sorted(FETCHERS))})")
    module = importlib.import_module(FETCHERS[name])
    fetcher = cast(Fetcher, module.fetch)
    return fetcher(url, request)


def baseline_request(incident: SourceRequest, window: Window | None) -> SourceRequest:
    """The request for --baseline sources: their own window, or the incident's a day earlier."""
    if window is not None:
        return replace(incident, window=window, note="")
    shifted = incident.window_or_default().shifted(-DEFAULT_BASELINE_SHIFT_NS)
    return replace(
        incident,
        window=shifted,
        note=f"baseline: no --baseline-since or --baseline-from given, reading the incident "
        f"window one day earlier ({shifted.text()})",
    )


class Opener:
    """Reads live source URLs for `incident.ingest.load`; says once how the window was chosen."""

    def __init__(self, request: SourceRequest) -> None:
        self._request = request.resolved()
        self._said = False

    def handles(self, path: str) -> bool:
        return is_url(path)

    def fetch(self, path: str, kind: str | None) -> list[Blob]:
        if not self._said:
            self._said = True
            if self._request.note:
                log.info("source.window", self._request.note)
        return fetch(path, replace(self._request, kind=kind))
