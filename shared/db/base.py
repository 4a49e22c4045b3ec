"""Declarative base and engine handling. PostgreSQL is the only dialect schedq speaks."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so migrations and error mapping can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_engines: dict[tuple[int, str], Engine] = {}
_lock = threading.Lock()


# Per process and engine: what the connection budget (worker.runtime.connection_budget) counts.
POOL_SIZE = 5
MAX_OVERFLOW = 5


def get_engine(url: str | None = None) -> Engine:
    """One engine per (process, URL): a forked worker child must not reuse its parent's sockets."""
    if url is None:
        from shared.settings import get_settings

        url = get_settings().database_url
    key = (os.getpid(), url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = create_engine(
                url,
                # Every checkout pings: read paths (CLI, get_job) and the worker see a
                # restarted server as a reconnect, not as an error. The producer's engine
                # pings after idling only (shared.ledger.connection): a submit is one round trip.
                pool_pre_ping=True,
                pool_size=POOL_SIZE,
                max_overflow=MAX_OVERFLOW,
                connect_args={"connect_timeout": 5, "application_name": "schedq"},
            )
            _engines[key] = engine
        return engine


PING_AFTER_IDLE = 1.0  # seconds


def ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it sat idle for over ``PING_AFTER_IDLE``.

    Connections die while they wait in the pool (server restart, failover, idle timeouts);
    ``pool_pre_ping`` catches that with a round trip on *every* checkout. A failed ping makes
    the pool replace the connection, as pre-ping would; a connection that breaks while in
    steady use fails its statement (the caller sees the error once).
    """
    dialect = engine.dialect

    def idle_from_now(_dbapi: Any, record: Any, *_: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping_if_idle(dbapi: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) <= PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi)
        except Exception as exc:
            # The pool discards this connection and checks out another (a new one if needed).
            raise DisconnectionError("stale pooled connection") from exc

    event.listen(engine, "connect", idle_from_now)
    event.listen(engine, "checkin", idle_from_now)
    event.listen(engine, "checkout", ping_if_idle)


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
