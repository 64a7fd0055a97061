"""ClickHouse as a trace store: `clickhouse://host:8123/db` (a server, over HTTP) or `chdb:PATH`
(embedded), holding spans in the OpenTelemetry Collector ClickHouse exporter's `otel_traces`
schema. `load_into` writes exports into it; `fetch` brings a time range back as OTLP/JSON
bodies: every trace when the range is small, else only the traces the report shows (failed,
slowest, a seeded sample) and, for a caller that applies it, a `ReportAdjuster` that puts the
statistics computed in the store over every trace into the report (see `clickhouse_scale`
and `clickhouse_report`).

The database libraries are an optional extra, imported only when a store is opened; without
them the user is told to install `incident[clickhouse]` (exit 2).
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

import msgspec

if TYPE_CHECKING:
    from incident.ingest.sources import Blob
    from incident.sources import Fetched, SourceRequest
    from incident.sources.clickhouse_report import Fetch

from incident.errors import EmptyInputError, InputError, UsageError
from incident.model import Bundle, Span
from incident.sources.clickhouse_rows import DDL, SELECT_COLUMNS, SpanReader, jsonl

DEFAULT_DATABASE = "otel"
DEFAULT_TABLE = "otel_traces"
# Rows per INSERT: ClickHouse wants large, rare inserts (thousands of rows at least).
BATCH_ROWS = 50_000
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_decoder = msgspec.json.Decoder()

Progress = Callable[[str, int, int], None]


class Store(Protocol):
    """What the readers and the writer need of a database: SQL in, JSON lines out."""

    name: str

    def command(self, sql: str) -> None: ...

    def lines(self, sql: str) -> Iterator[bytes]: ...

    def insert(self, table: str, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Target:
    """Where the spans live: a chdb folder or a server, a database and a table."""

    url: str
    path: str | None  # chdb
    host: str | None  # server
    port: int
    database: str
    table: str
    secure: bool = False

    @property
    def traces(self) -> str:
        return f"{self.database}.{self.table}"


def parse(url: str) -> Target:
    """`chdb:PATH[?table=T]`, `clickhouse://host[:port][/db][?table=T]` (`clickhouses://` for
    TLS). Raises UsageError for anything else."""
    if url.startswith("chdb:"):
        rest, _, query = url[5:].partition("?")
        if not rest:
            raise UsageError(f"{url}: name the store's folder, e.g. chdb:./traces.chdb")
        return Target(url, rest, None, 0, DEFAULT_DATABASE, _table(url, query))
    parts = urlsplit(url)
    if parts.scheme not in ("clickhouse", "clickhouses") or not parts.hostname:
        raise UsageError(f"{url}: expected clickhouse://HOST[:PORT][/DATABASE] or chdb:PATH")
    if parts.username or parts.password:
        raise UsageError(
            f"{parts.scheme}://{parts.hostname}: credentials do not belong in the URL; "
            "set INCIDENT_CLICKHOUSE_USER and INCIDENT_CLICKHOUSE_PASSWORD"
        )
    secure = parts.scheme == "clickhouses"
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError as exc:
        raise UsageError(f"{url}: the port is not a number") from exc
    db = parts.path.strip("/") or DEFAULT_DATABASE
    if not _IDENT.fullmatch(db):
        raise UsageError(f"{url}: {db!r} is not a database name")
    return Target(url, None, parts.hostname, port, db, _table(url, parts.query), secure)


def _table(url: str, query: str) -> str:
    table = parse_qs(query).get("table", [DEFAULT_TABLE])[-1]
    if not _IDENT.fullmatch(table):
        raise UsageError(f"{url}: {table!r} is not a table name")
    return table


def open_store(target: Target) -> Store:
    """Connect (or open the folder); the library is imported here, not before."""
    if target.path is not None:
        from incident.sources.clickhouse_chdb import ChdbStore

        return ChdbStore(target.path)
    from incident.sources.clickhouse_server import ServerStore

    assert target.host is not None
    return ServerStore(target.url, target.host, target.port, target.database, secure=target.secure)


def open_existing(target: Target) -> Store:
    """Open a store to read: one that holds the traces table, else one clear InputError."""
    what = "a store written by `incident load --into` or the OpenTelemetry exporter"
    if target.path is not None and not os.path.isdir(target.path):
        raise EmptyInputError(target.url, "no such store", what)
    store = open_store(target)
    try:
        sql = (
            "SELECT count() FROM system.tables "
            f"WHERE database = '{target.database}' AND name = '{target.table}'"
        )
        exists = [int(r[0]) for r in rows(store, sql)]
    except InputError:
        store.close()
        raise
    if exists != [1]:
        store.close()
        raise EmptyInputError(target.url, f"no table {target.traces}", what)
    return store


def ensure_schema(store: Store, target: Target) -> None:
    """The exporter's tables (and the trace-id lookup and its view), if they are missing."""
    store.command(f"CREATE DATABASE IF NOT EXISTS {target.database}")
    for ddl in DDL:
        store.command(ddl.format(db=target.database, table=target.table))


