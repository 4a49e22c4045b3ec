"""Alembic environment: the URL comes from schedq settings or the caller's config, not a file."""

from __future__ import annotations

from sqlalchemy import create_engine, pool

from alembic import context
from shared.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    from shared.settings import get_settings

    url = get_settings().database_url


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            # Two processes migrating at once (compose restarts, parallel CI) take turns.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7262531)")
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
