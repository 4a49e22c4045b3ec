"""Liveness and readiness checks, each a small function returning a ``Check``.

Readiness of the system: the broker and the database answer, the schema is at the newest
migration, and at least one worker answers a ping. Liveness of one process: the node named by
``--worker`` answers, or an HTTP endpoint answers, or (bare) the broker answers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from kombu import Connection
from sqlalchemy import create_engine, pool, text

from shared.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _guard(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except Exception as exc:  # a failed probe is an answer, not a crash
        from shared.db.problems import database_problem

        known = database_problem(exc)  # down, missing, not migrated: the same words as the CLI
        if known is not None:
            return Check(name, False, f"{known.code}: {known.message}")
        return Check(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def broker(settings: Settings, timeout: float) -> Check:
    def probe() -> str:
        with Connection(settings.broker_url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            channel = conn.default_channel
            if hasattr(channel, "client"):  # Redis: the connection is lazy until a command
                channel.client.ping()
        return "reachable"

    return _guard("broker", probe)


def database(settings: Settings, timeout: float) -> Check:
    def probe() -> str:
        engine = create_engine(
            settings.database_url,
            poolclass=pool.NullPool,
            connect_args={"connect_timeout": max(1, int(timeout))},
        )
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        return "reachable"

    return _guard("database", probe)


def migrations(settings: Settings) -> Check:
    from shared.db.migrate import current_revision, head_revision

    def probe() -> str:
        current, head = (
            current_revision(settings.database_url),
            head_revision(settings.database_url),
        )
        if current != head:
            raise RuntimeError(f"database at {current}, code at {head}: run schedq migrate")
        return f"at head ({head})"

    return _guard("migrations", probe)


def workers(settings: Settings, timeout: float, node: str | None = None) -> Check:
    from shared.ledger.publish import producer_app

    def probe() -> str:
        app = producer_app(settings)
        # limit=1: one answer is enough, so a healthy system answers without waiting out timeout.
        replies = app.control.ping(destination=[node] if node else None, timeout=timeout, limit=1)
        if not replies:
            raise RuntimeError(f"no worker answered{f' as {node}' if node else ''}")
        return f"{len(replies)} answering"

    return _guard("worker" if node else "workers", probe)


def local_worker(settings: Settings, timeout: float, name: str) -> Check:
    """``name@<this host>`` answers or, for a worker started without ``--hostname`` (Celery
    names it ``celery@<host>``), a node on this host consumes the queue ``name``."""
    from shared.ledger.publish import producer_app

    node = local_node(name)
    queue = {"schedule": settings.schedule_queue, "calendar": settings.calendar_queue}.get(
        name, name
    )

    def probe() -> str:
        app = producer_app(settings)
        if app.control.ping(destination=[node], timeout=timeout, limit=1):
            return f"{node} answering"
        if "@" not in name:
            host = socket.gethostname()
            consumers = app.control.inspect(timeout=timeout).active_queues() or {}
            for other, queues in sorted(consumers.items()):
                if other.endswith(f"@{host}") and any(q.get("name") == queue for q in queues):
                    return f"{other} answering (consumes {queue})"
        raise RuntimeError(f"no worker answered as {node} or consumes {queue} on this host")

    return _guard("worker", probe)


def http(url: str, timeout: float) -> Check:
    def probe() -> str:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        return f"HTTP {response.status_code}"

    return _guard("http", probe)


def local_node(name: str) -> str:
    """``schedule`` -> ``schedule@<this host>``: what ``--hostname schedule@%h`` names a node."""
    return name if "@" in name else f"{name}@{socket.gethostname()}"


def ready(settings: Settings, timeout: float, need_workers: bool = True) -> list[Check]:
    checks = [broker(settings, timeout), database(settings, timeout)]
    if checks[-1].ok:
        checks.append(migrations(settings))
    else:
        checks.append(Check("migrations", False, "not checked: the database check failed"))
    if need_workers:
        checks.append(workers(settings, timeout) if checks[0].ok else Check("workers", False))
    return checks


def live(
    settings: Settings, timeout: float, worker: str | None = None, url: str | None = None
) -> list[Check]:
    if worker:
        return [local_worker(settings, timeout, worker)]
    if url:
        return [http(url, timeout)]
    return [broker(settings, timeout)]
