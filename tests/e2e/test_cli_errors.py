"""Every failure a new user meets in the first hour is one line (or JSON), exit 2, no traceback.

The real CLI in a subprocess, against the machine's PostgreSQL: a closed port (database down), a
database that does not exist, an empty one (not migrated); each bad setting; each input that
used to crash the CLI (issues 16 and 13).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from schedq.processes import free_port
from tests.conftest import ADMIN_PG
from tests.doc_examples import example

PLAN = example("set_working_plan", "clierr")
AVAILABILITY = ["availability", "dr-1", "--from", "2026-12-07", "--to", "2026-12-08"]
COMMANDS = {
    "submit": ["submit", "set_working_plan", "-f", "{plan}"],
    "job": ["job", "0b6c1f0e-0000-4000-8000-000000000000"],
    "stats": ["stats"],
    "dlq list": ["dlq", "list"],
    "ics": ["ics", "dr-1"],
    "availability": AVAILABILITY,
    "worker": ["worker", "--pool", "prefork", "--concurrency", "1"],
}


def schedq(args: list[str], env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    plan = tmp / "plan.json"
    plan.write_text(json.dumps(PLAN))
    full = {**os.environ, "SCHEDQ_LOG_FORMAT": "text", **env}
    return subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", *(a.format(plan=plan) for a in args)],
        capture_output=True,
        text=True,
        timeout=90,
        env={k: v for k, v in full.items() if v is not None},
    )


def assert_one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out[-3000:]
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out[-3000:]
    assert done.returncode == code, out[-3000:]
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def urls(database_url: str) -> Iterator[dict[str, str]]:
    """Database URLs: down (closed port), missing, unmigrated (created empty here)."""
    base = make_url(database_url)
    empty = f"{base.database}_empty"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{empty}"')
    yield {
        "DATABASE_UNREACHABLE": base.set(port=free_port()).render_as_string(False),
        "DATABASE_MISSING": base.set(database=f"{base.database}_missing").render_as_string(False),
        "DATABASE_NOT_MIGRATED": base.set(database=empty).render_as_string(False),
    }
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')


WHAT_TO_DO = {
    "DATABASE_UNREACHABLE": ("SCHEDQ_DATABASE_URL",),
    "DATABASE_MISSING": ("SCHEDQ_DATABASE_URL", "schedq migrate"),
    "DATABASE_NOT_MIGRATED": ("schedq migrate",),
}


@pytest.mark.parametrize(
    "problem", ["DATABASE_UNREACHABLE", "DATABASE_MISSING", "DATABASE_NOT_MIGRATED"]
)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_database_problems_are_one_line(
    urls: dict[str, str], problem: str, command: str, tmp_path: Path
) -> None:
    done = schedq(COMMANDS[command], {"SCHEDQ_DATABASE_URL": urls[problem]}, tmp_path)
    # The line says what to do, as the error catalogue words it for this problem.
    line = assert_one_line(done, 2, problem, *WHAT_TO_DO[problem])
    assert "127.0.0.1" not in line and "SELECT" not in line


@pytest.mark.parametrize(
    "problem", ["DATABASE_UNREACHABLE", "DATABASE_MISSING", "DATABASE_NOT_MIGRATED"]
)
def test_database_problems_as_json(urls: dict[str, str], problem: str, tmp_path: Path) -> None:
    done = schedq([*COMMANDS["submit"], "--json"], {"SCHEDQ_DATABASE_URL": urls[problem]}, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == problem


def test_migrate_on_a_closed_port_and_without_creating(
    urls: dict[str, str], tmp_path: Path
) -> None:
    down = {"SCHEDQ_DATABASE_URL": urls["DATABASE_UNREACHABLE"]}
    assert_one_line(schedq(["migrate"], down, tmp_path), 2, "DATABASE_UNREACHABLE")
    missing = {"SCHEDQ_DATABASE_URL": urls["DATABASE_MISSING"]}
    done = schedq(["migrate", "--no-create-database"], missing, tmp_path)
    assert_one_line(done, 2, "DATABASE_MISSING")


def test_migrate_creates_the_missing_database(database_url: str, tmp_path: Path) -> None:
    base = make_url(database_url)
    name = f"{base.database}_created"
    env = {"SCHEDQ_DATABASE_URL": base.set(database=name).render_as_string(False)}
    try:
        done = schedq(["migrate"], env, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"created database {name}" in done.stdout
        assert "database at head" in done.stdout
        # Again: nothing to create, still at head; and a worker check would now pass.
        again = schedq(["migrate"], env, tmp_path)
        assert again.returncode == 0 and "created" not in again.stdout
        assert_one_line(schedq(["stats"], env, tmp_path), 0, "no job finished")
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BAD_SETTINGS = [
    ("SCHEDQ_RETRY_LIMITS", "notjson"),
    ("SCHEDQ_RETRY_LIMITS", "[1]"),
    ("SCHEDQ_RETRY_LIMITS", '{"NOPE": 1}'),
    ("SCHEDQ_MAX_RETRIES", "abc"),
    ("SCHEDQ_DATABASE_URL", "mysql://db/schedq"),
    ("SCHEDQ_LOG_FORMAT", "xml"),
    ("SCHEDQ_CALENDAR_HTTP_TIMEOUT", "abc"),
    ("SCHEDQ_BUSINESS_HOURS_START", "23:00"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
@pytest.mark.parametrize("command", ["stats", "worker"])
def test_each_bad_setting_is_one_line_naming_it(
    database_url: str, variable: str, value: str, command: str, tmp_path: Path
) -> None:
    done = schedq(COMMANDS[command], {variable: value}, tmp_path)
    line = assert_one_line(done, 2, variable)
    assert line.startswith("schedq: invalid setting")


def test_a_bad_setting_with_json_is_json(database_url: str, tmp_path: Path) -> None:
    done = schedq(["stats", "--json"], {"SCHEDQ_MAX_RETRIES": "abc"}, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    err = json.loads(done.stdout)["error"]
    assert err["code"] == "SETTING_INVALID" and "SCHEDQ_MAX_RETRIES" in err["message"]


def test_an_empty_variable_counts_as_unset(database_url: str, tmp_path: Path) -> None:
    done = schedq(["stats", "--json"], {"SCHEDQ_MAX_RETRIES": "", "SCHEDQ_LOG_LEVEL": ""}, tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["window"] == "1h"


def test_an_unknown_variable_warns_with_the_closest_name(database_url: str, tmp_path: Path) -> None:
    done = schedq(["stats"], {"SCHEDQ_MAX_RETIRES": "3"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SCHEDQ_MAX_RETIRES" in done.stderr and "did you mean SCHEDQ_MAX_RETRIES?" in done.stderr


def _deep() -> str:
    return '{"doctor_id": ' + "[" * 5000 + "]" * 5000 + "}"


def _nul_holidays() -> str:
    holidays = example("set_holidays", "clierr")
    holidays["dates"][0]["name"] = "Christmas\x00Eve"
    return json.dumps(holidays)


CRASHING_INPUTS = [
    ("nested 5,000 deep", "set_working_plan", _deep(), [], "PAYLOAD_TOO_DEEP"),
    (
        "integer of 5,000 digits",
        "set_working_plan",
        '{"slot_minutes": ' + "9" * 5000 + "}",
        [],
        "PAYLOAD_UNREADABLE",
    ),
    ("NUL character", "set_holidays", _nul_holidays(), [], "PAYLOAD_NUL_CHARACTER"),
    (
        "idempotency key of 300 characters",
        "set_working_plan",
        json.dumps(PLAN),
        ["--idempotency-key", "k" * 300],
        "IDEMPOTENCY_KEY_TOO_LONG",
    ),
]


@pytest.mark.parametrize(("label", "kind", "text", "extra", "code"), CRASHING_INPUTS)
@pytest.mark.parametrize("as_json", [False, True])
def test_inputs_that_crashed_the_cli(
    database_url: str,
    label: str,
    kind: str,
    text: str,
    extra: list[str],
    code: str,
    as_json: bool,
    tmp_path: Path,
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(text)
    args = ["submit", kind, "-f", str(payload), *extra, *(["--json"] if as_json else [])]
    done = schedq(args, {}, tmp_path)
    if as_json:
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert json.loads(done.stdout)["error"]["code"] == code
    else:
        assert_one_line(done, 2, code)


def test_unknown_kind_lists_the_kinds_and_help_too(database_url: str, tmp_path: Path) -> None:
    line = assert_one_line(
        schedq(["submit", "set_workin_plan", "-f", "{plan}"], {}, tmp_path), 2, "UNKNOWN_JOB_KIND"
    )
    assert "set_working_plan" in line and "book_appointment" in line
    helped = schedq(["submit", "--help"], {}, tmp_path)
    assert "set_working_plan" in helped.stdout and "book_appointment" in helped.stdout


def test_a_bad_window_is_an_error_line_on_stderr(database_url: str, tmp_path: Path) -> None:
    done = schedq(["stats", "--window", "abc"], {}, tmp_path)
    assert done.stdout == ""
    assert_one_line(done, 2, "OPTION_INVALID", "--window")


def test_ics_and_availability_say_doctor_not_found_alike(database_url: str, tmp_path: Path) -> None:
    ics = assert_one_line(schedq(["ics", "dr-nobody"], {}, tmp_path), 2, "DOCTOR_NOT_FOUND")
    args = ["availability", "dr-nobody", *AVAILABILITY[2:]]
    assert assert_one_line(schedq(args, {}, tmp_path), 2) == ics
