"""The producer's database connections: psycopg on a SQLAlchemy pool, pinged after idling.

Connections are pinged only after idling (``shared.db.base.ping_after_idle``): a ping on every
checkout would be one of ``Client.submit``'s two round trips. A connection that breaks while in
steady use fails its statement, as it could after a ping too: the caller gets the error and no
job id.

Statements go to psycopg directly (``connection``): for one job, SQLAlchemy's execution layer
(connection wrapper, isolation-level switch, execution context, result) took more CPU than the
INSERT itself. Errors still come out as SQLAlchemy's ``DBAPIError`` subclasses, as from every
other database call in schedq (``worker.pipeline.error_map`` maps them), and a connection that
broke is
discarded. Connections are in autocommit mode: one statement commits itself (durably: it is a
commit like any other); several go in ``conn.transaction()``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError

from shared.db.base import ping_after_idle

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def producer_engine(url: str) -> Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create(url)
        return engine


@contextmanager
def connection(url: str) -> Iterator[psycopg.Connection[Any]]:
    engine = producer_engine(url)
    dialect = engine.dialect
    pooled = engine.raw_connection()  # connection errors are raised as SQLAlchemy's already
    try:
        conn = pooled.driver_connection
        assert isinstance(conn, psycopg.Connection)
        yield conn
    except psycopg.Error as exc:
        broken = dialect.is_disconnect(cast(Any, exc), pooled.dbapi_connection, None)
        if broken:
            pooled.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, psycopg.Error, connection_invalidated=broken, dialect=dialect
        ) from exc
    finally:
        pooled.close()


def _create(url: str) -> Engine:
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5, "application_name": "schedq"},
    )
    ping_after_idle(engine)
    return engine


def _after_fork_in_child() -> None:
    # A forked child must not use (or close) its parent's sockets: forget them, open its own.
    global _lock
    _lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
