"""The producer's database engine: pooled connections are pinged only after sitting idle.

``shared.db.base.get_engine`` pings every connection it hands out (``pool_pre_ping``): one
extra round trip per unit of work, which for ``Client.submit`` is one of its two database
round trips (the other being the INSERT itself). Connections die while they sit in the pool
(server restart, failover, idle timeouts), so a connection is pinged here when it was idle for
more than ``PING_AFTER_IDLE`` seconds, and a failed ping makes the pool replace it, as
``pool_pre_ping`` would. A connection that breaks while in steady use fails its statement, as
it could after a ping too: the caller gets the error and no job id.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

PING_AFTER_IDLE = 1.0  # seconds

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def producer_engine(url: str) -> Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create(url)
        return engine


def _create(url: str) -> Engine:
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5, "application_name": "schedq"},
    )
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
    return engine


def _after_fork_in_child() -> None:
    # A forked child must not use (or close) its parent's sockets: forget them, open its own.
    global _lock
    _lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
