"""The CLI's last line of defence: an expected failure is one line (or JSON) and exit 2.

Commands catch the ``SchedqError`` they expect. What escapes them and is still a problem a
person can fix (the database down, missing or not migrated, a bad setting, input the parser
cannot take) is answered here the same way, instead of a traceback naming hosts and SQL.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import psycopg
import typer
from sqlalchemy.exc import DBAPIError

from schedq.cli.output import emit_json, show_error
from shared.db.problems import database_problem
from shared.errors import SchedqError, error
from shared.ledger.input_checks import MAX_DEPTH
from shared.settings import SettingsError


def cli_problem(exc: BaseException) -> SchedqError | None:
    if isinstance(exc, SchedqError):
        return exc
    problem = database_problem(exc)
    if problem is not None:
        return problem
    if isinstance(exc, DBAPIError | psycopg.Error):
        return error("DATABASE_ERROR")
    if isinstance(exc, RecursionError):
        return error("PAYLOAD_TOO_DEEP", limit=MAX_DEPTH)
    return None


def run_cli(app: typer.Typer) -> None:
    as_json = "--json" in sys.argv[1:]
    try:
        app()
    except SettingsError as exc:
        # The line naming the variable is already on stderr; --json gets the same as JSON.
        if as_json:
            line = exc.line.removeprefix("schedq: ")
            emit_json({"error": error("SETTING_INVALID", problem=line).as_dict()})
        raise
    except Exception as exc:
        problem = cli_problem(exc)
        if problem is None:
            raise
        show_error(problem, as_json)
        raise SystemExit(2) from None
