"""The receiver's durable queue: SQLite in WAL mode (stdlib sqlite3), so nothing accepted is
lost to a crash, a kill or a restart.

    enqueue ──> ready ──claim──> leased ──ack──> done
                  ^                │ fail (attempts < N): retry_at = now + backoff
                  └────────────────┤
                                   └ fail (attempts = N) or permanent ──> dead (reason)
    a lease that runs out (a crashed or hung worker) makes the item claimable again;
    `replay` puts dead letters back to ready with their attempts reset.

The request handler commits an item (synchronous=FULL: on disk) before it answers 202.
The `delivered` table remembers, per destination and group fingerprint, the last status
posted and a generation number, which the worker uses to de-duplicate and to make an
idempotency key that stays the same when a post is retried.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from incident.errors import UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    body BLOB,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'ready',
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL NOT NULL,
    lease_until REAL,
    reason TEXT,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS items_due ON items (state, retry_at);
CREATE TABLE IF NOT EXISTS delivered (
    destination TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    generation INTEGER NOT NULL,
    posted_at REAL NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (destination, fingerprint)
);
"""
STATES = ("ready", "leased", "done", "dead")
# One write lock per queue file and process: writers in this process wait on it rather than
# in SQLite's busy handler, which polls with sleeps of up to 100 ms.
_WRITE_LOCKS: dict[Path, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    key = path.resolve()
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


@dataclass(frozen=True)
class Item:
    """One accepted payload, as the worker claims it."""

    id: int
    source: str
    body: bytes
    received_at: float
    attempts: int


@dataclass(frozen=True)
class Posted:
    """The last post to one destination for one group."""

    status: str
    generation: int
    posted_at: float
    item_id: int


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt `attempts + 1`: exponential and capped, half of it random
    (jitter) so that many items that failed together do not all come back together."""
    delay = min(cap, base * float(2 ** max(0, attempts - 1)))
    return delay / 2 + random.uniform(0, delay / 2)


class Queue:
    """The queue file; safe to use from several threads (one connection per thread)."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = path
        self._durable = durable
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write = _write_lock(path)
        try:
            self._conn().executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise UsageError(f"{path}: not a usable queue file: {exc}") from exc

    # --- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                # The request side must be on disk before the 202; the worker's own writes
                # may lag a power cut (that only causes a re-delivery).
                conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            except sqlite3.Error as exc:
                raise UsageError(f"{self.path}: cannot open the queue: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        with self._write:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # --- the request side ------------------------------------------------------------------

    def enqueue(self, source: str, body: bytes, received_at: float | None = None) -> int:
        """Store a payload durably; its id once committed."""
        now = received_at if received_at is not None else time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO items (source, body, received_at, retry_at) VALUES (?, ?, ?, ?)",
                (source, body, now, now),
            )
            return int(cur.lastrowid or 0)

    # --- the worker side -------------------------------------------------------------------

    def claim(self, lease_s: float, max_attempts: int) -> Item | None:
        """The next due item, leased for `lease_s` seconds; items whose attempts ran out
        while leased (a worker died on them each time) are dead-lettered on the way."""
        while True:
            now = time.time()
            with self._tx() as db:
                row = db.execute(
                    "SELECT id, source, body, received_at, attempts FROM items "
                    "WHERE (state = 'ready' AND retry_at <= ?) "
                    "OR (state = 'leased' AND lease_until <= ?) ORDER BY retry_at, id LIMIT 1",
                    (now, now),
                ).fetchone()
                if row is None:
                    return None
                item_id, source, body, received_at, attempts = row
                if attempts >= max_attempts:
                    db.execute(
                        "UPDATE items SET state = 'dead', finished_at = ?, "
                        "reason = coalesce(reason, 'its processing never finished') || "
                        "' (gave up after ' || attempts || ' attempts)' WHERE id = ?",
                        (now, item_id),
                    )
                    continue
                db.execute(
                    "UPDATE items SET state = 'leased', lease_until = ?, attempts = attempts + 1 "
                    "WHERE id = ?",
                    (now + lease_s, item_id),
                )
            return Item(item_id, source, bytes(body or b""), received_at, attempts + 1)

    def ack(self, item_id: int) -> None:
        """Done: the body is dropped, the row kept for the counts."""
        with self._tx() as db:
            db.execute(
                "UPDATE items SET state = 'done', body = NULL, finished_at = ?, "
                "lease_until = NULL WHERE id = ?",
                (time.time(), item_id),
            )

    def fail(self, item: Item, reason: str, *, max_attempts: int, base: float, cap: float) -> bool:
        """Schedule a retry with backoff, or dead-letter after `max_attempts`; True if dead."""
        if item.attempts >= max_attempts:
            self.bury(item.id, f"{reason} (gave up after {item.attempts} attempts)")
            return True
        with self._tx() as db:
            db.execute(
                "UPDATE items SET state = 'ready', retry_at = ?, reason = ?, lease_until = NULL "
                "WHERE id = ?",
                (time.time() + backoff(item.attempts, base, cap), reason, item.id),
            )
        return False

    def bury(self, item_id: int, reason: str) -> None:
        """Dead-letter an item with its reason (a permanent failure, or attempts used up)."""
        with self._tx() as db:
            db.execute(
                "UPDATE items SET state = 'dead', reason = ?, finished_at = ?, lease_until = NULL "
                "WHERE id = ?",
                (reason, time.time(), item_id),
            )

    def recover(self) -> int:
        """At start-up, before this process's worker runs: leases left by a previous
        process (killed mid-item) are released at once instead of waiting them out."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE items SET state = 'ready', lease_until = NULL WHERE state = 'leased'"
            )
            return cur.rowcount

    def prune(self, older_than_s: float) -> int:
        """Forget delivered items finished more than `older_than_s` ago (their rows, with no
        body, only fed the counts): a receiver that runs for months keeps a bounded file.
        Dead letters stay until replayed. How many rows went."""
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM items WHERE state = 'done' AND finished_at < ?",
                (time.time() - older_than_s,),
            )
            return cur.rowcount

    def replay(self) -> int:
        """Dead letters back to ready, attempts reset; how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE items SET state = 'ready', attempts = 0, retry_at = ?, finished_at = NULL "
                "WHERE state = 'dead' AND body IS NOT NULL",
                (time.time(),),
            )
            return cur.rowcount

    def next_due(self) -> float | None:
        """When the earliest waiting item is due (a time.time() value), or None."""
        row = (
            self._conn()
            .execute(
                "SELECT min(CASE state WHEN 'ready' THEN retry_at ELSE lease_until END) "
                "FROM items WHERE state IN ('ready', 'leased')"
            )
            .fetchone()
        )
        return float(row[0]) if row and row[0] is not None else None

    def counts(self) -> dict[str, int]:
        """Items per state (every state present, zero when empty)."""
        out = dict.fromkeys(STATES, 0)
        for state, n in self._conn().execute("SELECT state, count(*) FROM items GROUP BY state"):
            out[str(state)] = int(n)
        return out

    def dead_letters(self) -> list[tuple[int, str, str, bytes]]:
        """(id, source, reason, body) of every dead letter, oldest first."""
        rows = self._conn().execute(
            "SELECT id, source, coalesce(reason, ''), body FROM items WHERE state = 'dead' "
            "ORDER BY id"
        )
        return [(int(i), str(s), str(r), bytes(b or b"")) for i, s, r, b in rows]

    # --- de-duplication --------------------------------------------------------------------

    def last_post(self, destination: str, fingerprint: str) -> Posted | None:
        row = (
            self._conn()
            .execute(
                "SELECT status, generation, posted_at, item_id FROM delivered "
                "WHERE destination = ? AND fingerprint = ?",
                (destination, fingerprint),
            )
            .fetchone()
        )
        return Posted(str(row[0]), int(row[1]), float(row[2]), int(row[3])) if row else None

    def record_post(
        self, destination: str, fingerprint: str, status: str, generation: int, item_id: int
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO delivered VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (destination, fingerprint) DO UPDATE SET status = excluded.status, "
                "generation = excluded.generation, posted_at = excluded.posted_at, "
                "item_id = excluded.item_id",
                (destination, fingerprint, status, generation, time.time(), item_id),
            )
