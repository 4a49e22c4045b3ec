"""What is wrong with the database itself, as one catalogue error a person can act on.

A command run against a database that is down, missing or not migrated would otherwise end in a
driver traceback naming hosts and SQL. :func:`database_problem` maps those driver errors to
``DATABASE_UNREACHABLE`` / ``DATABASE_MISSING`` / ``DATABASE_NOT_MIGRATED`` /
``DATABASE_LOGIN_REFUSED`` (and input the database refuses to store to its input code);
:func:`schema_problem` tells a starting worker whether the schema is at head;
:func:`create_missing_database` lets ``schedq migrate`` create the database it was pointed at.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, make_url, pool
from sqlalchemy.exc import DBAPIError

from shared.errors import SchedqError, error

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_MISSING = "3D000"  # invalid_catalog_name: the database does not exist
_LOGIN = ("28000", "28P01")  # invalid authorization / password
_NOT_MIGRATED = ("42P01", "42703")  # undefined table / column: schema missing or behind
_NUL = ("22P05", "22021")  # untranslatable character / not in repertoire (\u0000)
_TOO_LONG = "22001"  # string_data_right_truncation


def _driver_error(exc: BaseException) -> psycopg.Error | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.Error):
            return seen
        if isinstance(seen, DBAPIError) and isinstance(seen.orig, psycopg.Error):
            return seen.orig
        seen = seen.__cause__ or seen.__context__
    return None


def database_problem(exc: BaseException) -> SchedqError | None:
    """The catalogue error for a driver error about the database itself; None for others."""
    found = _driver_error(exc)
    if found is None:
        return None
    state = found.sqlstate or ""
    # A failed connection carries no SQLSTATE in every psycopg version: read the server's text.
    text = str(found) if isinstance(found, psycopg.OperationalError) else ""
    if state == _MISSING or ("database" in text and "does not exist" in text):
        return error("DATABASE_MISSING")
    if state in _LOGIN or "authentication failed" in text:
        return error("DATABASE_LOGIN_REFUSED")
    if state in _NOT_MIGRATED:
        return error("DATABASE_NOT_MIGRATED", revision="no schema")
    if state in _NUL:
        return error("PAYLOAD_NUL_CHARACTER", path="a text value")
    if state == _TOO_LONG:
        return error("VALUE_TOO_LONG")
    if isinstance(found, psycopg.OperationalError):
        return error("DATABASE_UNREACHABLE")
    return None


def schema_problem(url: str) -> SchedqError | None:
    """None when the database is reachable and at the newest migration, else what is wrong."""
    from shared.db.migrate import current_revision, head_revision

    try:
        current = current_revision(url)
    except Exception as exc:
        problem = database_problem(exc)
        if problem is None:
            raise
        return problem
    head = head_revision(url)
    if current != head:
        found = f"at {current}, expected {head}" if current else "no schema"
        return error("DATABASE_NOT_MIGRATED", revision=found)
    return None


def create_missing_database(url: str) -> str | None:
    """Create the database ``url`` names when it does not exist; its name if created.

    Connects to the server's ``postgres`` maintenance database with the same credentials
    (CREATE DATABASE cannot run in a transaction, hence autocommit).
    """
    target = make_url(url)
    name = target.database
    if not name:
        return None
    admin = create_engine(
        target.set(database="postgres"),
        poolclass=pool.NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).first()
            if exists:
                return None
            raw: Any = conn.connection.driver_connection
            raw.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return name
    finally:
        admin.dispose()
