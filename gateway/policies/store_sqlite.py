"""EdgeStore on one SQLite file (WAL), shared by every process on the machine."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

from gateway.policies.store import OperationClaim, OperationRecord, WindowCount

_SCHEMA = """
CREATE TABLE IF NOT EXISTS edge_once (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS edge_window (
  key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_operation (
  key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, owner TEXT NOT NULL,
  response BLOB NOT NULL, expires_at REAL NOT NULL
);
"""
_PURGE_EVERY = 500


class SqliteEdgeStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = str(path)
        self._local = threading.local()
        self._writes = 0
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=10, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _transaction(self) -> _Immediate:
        return _Immediate(self._db())

    def claim_once(self, key: str, *, ttl_s: int) -> bool:
        now = time.time()
        db = self._db()
        cur = db.execute(
            "INSERT INTO edge_once (key, expires_at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
            "SET expires_at = excluded.expires_at WHERE edge_once.expires_at <= ?",
            (key, now + ttl_s, now),
        )
        self._maybe_purge(now)
        return cur.rowcount == 1

    def is_claimed(self, key: str) -> bool:
        row = (
            self._db()
            .execute("SELECT 1 FROM edge_once WHERE key = ? AND expires_at > ?", (key, time.time()))
            .fetchone()
        )
        return row is not None

    def claimed(self, prefixes: tuple[str, ...]) -> dict[str, float]:
        """Every unexpired claim whose key starts with one of `prefixes`: key -> when it expires."""
        rows = (
            self._db()
            .execute("SELECT key, expires_at FROM edge_once WHERE expires_at > ?", (time.time(),))
            .fetchall()
        )
        return {key: expires_at for key, expires_at in rows if key.startswith(prefixes)}

    def hit(self, key: str, *, window_s: int) -> WindowCount:
        now = time.time()
        window = int(now // window_s)
        ends = (window + 1) * window_s
        row = (
            self._db()
            .execute(
                "INSERT INTO edge_window (key, count, expires_at) VALUES (?, 1, ?) "
                "ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count",
                (f"{key}:{window}", ends),
            )
            .fetchone()
        )
        self._maybe_purge(now)
        return WindowCount(count=int(row[0]), reset_s=max(1, int(ends - now + 0.999)))

    def begin_operation(
        self, key: str, *, fingerprint: str, lease_s: int
    ) -> tuple[OperationClaim | None, OperationRecord | None]:
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                "SELECT fingerprint, state, response FROM edge_operation WHERE key = ? AND expires_at > ?",
                (key, now),
            ).fetchone()
            if row is not None:
                return None, OperationRecord(fingerprint=row[0], state=row[1], response=bytes(row[2]))
            owner = uuid.uuid4().hex
            db.execute(
                "INSERT OR REPLACE INTO edge_operation (key, fingerprint, state, owner, response, "
                "expires_at) VALUES (?, ?, 'in_flight', ?, x'', ?)",
                (key, fingerprint, owner, now + lease_s),
            )
        return OperationClaim(key=key, owner=owner), None

    def finish_operation(self, claim: OperationClaim, *, response: bytes, ttl_s: int) -> None:
        self._db().execute(
            "UPDATE edge_operation SET state = 'done', response = ?, expires_at = ? "
            "WHERE key = ? AND owner = ?",
            (response, time.time() + ttl_s, claim.key, claim.owner),
        )

    def release_operation(self, claim: OperationClaim) -> None:
        self._db().execute(
            "DELETE FROM edge_operation WHERE key = ? AND owner = ? AND state = 'in_flight'",
            (claim.key, claim.owner),
        )

    def _maybe_purge(self, now: float) -> None:
        self._writes += 1
        if self._writes % _PURGE_EVERY:
            return
        db = self._db()
        for table in ("edge_once", "edge_window", "edge_operation"):
            db.execute(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))  # noqa: S608 - fixed names

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class _Immediate:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one writer at a time across processes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