def rows(store: Store, sql: str) -> Iterator[list[Any]]:
    """Decoded result rows of `sql`, streamed a chunk at a time."""
    for chunk in store.lines(sql):
        yield from _decoder.decode_lines(chunk)


@dataclass
class Loaded:
    files: int = 0
    spans: int = 0
    skipped_files: int = 0


def load_into(exports: Sequence[str], url: str, *, progress: Progress | None = None) -> Loaded:
    """Write every trace in `exports` (anything `incident` reads) into the store at `url`,
    one file at a time and in batches, so memory stays bounded by the largest file."""
    from incident.ingest import load
    from incident.ingest.sources import expand

    target = parse(url)
    plan: list[tuple[str, bool, list[str]]] = []
    skipped: list[str] = []
    for path in exports:
        is_dir, files = expand(path, skipped)
        plan.append((path, is_dir, files))
    total = sum(len(files) for *_, files in plan)
    done = Loaded()
    store = open_store(target)
    try:
        ensure_schema(store, target)
        for _path, is_dir, files in plan:
            for file in files:
                try:
                    bundle = load([file])
                except InputError:
                    if not is_dir:
                        raise
                    done.skipped_files += 1
                    continue
                resources: dict[int, dict[str, str]] = {}
                spans = bundle.spans
                for lo in range(0, len(spans), BATCH_ROWS):
                    store.insert(target.traces, jsonl(spans[lo : lo + BATCH_ROWS], resources))
                done.files += 1
                done.spans += len(spans)
                del bundle, spans, resources
                if progress is not None:
                    progress(f"loaded {file}", done.files + done.skipped_files, total)
    finally:
        store.close()
    return done


def time_filter(start_ns: int | None, end_ns: int | None) -> str:
    """A WHERE condition on span start times (always true without bounds)."""
    conds = []
    if start_ns is not None:
        conds.append(f"Timestamp >= fromUnixTimestamp64Nano(toInt64({int(start_ns)}))")
    if end_ns is not None:
        conds.append(f"Timestamp < fromUnixTimestamp64Nano(toInt64({int(end_ns)}))")
    return " AND ".join(conds) or "1"


def fetch_traces(store: Store, target: Target, trace_ids_sql: str) -> Bundle:
    """Every span of the traces `trace_ids_sql` (a subquery of TraceIds) selects, as a Bundle
    whose span and trace counts are filled in."""
    from incident.ingest import finish
    from incident.model import InputInfo

    sql = (
        f"SELECT {SELECT_COLUMNS} FROM {target.traces} "
        f"WHERE TraceId IN ({trace_ids_sql}) ORDER BY Timestamp, TraceId, SpanId"
    )
    reader = SpanReader()
    # Hundreds of thousands of new containers: a collector pass per allocation burst would
    # cost more than the decoding itself (the file readers pause it too).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        bundle = Bundle(spans=list(reader.spans(rows(store, sql))))
    finally:
        if was_enabled:
            gc.enable()
    bundle.inputs.append(InputInfo(target.url, "traces", "clickhouse", len(bundle.spans)))
    finish(bundle)
    return bundle


def count_traces(store: Store, target: Target, where: str) -> int:
    for row in rows(store, f"SELECT uniqExact(TraceId) FROM {target.traces} WHERE {where}"):
        return int(row[0])
    return 0


def read_all(url: str, *, start_ns: int | None = None, end_ns: int | None = None) -> Bundle:
    """Every trace with a span in [start_ns, end_ns): right for small stores and ranges."""
    target = parse(url)
    store = open_existing(target)
    try:
        where = time_filter(start_ns, end_ns)
        ids = f"SELECT DISTINCT TraceId FROM {target.traces} WHERE {where}"
        bundle = fetch_traces(store, target, ids)
    finally:
        store.close()
    if not bundle.spans:
        raise EmptyInputError(url, "no spans in the store for this time range")
    return bundle


# Traces in the window up to which every one is fetched whole; past it, a seeded even sample
# of this many (see `clickhouse_scale` for the statistics computed over all of them). The
# environment variable overrides it (tests use a small store).
MAX_WHOLE_TRACES = 20_000
MAX_WHOLE_ENV = "INCIDENT_CLICKHOUSE_MAX_WHOLE_TRACES"
# Traces per OTLP/JSON body handed to the readers.
_TRACES_PER_BLOB = 2_000


def max_whole_traces() -> int:
    """The threshold: MAX_WHOLE_TRACES, or the environment's positive number."""
    raw = os.environ.get(MAX_WHOLE_ENV, "").strip()
    if not raw:
        return MAX_WHOLE_TRACES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{MAX_WHOLE_ENV}={raw!r}: give a positive number of traces")
    return value


