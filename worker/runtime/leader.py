"""Beat leadership: one PostgreSQL session-level advisory lock, held on a connection of its own.

Any number of ``schedq beat`` processes may run; the one whose session holds the lock leads, the
others poll for it. The lock lives exactly as long as the session: a leader that is SIGKILLed
closes its socket, PostgreSQL ends the session and the next poll of a standby wins. A host that
vanishes without closing its socket is noticed by TCP keepalives (``keepalives_*`` below for
this side, the server's ``tcp_keepalives_*`` for PostgreSQL's side).

The connection is a direct one, never through PgBouncer in transaction mode: a session-level
lock taken through a pooler would stay on a server connection another client gets next.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from typing import Any

import psycopg

log = logging.getLogger("schedq.beat")


def lock_key(namespace: str) -> int:
    """A signed 64-bit advisory-lock key, stable for a deployment (its schedule queue name)."""
    digest = hashlib.blake2b(f"schedq-beat:{namespace}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def libpq_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


class LeaderLock:
    """``holds()`` answers, at each beat tick, whether this process leads right now."""

    def __init__(self, database_url: str, key: int, name: str) -> None:
        self.dsn = libpq_dsn(database_url)
        self.key = key
        self.name = name
        self.conn: psycopg.Connection[Any] | None = None
        self.leading = False

    def holds(self) -> bool:
        try:
            conn = self._connection()
            if self.leading:
                # The lock is the session's: if this round trip works, the session (and the
                # lock) is still ours.
                conn.execute("SELECT 1")
                return True
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            self.leading = bool(row and row[0])
            if self.leading:
                log.warning(
                    "beat %s leads (advisory lock %d)", self.name, self.key,
                    extra={"beat": self.name, "entry": "lead", "at": round(time.time(), 3)},
                )  # fmt: skip
            return self.leading
        except psycopg.Error as exc:
            if self.leading:
                log.warning("beat %s lost its lead (%s)", self.name, type(exc).__name__)
            self.release()
            return False

    def release(self) -> None:
        """Close the session, which frees the lock; a clean shutdown hands over at once."""
        conn, self.conn, self.leading = self.conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self.conn is None or self.conn.closed:
            self.leading = False
            self.conn = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=5,
                application_name="schedq-beat-leader",
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        return self.conn
