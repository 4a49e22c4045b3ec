"""Capacity above one under a race: three bookings of one slot with room for two, all started
while the doctor's row lock is held on a second connection, so all three are waiting at once
when it is released. Exactly two get a seat (1 and 2); the third gets SCHEDULE_CONFLICT.

Run through the booking service (rule check under the lock) and with plain inserts of the seat
each writer chose from what it saw before the lock (only the exclusion constraint decides).
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlalchemy import select

from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from shared.domain.appointments import BookAppointmentPayload
from shared.errors import SchedqError
from tests import pg_locks
from tests.domain_support import apply, plan_payload
from worker.pipeline.context import JobContext
from worker.pipeline.error_map import classify
from worker.scheduling.appointments import book_appointment

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")

START, END = "2026-01-05T09:00:00+01:00", "2026-01-05T09:15:00+01:00"


def _book(doctor: str, patient: str) -> str:
    payload = BookAppointmentPayload.model_validate(
        {"doctor_id": doctor, "starts_at": START, "ends_at": END, "patient_ref": patient}
    )
    try:
        with UnitOfWork() as uow:
            ctx = JobContext(uuid.uuid4(), "book_appointment", "corr", "tests", 1)
            book_appointment(uow, ctx, payload)
            uow.commit()
    except SchedqError as exc:
        return exc.code
    return "won"


def _seats(doctor: str) -> list[int]:
    with UnitOfWork() as uow:
        stmt = select(Appointment.seat).where(Appointment.doctor_id == doctor)
        return sorted(uow.session.scalars(stmt))


def test_three_bookings_race_for_a_slot_of_two(uid: str) -> None:
    doctor = f"cap-{uid}"
    plan = plan_payload(doctor, capacity_per_slot=2)
    assert apply("set_working_plan", plan).status == "succeeded"

    with ThreadPoolExecutor(3) as pool:
        with pg_locks.holder() as held:
            held.execute("SELECT 1 FROM doctors WHERE id = %s FOR UPDATE", [doctor])
            racers = [pool.submit(_book, doctor, f"p-{n}") for n in range(3)]
            pg_locks.wait_blocked(held, 3)  # all three wait for the doctor at once
        outcomes = Counter(r.result(timeout=60) for r in racers)

    assert outcomes == Counter({"won": 2, "SCHEDULE_CONFLICT": 1})
    assert _seats(doctor) == [1, 2]


def _insert_seat(doctor: str, seat: int) -> str:
    try:
        with UnitOfWork() as uow:
            uow.session.add(
                Appointment(
                    id=uuid.uuid4(),
                    doctor_id=doctor,
                    starts_at=datetime.fromisoformat(START),
                    ends_at=datetime.fromisoformat(END),
                    seat=seat,
                    patient_ref="p",
                )
            )
            uow.commit()
    except Exception as exc:  # the driver's error, mapped as the worker maps it
        return classify(exc).code
    return "won"


def test_the_constraint_alone_allows_one_booking_per_seat(uid: str) -> None:
    doctor = f"cap-c-{uid}"
    assert apply("set_working_plan", plan_payload(doctor, capacity_per_slot=2)).status == (
        "succeeded"
    )
    # Two writers both saw seat 1 free, a third saw seat 2 free: the constraint decides.
    with ThreadPoolExecutor(3) as pool:
        with pg_locks.holder() as held:
            held.execute("SELECT 1 FROM doctors WHERE id = %s FOR UPDATE", [doctor])
            racers = [pool.submit(_insert_seat, doctor, seat) for seat in (1, 1, 2)]
            # Plain inserts only take a KEY SHARE lock on the doctor (the foreign key), which
            # FOR UPDATE blocks: all three are waiting when the holder lets go.
            pg_locks.wait_blocked(held, 3)
        outcomes = Counter(r.result(timeout=60) for r in racers)

    assert outcomes == Counter({"won": 2, "SCHEDULE_CONFLICT": 1})
    assert _seats(doctor) == [1, 2]
