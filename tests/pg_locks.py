"""Concurrency made explicit on real PostgreSQL: hold a lock on a second connection, then wait
until a known number of other sessions are blocked behind it (not a sleep: PostgreSQL itself
says who waits on whom, through ``pg_blocking_pids``)."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.conftest import DB_URL, wait_until


def holder() -> psycopg.Connection[Any]:
    """A plain connection of its own (not the pool the code under test uses)."""
    return psycopg.connect(DB_URL)


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
    with psycopg.connect(DB_URL, autocommit=True) as probe:
        row = probe.execute(_BLOCKED, [conn.info.backend_pid]).fetchone()
    assert row is not None
    return int(row[0])


def wait_blocked(conn: psycopg.Connection[Any], count: int, timeout: float = 30.0) -> None:
    """Return once ``count`` sessions wait behind ``conn``; fail if they never do."""
    assert wait_until(lambda: blocked_behind(conn) >= count, timeout=timeout), (
        f"{blocked_behind(conn)} of {count} sessions ever waited behind the held lock"
    )
    assert blocked_behind(conn) == count
