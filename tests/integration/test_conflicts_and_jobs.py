"""Exceptions, holidays and plan changes over booked appointments under each strategy, plus
appointment jobs, duplicate delivery and per-doctor order, on real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.db.domain import ScheduleClosure
from shared.db.jobs import AuditEntry
from shared.db.schedule import Appointment, Doctor, WorkingPlan
from shared.db.uow import UnitOfWork
from tests.domain_support import apply, deliver, plan_payload

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")

MONDAY = "2026-01-05"


def doctor_with_bookings(uid: str, times: list[str]) -> tuple[str, list[str]]:
    doctor = f"c-{uid}"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    ids = []
    for i, hhmm in enumerate(times):
        view = book(doctor, f"{MONDAY}T{hhmm}:00+01:00", 15, f"p-{i}")
        assert view.status == "succeeded", view.error
        assert view.result is not None
        ids.append(view.result["appointment_id"])
    return doctor, ids


def book(doctor: str, start: str, minutes: int = 15, ref: str = "p-x") -> Any:
    from datetime import datetime, timedelta

    end = (datetime.fromisoformat(start) + timedelta(minutes=minutes)).isoformat()
    return apply(
        "book_appointment",
        {"doctor_id": doctor, "starts_at": start, "ends_at": end, "patient_ref": ref},
    )


def rows(ids: list[str]) -> list[Appointment]:
    with UnitOfWork() as uow:
        found = [uow.session.get(Appointment, uuid.UUID(i)) for i in ids]
        uow.session.expunge_all()  # keep the loaded values after the session closes
    return [a for a in found if a is not None]


def audit_actions(job_id: str) -> list[str]:
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.job_id == uuid.UUID(job_id))
                .order_by(AuditEntry.id)
            )
        )


def version(doctor: str) -> int:
    with UnitOfWork() as uow:
        row = uow.session.get(Doctor, doctor)
        assert row is not None
        return row.schedule_version


@pytest.mark.parametrize("strategy", ["reject", "flag", "force"])
def test_exception_over_booked_appointments(uid: str, strategy: str) -> None:
    doctor, ids = doctor_with_bookings(uid, ["08:00", "09:00", "11:00"])
    before = version(doctor)
    view = apply(
        "add_exception",
        {
            "doctor_id": doctor,
            "exception_id": "sick-1",
            "kind": "sick_leave",
            "range": {"start": f"{MONDAY}T07:00", "end": f"{MONDAY}T10:00"},
            "on_conflict": strategy,
        },
    )
    listed_ids = ids[:2]
    after = rows(ids)
    if strategy == "reject":
        assert view.status == "rejected" and view.error is not None
        assert view.error["code"] == "BOOKED_APPOINTMENTS_CONFLICT"
        listed = view.error["details"]["conflicts"]
        assert [c["appointment_id"] for c in listed] == listed_ids
        assert all(c["reasons"] == ["APPOINTMENT_IN_EXCEPTION"] for c in listed)
        assert version(doctor) == before
        assert [(a.status, a.needs_reschedule) for a in after] == [("booked", False)] * 3
        with UnitOfWork() as uow:
            assert uow.session.get(ScheduleClosure, (doctor, "sick-1")) is None
        assert audit_actions(view.id) == []
        return
    assert view.status == "succeeded", view.error
    assert view.result is not None
    assert [c["appointment_id"] for c in view.result["conflicts"]] == listed_ids
    assert {c["resolution"] for c in view.result["conflicts"]} == {strategy}
    assert version(doctor) == before + 1
    untouched = after[2]
    assert (untouched.status, untouched.needs_reschedule) == ("booked", False)
    if strategy == "flag":
        assert [(a.status, a.needs_reschedule) for a in after[:2]] == [("booked", True)] * 2
        assert audit_actions(view.id) == ["flagged_for_reschedule"] * 2 + ["added"]
    else:
        assert [a.status for a in after[:2]] == ["cancelled"] * 2  # rows kept, never deleted
        assert audit_actions(view.id) == ["cancelled_by_conflict"] * 2 + ["added"]


def test_holidays_and_plan_change_over_bookings(uid: str) -> None:
    doctor, ids = doctor_with_bookings(uid, ["08:00"])
    tuesday = book(doctor, "2026-01-06T08:00:00+01:00", ref="p-tue")
    assert tuesday.status == "succeeded" and tuesday.result is not None
    ids.append(tuesday.result["appointment_id"])
    holidays = {
        "calendar": f"cal-{uid}",
        "dates": [{"date": MONDAY, "name": "Test day"}],
        "doctor_ids": [doctor],
    }
    rejected = apply("set_holidays", holidays)
    assert rejected.status == "rejected" and rejected.error is not None
    assert rejected.error["details"]["conflicts"] == [
        {
            "appointment_id": ids[0],
            "starts_at": "2026-01-05T07:00:00+00:00",
            "ends_at": "2026-01-05T07:15:00+00:00",
            "reasons": ["APPOINTMENT_ON_HOLIDAY"],
        }
    ]
    flagged = apply("set_holidays", {**holidays, "on_conflict": "flag"})
    assert flagged.status == "succeeded", flagged.error
    assert [a.needs_reschedule for a in rows(ids)] == [True, False]
    # A new plan from that Monday without Tuesdays strands Tuesday's booking; Monday's is
    # already flagged, so it is not a conflict again.
    no_tuesday = plan_payload(
        doctor, valid_from=MONDAY, days={"mon": [{"start": "08:00", "end": "12:00"}]}
    )
    view = apply("set_working_plan", no_tuesday)
    assert view.status == "rejected" and view.error is not None
    assert [(c["appointment_id"], c["reasons"]) for c in view.error["details"]["conflicts"]] == [
        (ids[1], ["APPOINTMENT_OUTSIDE_WORKING_TIME"])
    ]
    forced = apply("set_working_plan", {**no_tuesday, "on_conflict": "force"})
    assert forced.status == "succeeded", forced.error
    assert [(a.status, a.needs_reschedule) for a in rows(ids)] == [
        ("booked", True),
        ("cancelled", False),
    ]


def test_override_open_then_remove_it_with_a_booking_inside(uid: str) -> None:
    doctor, _ = doctor_with_bookings(uid, [])
    opened = apply(
        "add_exception",
        {
            "doctor_id": doctor,
            "exception_id": "sat",
            "kind": "override_open",
            "range": {"start": "2026-01-10T09:00", "end": "2026-01-10T11:00"},
        },
    )
    assert opened.status == "succeeded", opened.error
    assert book(doctor, "2026-01-10T09:00:00+01:00").status == "succeeded"
    removal = {"doctor_id": doctor, "exception_id": "sat"}
    refused = apply("remove_exception", removal)
    assert refused.status == "rejected" and refused.error is not None
    assert refused.error["code"] == "BOOKED_APPOINTMENTS_CONFLICT"
    assert apply("remove_exception", {**removal, "on_conflict": "flag"}).status == "succeeded"
    gone = apply("remove_exception", removal)
    assert gone.error is not None and gone.error["code"] == "EXCEPTION_NOT_FOUND"


def test_booking_rules_and_conflict_code(uid: str) -> None:
    doctor, ids = doctor_with_bookings(uid, ["08:00"])
    clash = book(doctor, f"{MONDAY}T08:00:00+01:00")
    assert clash.status == "rejected" and clash.error is not None
    assert clash.error["code"] == "SCHEDULE_CONFLICT"
    assert clash.error["category"] == "BUSINESS_LOGIC"
    outside = book(doctor, f"{MONDAY}T13:00:00+01:00")
    assert outside.error is not None and outside.error["code"] == "VALIDATION_FAILED"
    moved = apply(
        "reschedule_appointment",
        {
            "doctor_id": doctor,
            "appointment_id": ids[0],
            "starts_at": f"{MONDAY}T08:05:00+01:00",
            "ends_at": f"{MONDAY}T08:20:00+01:00",
        },
    )
    assert moved.status == "succeeded", moved.error
    cancel = {"doctor_id": doctor, "appointment_id": ids[0]}
    assert apply("cancel_appointment", cancel).status == "succeeded"
    again = apply("cancel_appointment", cancel)
    assert again.error is not None and again.error["code"] == "APPOINTMENT_NOT_ACTIVE"
    assert audit_actions(moved.id) == ["rescheduled"]


def test_same_job_delivered_twice_has_one_effect(uid: str) -> None:
    doctor, _ = doctor_with_bookings(uid, [])
    view = book(doctor, f"{MONDAY}T10:00:00+01:00")
    assert view.status == "succeeded"
    assert deliver(view.id).action == "noop"
    with UnitOfWork() as uow:
        count = uow.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.job_id == uuid.UUID(view.id))
        )
    assert count == 1
    assert audit_actions(view.id) == ["booked"]


def test_out_of_order_delivery_of_two_plan_changes_applies_in_submission_order(uid: str) -> None:
    from producers.client import JobRequest
    from shared.settings import get_settings
    from tests.domain_support import record
    from worker.pipeline.executor import run_delivery

    doctor = f"o-{uid}"
    first = plan_payload(doctor, days={"mon": [{"start": "08:00", "end": "10:00"}]})
    second = plan_payload(doctor, days={"mon": [{"start": "14:00", "end": "16:00"}]})
    a, b = record([JobRequest("set_working_plan", first), JobRequest("set_working_plan", second)])

    # The later job arrives first: it waits for its predecessor instead of applying.
    assert run_delivery(uuid.UUID(b.id), get_settings()).action == "wait"
    assert deliver(a.id).action == "succeeded"
    assert deliver(b.id).action == "succeeded"
    with UnitOfWork() as uow:
        stored = uow.session.scalars(
            select(WorkingPlan).where(WorkingPlan.doctor_id == doctor)
        ).one()
        assert stored.weekdays == {"mon": [{"start": "14:00", "end": "16:00"}]}
        assert stored.job_id == b.id


def test_exception_id_taken_and_unknown_doctor(uid: str) -> None:
    doctor, _ = doctor_with_bookings(uid, [])
    payload = {
        "doctor_id": doctor,
        "exception_id": "conf",
        "kind": "conference",
        "days": {"first": "2026-02-02", "last": "2026-02-03"},
    }
    assert apply("add_exception", payload).status == "succeeded"
    again = apply("add_exception", payload)
    assert again.error is not None
    assert [v["code"] for v in again.error["details"]["violations"]] == ["EXCEPTION_ID_TAKEN"]
    nobody = apply("add_exception", {**payload, "doctor_id": f"nobody-{uid}"})
    assert nobody.error is not None and nobody.error["code"] == "DOCTOR_NOT_FOUND"
