"""External busy time as availability reads it (the loader the domain code calls)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from shared.db.calendar import CalendarLink, ExternalBusy
from shared.db.uow import UnitOfWork


def load_external_busy(
    uow: UnitOfWork, doctor_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Busy ranges ``[starts_at, ends_at)`` of the doctor's active import links overlapping
    ``[start, end)``, sorted; ranges from several calendars may overlap each other."""
    rows = uow.session.execute(
        select(ExternalBusy.starts_at, ExternalBusy.ends_at)
        .join(CalendarLink, CalendarLink.id == ExternalBusy.link_id)
        .where(
            CalendarLink.doctor_id == doctor_id,
            CalendarLink.active.is_(True),
            CalendarLink.direction.in_(("import", "both")),
            ExternalBusy.starts_at < end,
            ExternalBusy.ends_at > start,
        )
        .order_by(ExternalBusy.starts_at, ExternalBusy.ends_at)
    )
    return [(s, e) for s, e in rows]
