"""Input limits at submit, tried as a careless integrator would: every refusal writes nothing.

Issue 13 item 1: a plan of 290,000 shifts was accepted (12.8 MB stored) and rejected by the
worker with a 31 MB error that ``schedq job --json`` printed back. Now the CLI refuses it before
the ledger insert, a batch names its failing request, and a worker's error lists at most
``MAX_VIOLATIONS`` violations with a count of all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from producers.client import Client, JobRequest
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.domain.plan import MAX_SHIFTS_PER_DAY
from shared.errors import MAX_VIOLATIONS, SchedqError
from shared.settings import get_settings
from tests.domain_support import apply, plan_payload

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def schedq(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schedq.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def jobs_of(doctor_prefix: str) -> int:
    with UnitOfWork() as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.payload["doctor_id"].astext.startswith(doctor_prefix))
            )
            or 0
        )


def test_the_290000_shift_plan_is_refused_by_the_cli_before_anything_is_written(
    database_url: str, uid: str, tmp_path: Path
) -> None:
    shifts = [{"start": "08:00", "end": "09:00"}] * (290_000 // 7 + 1)
    doctor = f"huge-{uid}"
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(plan_payload(doctor, days=dict.fromkeys(DAYS, shifts))))
    done = schedq("submit", "set_working_plan", "--file", str(file), "--json")
    assert done.returncode == 2, done.stderr[-2000:]
    err = json.loads(done.stdout)["error"]
    assert err["code"] == "PAYLOAD_TOO_LARGE"
    assert err["details"]["limit_bytes"] == get_settings().max_payload_bytes
    assert len(done.stdout) < 1000  # was a 45 MB `schedq job --json`
    assert jobs_of(doctor) == 0


def test_one_shift_too_many_per_day_is_a_short_validation_error(
    database_url: str, uid: str, tmp_path: Path
) -> None:
    shifts = [{"start": "08:00", "end": "09:00"}] * (MAX_SHIFTS_PER_DAY + 1)
    doctor = f"many-{uid}"
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(plan_payload(doctor, days=dict.fromkeys(DAYS, shifts))))
    done = schedq("submit", "set_working_plan", "--file", str(file), "--json")
    assert done.returncode == 2
    err = json.loads(done.stdout)["error"]
    assert err["code"] == "VALIDATION_FAILED"
    assert {v["code"] for v in err["details"]["violations"]} == {"TOO_MANY_ITEMS"}
    assert jobs_of(doctor) == 0


def test_a_batch_with_one_bad_request_names_it_and_writes_none_of_them(
    database_url: str, uid: str
) -> None:
    good = [JobRequest("set_working_plan", plan_payload(f"batch-{uid}-{i}")) for i in range(5)]
    bad = JobRequest("set_working_plan", plan_payload(f"batch-{uid}-bad", slot=1))
    with pytest.raises(SchedqError) as info:
        Client(submitter="tests").submit_many([*good[:3], bad, *good[3:]])
    assert info.value.code == "VALIDATION_FAILED"
    assert info.value.details["request_index"] == 3
    assert jobs_of(f"batch-{uid}") == 0


def test_a_batch_over_the_cap_is_refused_whole(database_url: str, uid: str) -> None:
    settings = get_settings().model_copy(update={"max_batch_jobs": 4})
    requests = [JobRequest("set_working_plan", plan_payload(f"cap-{uid}-{i}")) for i in range(5)]
    with pytest.raises(SchedqError) as info:
        Client(settings, submitter="tests").submit_many(requests)
    assert info.value.code == "BATCH_TOO_LARGE"
    assert info.value.details == {"limit": 4, "request_index": 4}
    assert jobs_of(f"cap-{uid}") == 0


def test_a_worker_rejection_stores_the_first_violations_and_their_count(
    database_url: str, uid: str
) -> None:
    # Accepted at submit (within every cap), broken in 7 x 23 ways: overlapping shifts.
    shifts: list[dict[str, Any]] = [{"start": "08:00", "end": "09:00"}] * MAX_SHIFTS_PER_DAY
    view = apply("set_working_plan", plan_payload(f"rej-{uid}", days=dict.fromkeys(DAYS, shifts)))
    assert view.status == "rejected" and view.error is not None
    details = view.error["details"]
    assert len(details["violations"]) == MAX_VIOLATIONS
    assert details["violation_count"] > MAX_VIOLATIONS
    assert len(json.dumps(view.model_dump())) < 20_000


def test_a_change_conflicting_with_many_bookings_lists_the_first_and_counts_all(
    database_url: str, uid: str
) -> None:
    doctor = f"confl-{uid}"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    booked = 0
    for day in range(5, 10):  # Monday 5 to Friday 9 January 2026, 08:00-12:00
        for quarter in range(12):
            hour, minute = 8 + quarter // 4, 15 * (quarter % 4)
            start = f"2026-01-{day:02d}T{hour:02d}:{minute:02d}:00+01:00"
            end_minute = minute + 15
            end = f"2026-01-{day:02d}T{hour + end_minute // 60:02d}:{end_minute % 60:02d}:00+01:00"
            ref = f"p-{quarter}"
            view = apply(
                "book_appointment",
                {"doctor_id": doctor, "starts_at": start, "ends_at": end, "patient_ref": ref},
            )
            assert view.status == "succeeded", view.error
            booked += 1
    emptied = apply("set_working_plan", plan_payload(doctor, days={}))
    assert emptied.status == "rejected" and emptied.error is not None
    details = emptied.error["details"]
    assert details["conflict_count"] == booked == 60
    assert len(details["conflicts"]) == MAX_VIOLATIONS
