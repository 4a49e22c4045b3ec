"""The application role cannot rewrite the audit trail, and can still run every job.

Issue 13 item 5: workers and producers connected as the owner of every table (superuser in
compose), so a compromised worker could DELETE audit rows, disable the append-only trigger or
replace its function, or set ``session_replication_role = replica`` to skip triggers. Now
``schedq migrate`` (as the owner) creates the application role SCHEDQ_APP_DB_ROLE, whose name
is this run's own (tests/conftest.py), and everything else connects as it.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from producers.client import Client
from shared.db.roles import drop_app_role
from shared.patient_data import SEALED
from shared.settings import get_settings
from tests.conftest import wait_until
from tests.domain_support import plan_payload
from tests.workers import WorkerProcess

FORBIDDEN = {
    "delete audit rows": "DELETE FROM audit_log",
    "update audit rows": "UPDATE audit_log SET actor = 'someone else'",
    "truncate the audit log": "TRUNCATE audit_log",
    "disable the audit trigger": "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    "drop the audit trigger": "DROP TRIGGER audit_log_append_only ON audit_log",
    "replace the trigger function": (
        "CREATE OR REPLACE FUNCTION schedq_audit_append_only() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"
    ),
    "skip triggers for the session": "SET session_replication_role = replica",
    "drop the audit table": "DROP TABLE audit_log",
    "create a table": "CREATE TABLE public.mine (x int)",
    "move the schema version": "UPDATE alembic_version SET version_num = '0001'",
    "truncate the ledger": "TRUNCATE jobs CASCADE",
    "grant itself more": "ALTER ROLE CURRENT_USER SUPERUSER",
}


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="module")
def app_url(database_url: str) -> Iterator[str]:
    """`schedq migrate` as the owner creates the role; the role is dropped afterwards."""
    settings = get_settings()
    password = secrets.token_urlsafe(16)
    owner = database_url.split("://", 1)[1].split("@", 1)[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "schedq.cli.main", "migrate"],
            env={**_environ(), "SCHEDQ_APP_DB_PASSWORD": password},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        yield f"postgresql+psycopg://{settings.app_db_role}:{password}@{owner}"
    finally:  # roles are cluster-wide: never leave this run's behind
        drop_app_role(database_url, settings.app_db_role)


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def audit_state(database_url: str) -> tuple[int, str, str]:
    with psycopg.connect(plain(database_url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM audit_log),"
            " (SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'audit_log_append_only'),"
            " (SELECT md5(prosrc) FROM pg_proc WHERE proname = 'schedq_audit_append_only')"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1]), str(row[2])


def test_the_role_is_an_ordinary_login_with_no_special_powers(
    database_url: str, app_url: str
) -> None:
    with psycopg.connect(plain(app_url)) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False, False, False, False)


@pytest.mark.parametrize("attack", sorted(FORBIDDEN))
def test_the_application_role_cannot(database_url: str, app_url: str, attack: str) -> None:
    before = audit_state(database_url)
    with psycopg.connect(plain(app_url)) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(FORBIDDEN[attack])
    assert audit_state(database_url) == before  # nothing changed, trigger still enabled
    assert before[1] == "O"


def test_a_normal_job_flow_runs_as_the_application_role(
    app_url: str, redis_url: str, uid: str, tmp_path: Path
) -> None:
    node = WorkerProcess(tmp_path, "roles", env={"SCHEDQ_DATABASE_URL": app_url})
    try:
        node.wait_ready()
        client = Client(get_settings().model_copy(update={"database_url": app_url}), "roles")
        doctor = f"role-{uid}"
        plan = client.submit("set_working_plan", plan_payload(doctor))
        assert client.wait(plan.id, timeout=60).status == "succeeded", node.log()
        booking = client.submit(
            "book_appointment",
            {
                "doctor_id": doctor,
                "starts_at": "2026-01-05T09:00:00+01:00",
                "ends_at": "2026-01-05T09:15:00+01:00",
                "patient_ref": "p-role",
            },
        )
        booked = client.wait(booking.id, timeout=60)
        assert booked.status == "succeeded" and booked.result is not None, booked.error
        appointment = booked.result["appointment_id"]
        with psycopg.connect(plain(app_url)) as conn:  # stored sealed by the worker
            stored = conn.execute(
                "SELECT patient_ref FROM appointments WHERE id = %s", [appointment]
            ).fetchone()
        assert stored is not None and stored[0].startswith(SEALED)
        cancel = client.submit(
            "cancel_appointment", {"doctor_id": doctor, "appointment_id": appointment}
        )
        assert client.wait(cancel.id, timeout=60).status == "succeeded"
        backwards = {"mon": [{"start": "12:00", "end": "08:00"}]}
        bad = client.submit("set_working_plan", plan_payload(doctor, days=backwards))
        assert client.wait(bad.id, timeout=60).status == "rejected"
        # Operator commands as the role: readiness, the retention purge, re-encryption.
        for command in (["health", "ready", "--no-workers"], ["retention"], ["reencrypt"]):
            done = subprocess.run(
                [sys.executable, "-m", "schedq.cli.main", *command],
                env={**_environ(), "SCHEDQ_DATABASE_URL": app_url},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, (command, done.stdout + done.stderr)
        assert wait_until(lambda: node.proc.poll() is None, timeout=1)
    finally:
        node.stop()
