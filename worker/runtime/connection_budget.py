"""Warn at worker start when the deployment could open more connections than PostgreSQL allows.

Each worker process has one SQLAlchemy pool of up to ``POOL_SIZE + MAX_OVERFLOW`` connections
(``shared.db.base``); a prefork node has ``concurrency`` such processes, a threads or solo node
one. ``SCHEDQ_WORKER_NODES`` nodes alike can therefore hold ``nodes x processes x pool``
connections. Past ``max_connections - superuser_reserved_connections`` a burst fails with "too
many clients": the answer is PgBouncer in transaction mode (docs/scaling.md). A warning, not a
refusal: the ceiling is a worst case that steady work rarely reaches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery.signals import worker_init
from sqlalchemy import text

from shared.db.base import MAX_OVERFLOW, POOL_SIZE, get_engine
from shared.settings import Settings, get_settings

log = logging.getLogger("schedq.worker")


@dataclass(frozen=True)
class Budget:
    nodes: int
    processes: int
    per_process: int
    available: int  # max_connections minus the superuser reserve

    @property
    def ceiling(self) -> int:
        return self.nodes * self.processes * self.per_process

    @property
    def exceeded(self) -> bool:
        return self.ceiling > self.available


def processes_per_node(pool: str, concurrency: int) -> int:
    # Threads share their process's pool; prefork children each open their own.
    return concurrency if pool == "prefork" else 1


def measure(settings: Settings, pool: str, concurrency: int) -> Budget:
    engine = get_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
            reserved = int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one())
    finally:
        engine.dispose()  # the worker's main process runs no jobs: keep no connection open
    return Budget(
        settings.worker_nodes,
        processes_per_node(pool, concurrency),
        POOL_SIZE + MAX_OVERFLOW,
        limit - reserved,
    )


def warn_if_exceeded(budget: Budget) -> bool:
    if budget.exceeded:
        log.warning(
            "connection budget: %d node(s) x %d process(es) x %d pooled connections = %d can "
            "exceed the database's %d available connections; put PgBouncer (transaction mode) "
            "in front of PostgreSQL or lower the concurrency (docs/scaling.md)",
            budget.nodes, budget.processes, budget.per_process, budget.ceiling, budget.available,
        )  # fmt: skip
    return budget.exceeded


@worker_init.connect
def _check_budget(sender: Any = None, **_: Any) -> None:
    # Not resolved yet at worker_init: a name ("prefork", "threads", "solo") or a class.
    pool_cls = getattr(sender, "pool_cls", "prefork")
    pool = "prefork" if "prefork" in str(getattr(pool_cls, "__module__", pool_cls)) else "threads"
    concurrency = int(getattr(sender, "concurrency", 1) or 1)
    try:
        warn_if_exceeded(measure(get_settings(), pool, concurrency))
    except Exception as exc:  # a database down at start is reported by the job path, not here
        log.warning("connection budget not checked (%s)", type(exc).__name__)
