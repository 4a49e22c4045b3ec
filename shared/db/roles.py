"""The application role: what workers, producers and the gateway may do in the database.

Migrations run as the owner role (``SCHEDQ_DATABASE_URL`` of ``schedq migrate``), which owns
every table, the audit trigger and its function. Everything else connects as the application
role (``SCHEDQ_APP_DB_ROLE``), which :func:`ensure_app_role` creates or re-grants after every
migration. Owning nothing, it cannot drop or disable the audit trigger, replace its function,
alter a table or set ``session_replication_role`` (a superuser parameter); on ``audit_log`` it
may only read and append (audit rows hold no patient data: they name the appointment, whose
reference is encrypted and purged by retention). It may read and write every other table (the
retention purge deletes old rows) but not truncate one or change the schema version.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables the application may only read and append to.
APPEND_ONLY = ("audit_log",)
# Read-only to the application: the schema version belongs to migrations.
READ_ONLY = ("alembic_version",)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def ensure_app_role(owner_url: str, role: str, password: str | None) -> None:
    """Create the role (or reset it) and grant exactly what the application needs.

    ``password`` None: no password (trust or peer authentication); there is no default one.
    Idempotent: run after every migration, so tables added since are granted too.
    """
    if not ROLE_NAME.match(role):
        raise ValueError("the application role name must be a lowercase SQL identifier")
    name = sql.Identifier(role)
    secret = sql.Literal(password) if password else sql.SQL("NULL")
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    )
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn, conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
        conn.execute(sql.SQL("{} {} {} PASSWORD {}").format(verb, name, attributes, secret))
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database[0]), name
            )
        )
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(name))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
        conn.execute(
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}"
            ).format(name)
        )
        conn.execute(
            sql.SQL(
                "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {}"
            ).format(name)
        )
        for table in APPEND_ONLY:
            conn.execute(
                sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), name)
            )
        for table in READ_ONLY:
            conn.execute(
                sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(
                    sql.Identifier(table), name
                )
            )
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name)
        )


def drop_app_role(owner_url: str, role: str) -> None:
    """Remove the role's grants in this database and the role (tests isolate a role per run)."""
    name = sql.Identifier(role)
    with psycopg.connect(_plain(owner_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(name))
            conn.execute(sql.SQL("DROP ROLE {}").format(name))
