"""Declarative base and engine handling. PostgreSQL is the only dialect schedq speaks."""

from __future__ import annotations

import os
import threading

from sqlalchemy import Engine, MetaData, create_engine
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
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=5,
                connect_args={"connect_timeout": 5, "application_name": "schedq"},
            )
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
