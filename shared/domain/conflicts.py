"""Which booked appointments a schedule change leaves without room (pure).

A change (plan, exception, holiday calendar) is applied first inside its transaction; then every
active appointment in the affected range is checked against the new schedule. External busy
time never makes a conflict: an outside calendar cannot cancel a booking made here.
A lowered per-day capacity applies to new bookings only (decision, docs/domain.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.schedule import Booking, ScheduleInputs, placement_violations
from shared.domain.timeline import local_day
from shared.errors import Violation


@dataclass(frozen=True)
class Conflict:
    booking: Booking
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "appointment_id": self.booking.id,
            "starts_at": self.booking.start.isoformat(),
            "ends_at": self.booking.end.isoformat(),
            "reasons": list(self.reasons),
        }


def find_conflicts(inputs: ScheduleInputs, bookings: Iterable[Booking]) -> list[Conflict]:
    out: list[Conflict] = []
    for booking in sorted(bookings, key=lambda b: (b.start, b.id)):
        reasons: list[Violation] = placement_violations(
            inputs, booking.start, booking.end, with_busy=False
        )
        per_slot, _ = inputs.capacity(local_day(booking.start, inputs.zone))
        codes = [v.code for v in reasons]
        if booking.seat > per_slot:
            codes.append("SEAT_BEYOND_CAPACITY")
        if codes:
            out.append(Conflict(booking, tuple(dict.fromkeys(codes))))
    return out
