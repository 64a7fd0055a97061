"""A ClickHouse server over HTTP through clickhouse-connect: SQL text in, JSON lines out.
The only module that imports clickhouse_connect. Credentials come from the environment
(INCIDENT_CLICKHOUSE_USER, INCIDENT_CLICKHOUSE_PASSWORD), never from the URL or the
command line."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from incident.errors import UnreadableInputError, UsageError

INSTALL = "install incident[clickhouse] for ClickHouse and chdb sources"


class ServerStore:
    """One HTTP client on `host:port`; `secure` for TLS."""

    def __init__(self, name: str, host: str, port: int, database: str, *, secure: bool) -> None:
        try:
            import clickhouse_connect

            # Its logger repeats every connection failure on stderr; ours says it once.
            logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
            from clickhouse_connect.driver.exceptions import Error
        except ImportError as exc:
            raise UsageError(f"{name} needs clickhouse-connect: {INSTALL}") from exc
        self.name = name
        self._error = Error
        try:
            self._client = clickhouse_connect.get_client(
                host=host,
                port=port,
                username=os.environ.get("INCIDENT_CLICKHOUSE_USER") or "default",
                password=os.environ.get("INCIDENT_CLICKHOUSE_PASSWORD", ""),
                database=database,
                secure=secure,
                # Text results are decoded here; no pandas, numpy or pyarrow needed.
                autogenerate_session_id=False,
            )
        except Error as exc:
            raise self._fail(exc, "cannot connect") from exc

    def _fail(self, exc: Exception, what: str = "query failed") -> UnreadableInputError:
        text = str(exc).strip().splitlines()
        return UnreadableInputError(self.name, f"{what}: {(text[0] if text else '')[:300]}")

    def command(self, sql: str) -> None:
        try:
            self._client.command(sql)
        except self._error as exc:
            raise self._fail(exc) from exc

    def lines(self, sql: str) -> Iterator[bytes]:
        """The result of `sql` in JSONCompactEachRow, in chunks of whole lines."""
        try:
            stream = self._client.raw_stream(sql, fmt="JSONCompactEachRow")
            tail = b""
            for chunk in stream:
                data = tail + bytes(chunk)
                cut = data.rfind(b"\n") + 1
                tail = data[cut:]
                if cut:
                    yield data[:cut]
            if tail.strip():
                yield tail
        except self._error as exc:
            raise self._fail(exc) from exc

    def insert(self, table: str, data: bytes) -> None:
        """Rows in JSONEachRow into `table`."""
        try:
            self._client.raw_insert(table, insert_block=data, fmt="JSONEachRow")
        except self._error as exc:
            raise self._fail(exc) from exc

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
