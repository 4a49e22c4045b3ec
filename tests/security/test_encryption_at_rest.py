"""Patient references are sealed wherever they are stored, and keys rotate without downtime.

Issue 13 item 7: a patient reference sat in plaintext in ``appointments.patient_ref``, in the
booking job's payload, in its dead letter and in every audit row about the appointment. Now
the first two hold ``$fernet$<token>`` (shared.patient_data), the dead letter copies the sealed
payload, and audit rows name the appointment without the reference. Every table of the
database is searched for the plaintext, as someone holding a dump would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import psycopg
import pytest

from producers.client import JobRequest
from shared import crypto
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, error
from shared.patient_data import SEALED, unseal
from shared.settings import get_settings
from tests.domain_support import apply, plan_payload, record
from worker.reliability import dead_letters

pytestmark = pytest.mark.usefixtures("redis_url")


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def tables_holding(database_url: str, text: str) -> list[str]:
    """Every table of the schema whose rows, as text, contain ``text`` (a dump's view)."""
    found = []
    with psycopg.connect(plain(database_url)) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        for name in names:
            row = conn.execute(
                f'SELECT count(*) FROM "{name}" t WHERE t::text LIKE %s', [f"%{text}%"]
            ).fetchone()
            if row and row[0]:
                found.append(name)
    return found


def booking(doctor: str, ref: str, hhmm: str = "09:00") -> dict[str, Any]:
    return {
        "doctor_id": doctor,
        "starts_at": f"2026-01-05T{hhmm}:00+01:00",
        "ends_at": f"2026-01-05T{hhmm[:3]}15:00+01:00",
        "patient_ref": ref,
    }


def schedq(*args: str, keys: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if keys is not None:
        env["SCHEDQ_ENCRYPTION_KEYS"] = keys
    return subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_table_holds_a_patient_reference_in_plaintext(database_url: str, uid: str) -> None:
    doctor, ref = f"enc-{uid}", f"patient-{uid}-secret"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    booked = apply("book_appointment", booking(doctor, ref))
    assert booked.status == "succeeded" and booked.result is not None
    appointment = booked.result["appointment_id"]
    cancel = {"doctor_id": doctor, "appointment_id": appointment}
    assert apply("cancel_appointment", cancel).status == "succeeded"
    # A booking job that ends dead: its dead letter copies the payload.
    dead = record([JobRequest("book_appointment", booking(doctor, ref, "10:00"))])[0]
    with UnitOfWork() as uow:
        dead_letters.bury(uow, uuid.UUID(dead.id), error("WORKER_CRASH_LOOP"), get_settings())
        uow.commit()
    assert tables_holding(database_url, ref) == []
    with psycopg.connect(plain(database_url)) as conn:
        stored = conn.execute(
            "SELECT patient_ref FROM appointments WHERE id = %s", [appointment]
        ).fetchone()
        letter = conn.execute(
            "SELECT payload->>'patient_ref' FROM dead_letters WHERE job_id = %s", [dead.id]
        ).fetchone()
    assert stored and stored[0].startswith(SEALED) and unseal(stored[0]) == ref
    assert letter and letter[0].startswith(SEALED) and unseal(letter[0]) == ref
    # The people allowed to see it still do: the ICS feed carries the reference.
    feed = schedq("ics", doctor, "--days-back", "10000")
    assert feed.returncode == 0, feed.stderr
    assert ref in feed.stdout


def test_a_key_rotation_reencrypts_everything_while_old_tokens_stay_readable(
    database_url: str, uid: str
) -> None:
    old = get_settings().encryption_keys[0]
    new = crypto.generate_key()
    doctor, ref = f"rot-{uid}", f"rotating-{uid}"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    booked = apply("book_appointment", booking(doctor, ref))
    assert booked.status == "succeeded" and booked.result is not None
    legacy = f"legacy-{uid}"  # a row written before encryption existed
    with psycopg.connect(plain(database_url)) as conn:
        conn.execute(
            "INSERT INTO appointments (id, doctor_id, starts_at, ends_at, seat, status,"
            " patient_ref) VALUES (%s, %s, '2026-01-06T09:00Z', '2026-01-06T09:15Z', 1,"
            " 'booked', %s)",
            [uuid.uuid4(), doctor, legacy],
        )
    assert tables_holding(database_url, legacy) == ["appointments"]
    both = f"{new},{old}"
    try:
        dry = schedq("reencrypt", "--dry-run", "--json", keys=both)
        assert dry.returncode == 0, dry.stderr
        planned = {p["place"]: p["rewritten"] for p in json.loads(dry.stdout)["places"]}
        assert planned["appointments.patient_ref"] >= 2
        assert tables_holding(database_url, legacy) == ["appointments"]  # dry run: unchanged
        done = schedq("reencrypt", "--json", keys=both)
        assert done.returncode == 0, done.stderr
        assert tables_holding(database_url, legacy) == []
        again = schedq("reencrypt", "--dry-run", "--json", keys=both)
        assert all(p["rewritten"] == 0 for p in json.loads(again.stdout)["places"])
        # Only the new key now: the old one can be dropped, the ICS feed still reads.
        feed = schedq("ics", doctor, "--days-back", "10000", keys=new)
        assert feed.returncode == 0, feed.stderr
        assert ref in feed.stdout and legacy in feed.stdout
        with psycopg.connect(plain(database_url)) as conn:
            token = conn.execute(
                "SELECT patient_ref FROM appointments WHERE patient_ref LIKE '$fernet$%%'"
                " AND doctor_id = %s LIMIT 1",
                [doctor],
            ).fetchone()
        assert token is not None
        with pytest.raises(SchedqError) as info:
            crypto.decrypt(token[0].removeprefix(SEALED), (old,))
        assert info.value.code == "ENCRYPTION_KEY_UNKNOWN"
    finally:  # back under this run's key, for the tests that follow
        assert schedq("reencrypt", keys=f"{old},{new}").returncode == 0


def test_the_migration_strips_references_from_old_audit_rows_and_keeps_the_rest(
    database_url: str, uid: str
) -> None:
    from alembic import command
    from shared.db.migrate import alembic_config
    from tests.conftest import ADMIN_PG

    name = f"schedq_mig_{uid}"
    url = ADMIN_PG.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        command.upgrade(
            alembic_config(url.replace("postgresql://", "postgresql+psycopg://")), "0006"
        )
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO audit_log (actor, entity, entity_id, action, before, after) VALUES"
                " ('w', 'appointment', 'a1', 'cancelled', %s, %s),"
                " ('w', 'doctor', 'd1', 'plan_set', NULL, '{\"slot_minutes\": 15}')",
                [
                    json.dumps({"status": "booked", "patient_ref": f"old-{uid}"}),
                    json.dumps({"status": "cancelled", "patient_ref": f"old-{uid}"}),
                ],
            )
        command.upgrade(
            alembic_config(url.replace("postgresql://", "postgresql+psycopg://")), "head"
        )
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT actor, entity, entity_id, action, before, after FROM audit_log ORDER BY id"
            ).fetchall()
            enabled = conn.execute(
                "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only'"
            ).fetchone()
        assert rows == [
            ("w", "appointment", "a1", "cancelled", {"status": "booked"}, {"status": "cancelled"}),
            ("w", "doctor", "d1", "plan_set", None, {"slot_minutes": 15}),
        ]
        assert enabled == ("O",)
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
