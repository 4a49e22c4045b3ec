"""Shape of a weekly working plan (pydantic); its rules live in ``shared.domain.plan_rules``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from shared.payloads import Payload

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DoctorId = str
DOCTOR_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
# A doctor id inside a list (a field default cannot bound list items).
DoctorRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
# Every list in a payload has a cap (290,000 shifts were once accepted): a day of 24 one-hour
# shifts is the most a plan can usefully hold.
MAX_SHIFTS_PER_DAY = 24
# What a change does to booked appointments it no longer leaves room for (shared.domain.conflicts).
Strategy = Literal["reject", "flag", "force"]


class Break(Payload):
    start: str = Field(max_length=5)
    end: str = Field(max_length=5)


class Shift(Payload):
    start: str = Field(max_length=5)
    end: str = Field(max_length=5)
    breaks: list[Break] = Field(default_factory=list, max_length=12)


class WorkingPlanPayload(Payload):
    doctor_id: DoctorId = DOCTOR_ID
    time_zone: str = Field(min_length=1, max_length=64)
    valid_from: date
    slot_minutes: int = Field(ge=5, le=480)
    weekdays: dict[Weekday, Annotated[list[Shift], Field(max_length=MAX_SHIFTS_PER_DAY)]] = Field(
        max_length=7
    )
    # Parallel appointments per slot (seats 1..n) and, optionally, appointments per local day.
    capacity_per_slot: int = Field(1, ge=1, le=50)
    capacity_per_day: int | None = Field(None, ge=1, le=10_000)
    on_conflict: Strategy = "reject"

    def stored_weekdays(self) -> dict[str, object]:
        """The weekdays as stored (empty break lists left out, so old plans read the same)."""
        return self.model_dump(mode="json", exclude_defaults=True, include={"weekdays"}).get(
            "weekdays", {}
        )
