"""Live sources: a URL such as `jaeger+http://host:16686` in place of a file.

Each backend module turns one URL and a `SourceRequest` (time window, service, query, how
many traces) into response bodies wrapped as ingest `Blob`s; the ingest readers then read
them exactly as they read files. Nothing here parses telemetry.

    FETCHERS         scheme family -> the module whose `fetch(url, request)` reads it
    is_url(text)     whether an INPUT string names a live source
    Opener           what `incident.ingest.load` calls for such strings
    ReportAdjuster   what a fetcher may hand back besides its bodies (wrapped in `Fetched`):
                     store-wide numbers that `incident.pipeline.diagnose` applies to the
                     report after the engine ran on the traces fetched whole
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, cast

from incident import log
from incident.errors import UsageError
from incident.ingest.sources import Blob
from incident.sources.timerange import Window, last

if TYPE_CHECKING:
    from incident.report import Report

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
Fetcher = Callable[[str, "SourceRequest"], "list[Blob] | Fetched"]

__all__ = [
    "DEFAULT_LIMIT",
    "FETCHERS",
    "Fetched",
    "Opener",
    "ReportAdjuster",
    "SourceRequest",
    "Window",
    "baseline_request",
    "fetch",
    "fetch_with_adjuster",
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
    # The caller applies a `ReportAdjuster` a source hands back (`incident diagnose` does): a
    # store may then fetch whole only the traces the report shows and count the rest itself.
    store_stats: bool = False
    # The flags that shape this request, when any was given on the command line (a notice
    # says they went unused when every input is a file).
    flags: str = ""

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


class ReportAdjuster(Protocol):
    """Numbers a source computed over everything it holds, put into the report after the
    engine ran on what was fetched whole (`baseline`: the source was read as --baseline)."""

    def __call__(self, report: Report, *, baseline: bool) -> None: ...


@dataclass
class Fetched:
    """What a fetcher may return instead of bare bodies: the bodies and a `ReportAdjuster`."""

    blobs: list[Blob]
    adjust: ReportAdjuster | None = None


def fetch_with_adjuster(url: str, request: SourceRequest) -> Fetched:
    """The response bodies of one source URL, ready for `incident.ingest.detect.read_blob`,
    and the adjuster the source hands back, if any (only when `request.store_stats`).

    Raises UsageError for a URL that cannot be used (credentials in it, an unknown
    transport) and InputError when the backend is unreachable, refuses, or has nothing.
    """
    name = family(url)
    if name is None:
        raise UsageError(f"{url}: not a live source URL (known: {', '.join(sorted(FETCHERS))})")
    module = importlib.import_module(FETCHERS[name])
    fetcher = cast(Fetcher, module.fetch)
    got = fetcher(url, request)
    return got if isinstance(got, Fetched) else Fetched(got)


def fetch(url: str, request: SourceRequest) -> list[Blob]:
    """The response bodies of one source URL (see `fetch_with_adjuster`)."""
    return fetch_with_adjuster(url, replace(request, store_stats=False)).blobs


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
    """Reads live source URLs for `incident.ingest.load`; says once how the window was chosen.

    With `adjusters` (a list the caller applies to its report), sources are told so and the
    adjusters they hand back are appended to it."""

    def __init__(
        self, request: SourceRequest, adjusters: list[ReportAdjuster] | None = None
    ) -> None:
        resolved = request.resolved()
        self._request = replace(resolved, store_stats=adjusters is not None)
        self._adjusters = adjusters
        self._said = False

    def handles(self, path: str) -> bool:
        return is_url(path)

    def fetch(self, path: str, kind: str | None) -> list[Blob]:
        if not self._said:
            self._said = True
            if self._request.note:
                log.info("source.window", self._request.note)
        got = fetch_with_adjuster(path, replace(self._request, kind=kind))
        if got.adjust is not None and self._adjusters is not None:
            self._adjusters.append(got.adjust)
        return got.blobs
