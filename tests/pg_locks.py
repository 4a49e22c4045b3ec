"""Concurrency made explicit on real PostgreSQL: hold a lock on a second connection, then wait
until a known number of other sessions are blocked behind it (not a sleep: PostgreSQL itself
says who waits on whom, through ``pg_blocking_pids``)."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.conftest import DB_URL, wait_until


def holder(url: str = DB_URL) -> psycopg.Connection[Any]:
    """A plain connection of its own (not the pool the code under test uses)."""
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))


# Directly or through a queue: the second waiter for a row lock waits on the first waiter
# (which holds the tuple lock), not on the holder itself.
_BLOCKED = """
WITH RECURSIVE waiting(pid) AS (
    SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))
    UNION
    SELECT a.pid FROM pg_stat_activity AS a
      JOIN waiting AS w ON w.pid = ANY(pg_blocking_pids(a.pid))
)
SELECT count(*) FROM waiting
"""


def blocked_behind(conn: psycopg.Connection[Any]) -> int:
    """How many sessions are waiting, directly or in a queue, for a lock ``conn`` holds."""
    # On the holder's own server and database (a fault test may run its own PostgreSQL).
    with psycopg.connect(conn.info.dsn, autocommit=True) as probe:
        row = probe.execute(_BLOCKED, [conn.info.backend_pid]).fetchone()
    assert row is not None
    return int(row[0])


def wait_blocked(conn: psycopg.Connection[Any], count: int, timeout: float = 30.0) -> None:
    """Return once ``count`` sessions wait behind ``conn``; fail if they never do."""
    assert wait_until(lambda: blocked_behind(conn) >= count, timeout=timeout), (
        f"{blocked_behind(conn)} of {count} sessions ever waited behind the held lock"
    )
    assert blocked_behind(conn) == count


def hold_order_keys(conn: psycopg.Connection[Any], keys: list[str], timeout: float = 30.0) -> None:
    """Take, in ``conn``'s open transaction, the advisory lock the executor takes for each
    order key (``shared.ledger.delivery.lock_order_key``): every job of these keys that starts
    from now on waits inside its delivery, status ``running``, until ``conn`` ends its
    transaction. A key a job holds right now is taken once that job has finished."""
    pending = set(keys)
    assert wait_until(lambda: not _try_take(conn, pending), timeout=timeout, interval=0.05), (
        f"{len(pending)} order keys stayed held by jobs"
    )


def _try_take(conn: psycopg.Connection[Any], pending: set[str]) -> set[str]:
    for key in sorted(pending):
        row = conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)
        ).fetchone()
        if row is not None and row[0]:
            pending.discard(key)
    return pending
