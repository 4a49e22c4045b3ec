"""Property tests: generated plans, exceptions and bookings, on ordinary and DST days.

- no offered slot touches a break, a closing exception, a holiday or external busy time;
- no slot is offered beyond capacity, and bookings made through the rule never exceed it;
- availability and the booking rule agree: an offered slot can be booked, and a slot of the
  plan's grid that is not offered cannot.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.domain.booking import availability, check_booking
from shared.domain.plan import WEEKDAYS, WorkingPlanPayload
from shared.domain.plan_rules import check_plan
from shared.domain.schedule import Booking, Closure, ScheduleInputs
from shared.domain.timeline import day_bounds, local_instant, merge, overlaps, slots_in
from shared.domain.times import format_minutes

ZONES = ["America/New_York", "Europe/Berlin", "UTC", "Australia/Lord_Howe"]
DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 11, 1),
    date(2026, 10, 25),
    date(2026, 6, 3),
]
KINDS = ["vacation", "sick_leave", "conference", "override_close", "holiday", "override_open"]


@st.composite
def schedules(draw: st.DrawFn) -> tuple[ScheduleInputs, date, list[tuple[int, int]]]:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS)) + timedelta(days=draw(st.integers(0, 1)))
    slot = draw(st.sampled_from([10, 15, 20, 30, 45, 60]))
    start = draw(st.integers(0, 40)) * 15
    end = min(1440, start + draw(st.integers(8, 60)) * 15)
    breaks: list[tuple[int, int]] = []
    cursor = start + slot
    for _ in range(draw(st.integers(0, 2))):
        b_start = cursor + draw(st.integers(0, 8)) * 5
        b_end = b_start + draw(st.integers(1, 6)) * 5
        if b_end + slot <= end:
            breaks.append((b_start, b_end))
            cursor = b_end + slot
    shift = {
        "start": format_minutes(start),
        "end": format_minutes(end),
        "breaks": [{"start": format_minutes(a), "end": format_minutes(b)} for a, b in breaks],
    }
    plan = WorkingPlanPayload.model_validate(
        {
            "doctor_id": "d",
            "time_zone": zone,
            "valid_from": "2026-01-01",
            "slot_minutes": slot,
            "weekdays": {d: [shift] for d in WEEKDAYS},
            "capacity_per_slot": draw(st.integers(1, 3)),
            "capacity_per_day": draw(st.one_of(st.none(), st.integers(1, 6))),
        }
    )
    assume(check_plan(plan, "00:00", "24:00") == [])
    tz = ZoneInfo(zone)
    lo = day_bounds(day, tz)[0]
    exceptions = tuple(
        Closure(
            lo + timedelta(minutes=a),
            lo + timedelta(minutes=a + length),
            draw(st.sampled_from(KINDS)),
            f"e{i}",
        )
        for i, (a, length) in enumerate(
            draw(st.lists(st.tuples(st.integers(0, 1400), st.integers(5, 300)), max_size=3))
        )
    )
    busy = tuple(
        (lo + timedelta(minutes=a), lo + timedelta(minutes=a + 20))
        for a in draw(st.lists(st.integers(0, 1400), max_size=2))
    )
    holidays = frozenset({day}) if draw(st.booleans()) and draw(st.booleans()) else frozenset()
    inputs = ScheduleInputs(
        zone=tz, plans=(plan,), closures=exceptions, holidays=holidays, external_busy=busy
    )
    return inputs, day, breaks


def _book_some(inputs: ScheduleInputs, day: date, picks: list[int]) -> ScheduleInputs:
    """Book offered slots one by one through the rule, as workers would."""
    lo, hi = day_bounds(day, inputs.zone)
    booked: list[Booking] = []
    for n, pick in enumerate(picks):
        current = ScheduleInputs(**{**_fields(inputs), "appointments": tuple(booked)})
        free = availability(current, lo, hi)
        if not free:
            break
        slot = free[pick % len(free)]
        check = check_booking(current, slot.start, slot.end)
        assert check.violations == [] and check.seat is not None
        booked.append(Booking(f"b{n}", slot.start, slot.end, check.seat))
    return ScheduleInputs(**{**_fields(inputs), "appointments": tuple(booked)})


def _fields(inputs: ScheduleInputs) -> dict[str, object]:
    return {
        "zone": inputs.zone,
        "plans": inputs.plans,
        "closures": inputs.closures,
        "holidays": inputs.holidays,
        "external_busy": inputs.external_busy,
    }


def _covered(span: tuple[datetime, datetime], intervals: list[tuple[datetime, datetime]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in merge(intervals))


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(schedules(), st.lists(st.integers(0, 1000), max_size=12))
def test_offered_slots_avoid_breaks_exceptions_and_respect_capacity(
    generated: tuple[ScheduleInputs, date, list[tuple[int, int]]], picks: list[int]
) -> None:
    base, day, breaks = generated
    plan = base.plans[0]
    inputs = _book_some(base, day, picks)
    lo, hi = day_bounds(day, inputs.zone)
    opened = [(e.start, e.end) for e in inputs.closures if e.opens]
    closed = [(e.start, e.end) for e in inputs.closures if not e.opens]
    # Breaks resolve to instants like any local time (docs/domain.md, "Time"); one whose end
    # resolves before its start (its edges straddle a DST gap) has no instants to protect.
    resolved = [
        (local_instant(day, a, inputs.zone), local_instant(day, b, inputs.zone)) for a, b in breaks
    ]
    break_spans = [(a, b) for a, b in resolved if b > a]
    offered = availability(inputs, lo, hi)
    assert all(a.end <= b.start for a, b in pairwise(offered))
    for slot in offered:
        span = (slot.start, slot.end)
        # Time in a break (or on a holiday) is offered only where override_open reopened it.
        for brk in break_spans:
            if overlaps(span, brk):
                assert _covered((max(span[0], brk[0]), min(span[1], brk[1])), opened)
        if day in inputs.holidays:
            assert _covered(span, opened)
        assert not any(overlaps(span, c) for c in closed)
        assert not any(overlaps(span, b) for b in inputs.external_busy)
        taken = sum(1 for a in inputs.appointments if overlaps((a.start, a.end), span))
        assert 0 < slot.remaining <= plan.capacity_per_slot - taken
    for appt in inputs.appointments:
        together = [
            a for a in inputs.appointments if overlaps((a.start, a.end), (appt.start, appt.end))
        ]
        assert len(together) <= plan.capacity_per_slot
        assert len({a.seat for a in together}) == len(together)
    if plan.capacity_per_day is not None:
        assert len(inputs.appointments) <= plan.capacity_per_day


@PROPS
@given(schedules(), st.lists(st.integers(0, 1000), max_size=8))
def test_availability_and_booking_rule_agree(
    generated: tuple[ScheduleInputs, date, list[tuple[int, int]]], picks: list[int]
) -> None:
    base, day, _ = generated
    inputs = _book_some(base, day, picks)
    lo, hi = day_bounds(day, inputs.zone)
    offered = {(s.start, s.end) for s in availability(inputs, lo, hi)}
    plan = inputs.plans[0]
    grid = {
        (s.start, s.end)
        for window in inputs.open_windows(day)
        for s in slots_in(window, plan.slot_minutes, day, plan.capacity_per_slot)
    }
    assert offered <= grid
    for start, end in grid:
        bookable = check_booking(inputs, start, end).violations == []
        assert bookable == ((start, end) in offered), (start, end)