def fetch(url: str, request: SourceRequest) -> list[Blob] | Fetched:
    """The registry's entry (`incident.sources.fetch`): the window's traces as OTLP/JSON
    bodies, read by the same reader as an exported file.

    Past `max_whole_traces()` traces: for a caller that applies a `ReportAdjuster`
    (`request.store_stats`), the failed, slowest and sampled traces and the adjuster (see
    `clickhouse_report`); for any other, an even sample whose counts describe the sample.

    A window chosen by default (no --since/--from/--to) that holds nothing is moved to end at
    the store's newest span: a store loaded from an export is read without naming its time.
    """
    from incident.sources.clickhouse_report import StoreAdjuster

    blobs, whole = _read(url, request)
    if whole is None:
        return blobs
    from incident.sources import Fetched

    return Fetched(blobs, StoreAdjuster(whole))


def _read(url: str, request: SourceRequest) -> tuple[list[Blob], Fetch | None]:
    """The traces fetched whole, and what they are of the window when not all of it."""
    from incident import log
    from incident.sources.clickhouse_report import Fetch
    from incident.sources.clickhouse_scale import bounded_ids_sql, sample_ids_sql, window_totals

    target = parse(url)
    request = request.resolved()
    window = request.window
    store = open_existing(target)
    try:
        lo, hi = (window.start_ns, window.end_ns) if window else (None, None)
        where = time_filter(lo, hi)
        found = count_traces(store, target, where)
        if not found and request.note and window is not None:
            newest = newest_ns(store, target)
            if newest is not None:
                lo, hi = newest + 1 - (window.end_ns - window.start_ns), newest + 1
                where = time_filter(lo, hi)
                found = count_traces(store, target, where)
                log.info(
                    "source.window",
                    f"{url}: no spans in the default window; reading "
                    "the same length up to the store's newest span instead",
                )
        if not found:
            raise EmptyInputError(url, "no spans in the store for this time range")
        limit = max_whole_traces()
        whole = None
        if found <= limit:
            ids = f"SELECT DISTINCT TraceId FROM {target.traces} WHERE {where}"
        elif request.store_stats:
            traces, spans, failed = window_totals(store, target, where)
            whole = Fetch(url, lo, hi, traces, spans, failed, 0, limit, request.seed)
            ids = bounded_ids_sql(target, where, limit, request.seed)
        else:
            log.warning(
                "source.sampled",
                f"{url}: {found:,} traces in the window; diagnosing an even sample of "
                f"{limit:,} (seed {request.seed}); its counts describe the sample",
            )
            ids = sample_ids_sql(target, where, limit, request.seed)
        blobs, fetched = _blobs(url, store, target, ids)
    finally:
        store.close()
    if whole is not None:
        whole = replace(whole, fetched=fetched)
        log.info(
            "source.sampled",
            f"{url}: {found:,} traces in the window; fetched {whole.fetched:,} whole (failed, "
            f"slowest, an even sample of {limit:,}, seed {request.seed}); counts and "
            "percentiles come from the store",
        )
    return blobs, whole


def _blobs(url: str, store: Store, target: Target, ids: str) -> tuple[list[Blob], int]:
    """The spans of the traces `ids` selects as OTLP/JSON bodies (a few thousand whole
    traces each) and how many traces. Rows stream in trace by trace (traces in the order of
    their first span, spans in time order: the order a time-sorted read gives), so only one
    body's spans are alive at a time, never all of them as well as their JSON."""
    from incident.ingest.sources import Blob
    from incident.sources.clickhouse_otlp import otlp_json

    sql = (
        f"SELECT {SELECT_COLUMNS} FROM (SELECT *, min(Timestamp) OVER (PARTITION BY TraceId) "
        f"AS _first FROM {target.traces} WHERE TraceId IN ({ids})) "
        "ORDER BY _first, TraceId, Timestamp, SpanId"
    )
    blobs: list[Blob] = []
    part: list[Span] = []
    traces, last = 0, ""
    was_enabled = gc.isenabled()
    gc.disable()  # many new containers, all kept: see fetch_traces
    try:
        for span in SpanReader().spans(rows(store, sql)):
            if span.trace_id != last:
                if traces and traces % _TRACES_PER_BLOB == 0:
                    blobs.append(Blob(f"{url}#{len(blobs) + 1}", otlp_json(part)))
                    part = []
                traces, last = traces + 1, span.trace_id
            part.append(span)
    finally:
        if was_enabled:
            gc.enable()
    if part:
        blobs.append(Blob(f"{url}#{len(blobs) + 1}", otlp_json(part)))
    return blobs, traces


def newest_ns(store: Store, target: Target) -> int | None:
    sql = f"SELECT toUnixTimestamp64Nano(max(Timestamp)), count() FROM {target.traces}"
    for row in rows(store, sql):
        return int(row[0]) if int(row[1]) else None
    return None
