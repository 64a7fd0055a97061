"""The embedded store: chdb (ClickHouse in-process) over a folder on disk, for tests and for
a large export diagnosed without a server. The only module that imports chdb."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from incident.errors import UnreadableInputError, UsageError

INSTALL = "install incident[clickhouse] for ClickHouse and chdb sources"


class ChdbStore:
    """A chdb session on `path`: SQL text in, JSON lines out. One open at a time per process
    (a chdb limit), so callers close it when done."""

    def __init__(self, path: str) -> None:
        try:
            import chdb.session
        except ImportError as exc:
            raise UsageError(f"chdb:{path} needs chdb: {INSTALL}") from exc
        self.name = f"chdb:{path}"
        # chdb raises two classes named ChdbError (the streaming one is another), both
        # RuntimeErrors; only session calls sit inside these handlers.
        self._error: type[Exception] = RuntimeError
        try:
            # chdb ships no type hints: its session is used through the few calls below.
            session_type: Any = chdb.session.Session
            self._session: Any = session_type(path)
        except (RuntimeError, OSError) as exc:
            raise UnreadableInputError(self.name, f"cannot open the store: {exc}") from exc

    def _fail(self, exc: Exception) -> UnreadableInputError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return UnreadableInputError(self.name, f"query failed: {first[:300]}")

    def command(self, sql: str) -> None:
        try:
            self._session.query(sql)
        except self._error as exc:
            raise self._fail(exc) from exc

    def lines(self, sql: str) -> Iterator[bytes]:
        """The result of `sql` in JSONCompactEachRow, in chunks of whole lines."""
        try:
            stream = self._session.send_query(sql, "JSONCompactEachRow")
            tail = b""
            for chunk in stream:
                data = tail + chunk.bytes()
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
            with self._session.send_insert(f"INSERT INTO {table}", "JSONEachRow") as ins:
                ins.append(data)
                ins.finish()
        except self._error as exc:
            raise self._fail(exc) from exc

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ChdbStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
