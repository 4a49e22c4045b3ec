"""Retention with the clock moved forward: what goes, when, and what never does.

Issue 13 item 6: nothing was ever deleted: payloads (with patient references) of jobs finished
years ago, rejected bookings' references, poison records and dead letters stayed forever. Now
``schedq retention`` (and beat, every SCHEDQ_RETENTION_INTERVAL_SECONDS) applies
SCHEDQ_RETENTION_*_DAYS. The test runs on a database of its own (the purge is global) and moves
the clock with ``--as-of``, which passes ``now`` into the service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from producers.client import JobRequest
from shared.db.migrate import upgrade_to_head
from shared.ledger.submit import ledger_row
from shared.patient_data import REDACTED
from shared.settings import get_settings
from tests.conftest import ADMIN_PG
from tests.domain_support import plan_payload

T0 = datetime.now(UTC).replace(microsecond=0)
BOOKING = {
    "doctor_id": "ret-doc",
    "starts_at": "2026-01-05T09:00:00+01:00",
    "ends_at": "2026-01-05T09:15:00+01:00",
    "patient_ref": "p-retained",
}


@pytest.fixture(scope="module")
def private_db(database_url: str) -> Iterator[str]:
    name = f"{database_url.rsplit('/', 1)[1]}_ret"
    url = ADMIN_PG.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade_to_head(url.replace("postgresql://", "postgresql+psycopg://", 1))
        yield url
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_job(
    conn: psycopg.Connection[Any], kind: str, payload: dict[str, Any], status: str
) -> str:
    row = ledger_row(get_settings(), "tests", JobRequest(kind, payload))
    finished = None if status == "queued" else T0
    conn.execute(
        "INSERT INTO jobs (id, kind, queue, order_key, payload, payload_hash, correlation_id,"
        " submitter, status, created_at, finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s)",
        [
            row["id"], row["kind"], row["queue"], row["order_key"], Jsonb(row["payload"]),
            row["payload_hash"], row["correlation_id"], row["submitter"], status, T0, finished,
        ],
    )  # fmt: skip
    return str(row["id"])


@pytest.fixture(scope="module")
def seeded(private_db: str) -> dict[str, str]:
    with psycopg.connect(private_db) as conn:
        plan = plan_payload("ret-doc")
        ids = {
            "rejected_booking": insert_job(conn, "book_appointment", BOOKING, "rejected"),
            "succeeded_plan": insert_job(conn, "set_working_plan", plan, "succeeded"),
            "queued_booking": insert_job(conn, "book_appointment", BOOKING, "queued"),
            "dead_booking": insert_job(conn, "book_appointment", BOOKING, "dead"),
        }
        conn.execute(
            "INSERT INTO dead_letters (job_id, kind, queue, payload, error, error_code, attempts,"
            " history, first_failure_at, last_failure_at, created_at)"
            " SELECT id, kind, queue, payload, '{}', 'WORKER_CRASH_LOOP', 3, '[]', %s, %s, %s"
            " FROM jobs WHERE id = %s",
            [T0, T0, T0, ids["dead_booking"]],
        )
        conn.execute(
            "INSERT INTO poison_messages (at, code, size, body_sha256, detail)"
            " VALUES (%s, 'MALFORMED_MESSAGE', 3, repeat('0', 64), 'not JSON')",
            [T0],
        )
        conn.execute(
            "INSERT INTO audit_log (at, actor, entity, entity_id, action, after)"
            " VALUES (%s, 'tests', 'appointment', %s, 'booked', '{\"status\": \"booked\"}')",
            [T0, str(uuid.uuid4())],
        )
    return ids


def retention(db: str, days: int, *flags: str) -> dict[str, Any]:
    when = (T0 + timedelta(days=days, seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    env = {**os.environ, "SCHEDQ_DATABASE_URL": db}
    done = subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", "retention", "--as-of", when, "--json", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    counts: dict[str, Any] = json.loads(done.stdout)
    counts.pop("dry_run")
    return counts


def snapshot(db: str) -> dict[str, Any]:
    with psycopg.connect(db) as conn:
        jobs = dict(conn.execute("SELECT id::text, payload FROM jobs").fetchall())
        audit = conn.execute("SELECT at, actor, entity, entity_id, action, after FROM audit_log")
        return {
            "jobs": jobs,
            "dead_letters": conn.execute("SELECT count(*) FROM dead_letters").fetchone(),
            "poison": conn.execute("SELECT count(*) FROM poison_messages").fetchone(),
            "audit": audit.fetchall(),
        }


ZERO = {"rejected_patient_refs": 0, "job_payloads": 0, "poison_messages": 0, "dead_letters": 0}


def test_retention_as_the_clock_moves_forward(private_db: str, seeded: dict[str, str]) -> None:
    start = snapshot(private_db)
    assert retention(private_db, 1, "--dry-run") == ZERO
    assert retention(private_db, 1) == ZERO
    # Day 8: the rejected booking's patient reference is past its 7 days. A dry run changes
    # nothing and counts exactly what the real run then changes.
    assert retention(private_db, 8, "--dry-run") == {**ZERO, "rejected_patient_refs": 1}
    assert snapshot(private_db) == start
    assert retention(private_db, 8) == {**ZERO, "rejected_patient_refs": 1}
    jobs = snapshot(private_db)["jobs"]
    assert jobs[seeded["rejected_booking"]]["patient_ref"] == REDACTED
    assert jobs[seeded["rejected_booking"]]["doctor_id"] == "ret-doc"  # the rest stays, for now
    assert jobs[seeded["dead_booking"]]["patient_ref"] != REDACTED  # dead: replayable, kept
    # Day 31: poison records (30 days) go.
    assert retention(private_db, 31) == {**ZERO, "poison_messages": 1}
    # Day 91: finished jobs' payloads (90 days) and dead letters (90 days).
    expected = {**ZERO, "job_payloads": 3, "dead_letters": 1}
    assert retention(private_db, 91, "--dry-run") == expected
    assert retention(private_db, 91) == expected
    end = snapshot(private_db)
    for name in ("rejected_booking", "succeeded_plan", "dead_booking"):
        assert end["jobs"][seeded[name]] == {"$redacted": True}
    assert end["dead_letters"] == (0,) and end["poison"] == (0,)
    # Never: a job not finished, the job rows themselves, and audit rows (who/what/when).
    assert end["jobs"][seeded["queued_booking"]] == start["jobs"][seeded["queued_booking"]]
    assert set(end["jobs"]) == set(start["jobs"])
    assert end["audit"] == start["audit"]
    assert retention(private_db, 1000) == ZERO  # nothing left to do, and a queued job is safe
    assert (
        snapshot(private_db)["jobs"][seeded["queued_booking"]]
        == start["jobs"][seeded["queued_booking"]]
    )
