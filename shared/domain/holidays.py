"""A named holiday calendar: dates (local days) attached to a set of doctors."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shared.domain.plan import DoctorRef, Strategy
from shared.errors import Violation
from shared.payloads import Payload


class HolidayDay(Payload):
    date: date
    name: str = Field(min_length=1, max_length=100)


class SetHolidaysPayload(Payload):
    # Short enough that "holidays:<calendar>" fits the ledger's order-key column.
    calendar: str = Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9._:-]+$")
    dates: list[HolidayDay] = Field(max_length=400)
    # The doctors the calendar is attached to after the job (replaces the previous set).
    doctor_ids: list[DoctorRef] = Field(max_length=500)
    on_conflict: Strategy = "reject"


def check_holidays(payload: SetHolidaysPayload) -> list[Violation]:
    out: list[Violation] = []
    seen: set[date] = set()
    for i, day in enumerate(payload.dates):
        if day.date in seen:
            out.append(
                Violation("HOLIDAY_DATE_DUPLICATE", f"dates[{i}].date", "A date is listed twice.")
            )
        seen.add(day.date)
    doctors: set[str] = set()
    for i, doctor in enumerate(payload.doctor_ids):
        if not doctor or len(doctor) > 64:
            out.append(
                Violation("VALUE_INVALID", f"doctor_ids[{i}]", "A doctor id is 1-64 characters.")
            )
        elif doctor in doctors:
            out.append(
                Violation("DOCTOR_DUPLICATE", f"doctor_ids[{i}]", "A doctor is listed twice.")
            )
        doctors.add(doctor)
    return out
