"""Helpers for calendar tests: doctors, appointments, ICS text, and running a handler."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from shared.db.calendar import ExternalBusy
from shared.db.schedule import Appointment, Doctor
from shared.db.uow import UnitOfWork
from shared.kinds import get_kind
from shared.payloads import parse_payload
from worker.pipeline import services  # noqa: F401  (binds the handlers)
from worker.pipeline.context import Applied, JobContext
from worker.pipeline.handlers import handler_for


def make_doctor(doctor_id: str, tz: str = "Europe/Berlin") -> str:
    with UnitOfWork() as uow:
        uow.session.add(Doctor(id=doctor_id, time_zone=tz))
        uow.commit()
    return doctor_id


def add_appointment(
    doctor_id: str, start: datetime, minutes: int = 30, status: str = "booked"
) -> uuid.UUID:
    appt_id = uuid.uuid4()
    with UnitOfWork() as uow:
        uow.session.add(
            Appointment(
                id=appt_id,
                doctor_id=doctor_id,
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                status=status,
                patient_ref=f"P-{appt_id.hex[:6]}",
            )
        )
        uow.commit()
    return appt_id


def run(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Apply one job's handler in one transaction, as the executor does (without the broker);
    the job's stored result."""
    return run_applied(kind, payload).result


def run_applied(kind: str, payload: dict[str, Any]) -> Applied:
    """Like :func:`run`, with the handler's typed figures (conflicts, calendar events)."""
    parsed = parse_payload(get_kind(kind).payload, payload)
    handler = handler_for(kind)
    assert handler is not None, kind
    ctx = JobContext(uuid.uuid4(), kind, "corr-test", "tests", 1)
    with UnitOfWork() as uow:
        applied = handler(uow, ctx, parsed)
        uow.commit()
    return applied


def busy(link_id: str) -> list[tuple[str, str, datetime, datetime]]:
    with UnitOfWork() as uow:
        rows = uow.session.scalars(
            select(ExternalBusy)
            .where(ExternalBusy.link_id == uuid.UUID(link_id))
            .order_by(ExternalBusy.starts_at, ExternalBusy.uid)
        )
        return [(r.uid, r.recurrence_id, r.starts_at, r.ends_at) for r in rows]


def next_monday(weeks_ahead: int = 1) -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=(7 - today.weekday()) + 7 * (weeks_ahead - 1))


def ics(*events: str) -> bytes:
    body = "\r\n".join(e.strip().replace("\n", "\r\n") for e in events)
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n{body}\r\nEND:VCALENDAR\r\n"
    return text.encode()


def vevent(uid: str, start: str, end: str, *extra: str) -> str:
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z", start, end, *extra]
    return "\n".join([*lines, "END:VEVENT"])


def stamp(d: date, hhmm: str = "1000") -> str:
    return f"{d:%Y%m%d}T{hhmm}00"


def add_credential(
    name: str, doctor_id: str, url: str, secret: str, username: str | None = None
) -> None:
    """What ``schedq credentials add`` does: bind a secret to a doctor and the URL's origin."""
    from shared import calendar_credentials

    with UnitOfWork() as uow:
        calendar_credentials.add(uow.session, name, doctor_id, url, username, secret)
        uow.commit()
