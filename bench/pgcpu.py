"""CPU used by PostgreSQL backends serving one database (same machine, readable /proc)."""

from __future__ import annotations

import psycopg

from bench.nodes import cpu_seconds
from bench.urls import plain_url


def backends(url: str) -> dict[int, float]:
    """CPU seconds so far of every client backend on ``url``'s database but the asking one."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return {int(pid): cpu_seconds(int(pid)) for (pid,) in rows}


def used_since(url: str, before: dict[int, float]) -> float:
    """CPU the database's backends used since ``before`` (new backends count from zero)."""
    now = backends(url)
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
