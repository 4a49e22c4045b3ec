"""Exceptions to the plan: payload shapes and the pure rule that turns them into instants.

An exception is either whole local days (``days: {first, last}``, both inclusive) or a local
wall-clock range (``range: {start, end}``, naive ISO datetimes in the doctor's zone). It is
stored as the absolute instants those mean on that doctor's calendar (``fold=0``, see
``shared.domain.timeline``), so a later DST rule change in tzdata does not move stored rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, NaiveDatetime

from shared.domain.plan import DOCTOR_ID, Strategy
from shared.domain.timeline import Interval, day_bounds
from shared.domain.times import format_minutes, parse_hhmm
from shared.errors import Violation
from shared.payloads import Payload

ClosureKind = Literal[
    "vacation", "sick_leave", "holiday", "conference", "override_open", "override_close"
]
REF = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
MAX_DAYS = 366


class DaySpan(Payload):
    first: date
    last: date


class LocalRange(Payload):
    start: NaiveDatetime
    end: NaiveDatetime


class AddClosurePayload(Payload):
    doctor_id: str = DOCTOR_ID
    exception_id: str = REF
    kind: ClosureKind
    days: DaySpan | None = None
    range: LocalRange | None = None
    on_conflict: Strategy = "reject"


class RemoveClosurePayload(Payload):
    doctor_id: str = DOCTOR_ID
    exception_id: str = REF
    on_conflict: Strategy = "reject"


def _wall(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone).astimezone(UTC)


def resolve_closure(
    payload: AddClosurePayload, zone: ZoneInfo, business: tuple[str, str]
) -> tuple[Interval | None, list[Violation]]:
    """The exception's instants, or every violation of it."""
    out: list[Violation] = []
    if (payload.days is None) == (payload.range is None):
        out.append(
            Violation("EXCEPTION_SPAN_REQUIRED", "days", "Give exactly one of 'days' or 'range'.")
        )
        return None, out
    if payload.days is not None:
        first, last = payload.days.first, payload.days.last
        if last < first:
            out.append(
                Violation(
                    "EXCEPTION_END_BEFORE_START", "days.last", "'last' must not be before 'first'."
                )
            )
        elif (last - first).days >= MAX_DAYS:
            out.append(
                Violation(
                    "EXCEPTION_TOO_LONG",
                    "days.last",
                    f"An exception spans at most {MAX_DAYS} days.",
                )
            )
        if payload.kind == "override_open":
            out.append(
                Violation(
                    "OUTSIDE_BUSINESS_HOURS",
                    "days",
                    "Opening time needs a 'range' inside business hours.",
                )
            )
        if out:
            return None, out
        return (day_bounds(first, zone)[0], day_bounds(last, zone)[1]), out
    assert payload.range is not None
    lo, hi = payload.range.start, payload.range.end
    span = (_wall(lo, zone), _wall(hi, zone))
    if span[1] <= span[0]:
        out.append(
            Violation("EXCEPTION_END_NOT_AFTER_START", "range.end", "'end' must be after 'start'.")
        )
    elif hi - lo > timedelta(days=MAX_DAYS):
        out.append(
            Violation(
                "EXCEPTION_TOO_LONG", "range.end", f"An exception spans at most {MAX_DAYS} days."
            )
        )
    if payload.kind == "override_open" and not out:
        out.extend(_inside_business(lo, hi, business))
    return (None if out else span), out


def _inside_business(lo: datetime, hi: datetime, business: tuple[str, str]) -> list[Violation]:
    """Opened time lies on one local day (it may end at 24:00) within business hours."""
    open_min, close_min = parse_hhmm(business[0]) or 0, parse_hhmm(business[1]) or 1440
    end_min: int | None = None
    if hi.date() == lo.date():
        end_min = hi.hour * 60 + hi.minute
    elif hi.date() == lo.date() + timedelta(days=1) and hi.time() == time():
        end_min = 1440
    if end_min is not None and lo.hour * 60 + lo.minute >= open_min and end_min <= close_min:
        return []
    return [
        Violation(
            "OUTSIDE_BUSINESS_HOURS",
            "range",
            f"Opened time must lie on one day within business hours "
            f"{format_minutes(open_min)}-{format_minutes(close_min)}.",
        )
    ]
