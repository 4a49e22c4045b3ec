"""The migrations build exactly the schema the models describe, and downgrade cleanly."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool

from alembic import command
from shared.db.migrate import alembic_config, at_head
from shared.db.models import Base
from tests.conftest import ADMIN_PG, RUN


def test_models_match_the_migrated_schema(database_url: str) -> None:
    assert at_head(database_url)
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    name = f"schedq_migr_{RUN}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        assert not at_head(url)
        command.upgrade(cfg, "head")
        assert at_head(url)
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
