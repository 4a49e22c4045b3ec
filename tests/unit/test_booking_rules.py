"""The booking rule and availability on hand-made schedules (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.booking import availability, check_booking
from shared.domain.conflicts import find_conflicts
from shared.domain.plan import WorkingPlanPayload
from shared.domain.schedule import Booking, Closure, ScheduleInputs

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 1, 5)


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def inputs(**kw: Any) -> ScheduleInputs:
    plan_extra = kw.pop("plan", {})
    shift = {"start": "08:00", "end": "12:00", "breaks": [{"start": "10:00", "end": "10:30"}]}
    plan = WorkingPlanPayload.model_validate(
        {
            "doctor_id": "d",
            "time_zone": "Europe/Berlin",
            "valid_from": "2026-01-01",
            "slot_minutes": 30,
            "weekdays": {"mon": [shift]},
            **plan_extra,
        }
    )
    return ScheduleInputs(zone=BERLIN, plans=(plan,), **kw)


def check_codes(
    s: ScheduleInputs, start: datetime, end: datetime, exclude: str | None = None
) -> list[str]:
    return [v.code for v in check_booking(s, start, end, exclude).violations]


def test_booking_inside_working_time_gets_seat_one() -> None:
    result = check_booking(inputs(), at(8), at(8, 30))
    assert result.violations == [] and result.seat == 1


def test_outside_working_time_in_a_break_or_across_it() -> None:
    s = inputs()
    assert check_codes(s, at(7, 30), at(8)) == ["APPOINTMENT_OUTSIDE_WORKING_TIME"]
    assert check_codes(s, at(10), at(10, 30)) == ["APPOINTMENT_OUTSIDE_WORKING_TIME"]
    assert check_codes(s, at(9, 45), at(10, 15)) == ["APPOINTMENT_OUTSIDE_WORKING_TIME"]
    assert check_codes(s, at(9), at(9)) == ["APPOINTMENT_END_NOT_AFTER_START"]


def test_before_the_plan_is_valid_there_is_no_working_time() -> None:
    earlier = MONDAY - timedelta(days=7 * 52)
    assert check_codes(inputs(), at(8, day=earlier), at(8, 30, day=earlier)) == [
        "APPOINTMENT_OUTSIDE_WORKING_TIME"
    ]


def test_holiday_and_exception_and_external_busy() -> None:
    assert check_codes(inputs(holidays=frozenset({MONDAY})), at(8), at(8, 30)) == [
        "APPOINTMENT_ON_HOLIDAY"
    ]
    vacation = Closure(at(0), at(0, day=MONDAY + timedelta(days=1)), "vacation", "v1")
    assert check_codes(inputs(closures=(vacation,)), at(8), at(8, 30)) == [
        "APPOINTMENT_IN_EXCEPTION"
    ]
    busy = (at(8, 15), at(8, 45))
    assert check_codes(inputs(external_busy=(busy,)), at(8), at(8, 30)) == [
        "APPOINTMENT_EXTERNAL_BUSY"
    ]


def test_override_open_adds_time_even_on_a_holiday_but_closures_win() -> None:
    opened = Closure(at(14), at(16), "override_open", "o1")
    s = inputs(closures=(opened,), holidays=frozenset({MONDAY}))
    assert check_codes(s, at(14), at(14, 30)) == []
    assert [x.start for x in availability(s, at(0), at(23))] == [
        at(14),
        at(14, 30),
        at(15),
        at(15, 30),
    ]
    closed = Closure(at(15), at(16), "override_close", "c1")
    s = inputs(closures=(opened, closed))
    assert check_codes(s, at(15), at(15, 30)) == ["APPOINTMENT_IN_EXCEPTION"]


def test_overlap_with_capacity_one_and_seats_with_capacity_two() -> None:
    booked = (Booking("a", at(8), at(8, 30), 1),)
    assert check_codes(inputs(appointments=booked), at(8, 15), at(8, 45)) == ["APPOINTMENT_OVERLAP"]
    assert check_codes(inputs(appointments=booked), at(8, 30), at(9)) == []  # half-open ranges
    two = inputs(appointments=booked, plan={"capacity_per_slot": 2})
    assert check_booking(two, at(8), at(8, 30)).seat == 2
    full = inputs(
        appointments=(*booked, Booking("b", at(8), at(8, 30), 2)), plan={"capacity_per_slot": 2}
    )
    assert check_codes(full, at(8), at(8, 30)) == ["SLOT_CAPACITY_REACHED"]


def test_day_capacity() -> None:
    booked = (Booking("a", at(8), at(8, 30)), Booking("b", at(9), at(9, 30)))
    s = inputs(appointments=booked, plan={"capacity_per_day": 2})
    assert check_codes(s, at(11), at(11, 30)) == ["DAY_CAPACITY_REACHED"]
    assert availability(s, at(0), at(23)) == []
    assert check_codes(s, at(11), at(11, 30), exclude="a") == []  # moving one of them is fine


def test_reschedule_does_not_collide_with_itself() -> None:
    s = inputs(appointments=(Booking("a", at(8), at(8, 30)),))
    assert check_codes(s, at(8, 15), at(8, 45), exclude="a") == []


def test_availability_lists_remaining_capacity() -> None:
    booked = (Booking("a", at(8), at(8, 30), 1),)
    slots = availability(inputs(appointments=booked, plan={"capacity_per_slot": 3}), at(0), at(23))
    assert [(x.start, x.remaining) for x in slots[:2]] == [(at(8), 2), (at(8, 30), 3)]
    assert len(slots) == 7  # 08:00-10:00 and 10:30-12:00 in 30-minute slots


def test_conflicts_name_the_reason() -> None:
    booked = [Booking("a", at(8), at(8, 30), 1), Booking("b", at(9), at(9, 30), 2)]
    vacation = Closure(at(8), at(8, 30), "sick_leave", "s1")
    found = find_conflicts(inputs(closures=(vacation,)), booked)
    assert [(c.booking.id, c.reasons) for c in found] == [
        ("a", ("APPOINTMENT_IN_EXCEPTION",)),
        ("b", ("SEAT_BEYOND_CAPACITY",)),
    ]


def test_appointment_longer_than_twelve_hours() -> None:
    assert "APPOINTMENT_TOO_LONG" in check_codes(inputs(), at(8), at(21))


def test_patient_reference_is_opaque_and_instants_need_an_offset() -> None:
    from shared.domain.appointments import BookAppointmentPayload
    from shared.errors import SchedqError
    from shared.payloads import parse_payload

    base = {"doctor_id": "d", "starts_at": "2026-01-05T08:00:00+01:00", "patient_ref": "p-1"}
    parse_payload(BookAppointmentPayload, {**base, "ends_at": "2026-01-05T08:15:00+01:00"})
    with pytest.raises(SchedqError) as err:
        parse_payload(
            BookAppointmentPayload,
            {**base, "patient_ref": "Jane Doe", "ends_at": "2026-01-05T08:15:00"},
        )
    assert [(v["code"], v["path"]) for v in err.value.details["violations"]] == [
        ("OFFSET_REQUIRED", "ends_at"),
        ("VALUE_FORMAT", "patient_ref"),
    ]


def test_external_busy_time_never_makes_a_booked_appointment_a_conflict() -> None:
    # An outside calendar cannot cancel a booking made here (docs/domain.md): busy time over a
    # booked appointment leaves it standing, while a new booking there is refused.
    busy = inputs(external_busy=((at(8), at(9)),))
    booked = [Booking("a", at(8), at(8, 30), 1)]
    assert find_conflicts(busy, booked) == []
    assert check_codes(busy, at(8), at(8, 30)) != []


def _violations(s: ScheduleInputs, start: datetime, end: datetime) -> list[dict[str, object]]:
    return [v.as_dict() for v in check_booking(s, start, end).violations]


def test_the_edges_of_an_appointment_length() -> None:
    allday = inputs(plan={"weekdays": {"mon": [{"start": "00:00", "end": "23:30"}]}})
    assert check_booking(allday, at(8), at(8)).seat is None  # zero length: never a booking
    assert check_booking(allday, at(8), at(8)).violations != []
    assert check_codes(allday, at(8), at(20)) == []  # exactly 12 hours is allowed
    assert _violations(allday, at(8), at(20, 1)) == [
        {"code": "APPOINTMENT_TOO_LONG", "path": "ends_at",
         "message": "An appointment lasts at most 12 hours."}
    ]  # fmt: skip


def test_capacity_violations_name_the_field_and_say_why() -> None:
    booked = (Booking("a", at(8), at(8, 30), 1),)
    taken = {"code": "APPOINTMENT_OVERLAP", "path": "starts_at",
             "message": "The requested time is already booked."}  # fmt: skip
    assert _violations(inputs(appointments=booked), at(8), at(8, 30)) == [taken]
    full_day = inputs(appointments=booked, plan={"capacity_per_day": 1})
    assert _violations(full_day, at(9), at(9, 30)) == [
        {"code": "DAY_CAPACITY_REACHED", "path": "starts_at",
         "message": "The doctor's day is fully booked."}
    ]  # fmt: skip


def test_no_seat_is_given_when_anything_is_wrong() -> None:
    # A free seat exists at 13:00, but the time is outside working hours.
    check = check_booking(inputs(), at(13), at(13, 30))
    assert check.violations != [] and check.seat is None


def test_availability_goes_on_past_days_without_room() -> None:
    week = {d: [{"start": "08:00", "end": "09:00"}] for d in ("tue", "wed")}
    # Monday has no plan, Tuesday is fully booked for the day, Wednesday is open.
    s = inputs(
        plan={"weekdays": week, "capacity_per_day": 1},
        appointments=(Booking("t", at(8, day=date(2026, 1, 6)), at(8, 30, day=date(2026, 1, 6))),),
    )
    slots = availability(s, at(0), at(23, day=date(2026, 1, 7)))
    wednesday = date(2026, 1, 7)
    assert [x.start for x in slots] == [at(8, day=wednesday), at(8, 30, day=wednesday)]


def test_availability_goes_on_past_a_busy_slot() -> None:
    s = inputs(external_busy=((at(8), at(8, 30)),))
    starts = [x.start for x in availability(s, at(0), at(23))]
    assert starts[:2] == [at(8, 30), at(9)] and at(8) not in starts
    assert [x.as_dict() for x in availability(s, at(8, 30), at(9))] == [
        {"start": at(8, 30).isoformat(), "end": at(9).isoformat(), "remaining": 1}
    ]


def test_availability_over_a_range_that_starts_before_the_plan_is_valid() -> None:
    # Friday to Monday; the plan starts on Monday: the days without a plan offer nothing, and
    # the search goes on to the days that have one.
    s = inputs(plan={"valid_from": MONDAY.isoformat()})
    friday = MONDAY - timedelta(days=3)
    starts = [x.start for x in availability(s, at(0, day=friday), at(23))]
    assert starts == [at(8), at(8, 30), at(9), at(9, 30), at(10, 30), at(11), at(11, 30)]


@pytest.mark.usefixtures("host_twelve_hours_west")
def test_availability_uses_the_doctors_days_whatever_the_host_zone() -> None:
    # Kiritimati is UTC+14: its Monday morning is Sunday evening in UTC and Sunday morning on
    # this host, more than a day away.
    kiritimati = ZoneInfo("Pacific/Kiritimati")
    start = datetime(2026, 1, 5, 8, tzinfo=kiritimati)
    s = ScheduleInputs(
        zone=kiritimati,
        plans=(
            WorkingPlanPayload.model_validate(
                {
                    "doctor_id": "d",
                    "time_zone": "Pacific/Kiritimati",
                    "valid_from": "2026-01-01",
                    "slot_minutes": 30,
                    "weekdays": {"mon": [{"start": "08:00", "end": "09:00"}]},
                }
            ),
        ),
    )
    slots = availability(s, start, start + timedelta(hours=1))
    assert [(x.start, x.end) for x in slots] == [
        (start, start + timedelta(minutes=30)),
        (start + timedelta(minutes=30), start + timedelta(hours=1)),
    ]


@pytest.mark.usefixtures("host_twelve_hours_west")
def test_conflicts_use_the_capacity_of_the_doctors_day_whatever_the_host_zone() -> None:
    # The plan with two seats starts on Monday; Monday 08:00 in Berlin is still Sunday on this
    # host, a day without a plan (one seat). Seat 2 on Monday is no conflict.
    s = inputs(plan={"valid_from": MONDAY.isoformat(), "capacity_per_slot": 2})
    booked = [Booking("a", at(8), at(8, 30), 2)]
    assert find_conflicts(s, booked) == []
    assert find_conflicts(s, [Booking("b", at(8), at(8, 30), 3)]) != []
