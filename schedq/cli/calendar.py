"""``schedq ics DOCTOR``: the doctor's appointments as an iCalendar feed on stdout.

No patient data beyond the opaque reference; UIDs are the same as in CalDAV exports.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer


def ics(
    doctor: Annotated[str, typer.Argument(help="Doctor id.")],
    days_back: Annotated[
        int, typer.Option(help="Include appointments that ended up to this many days ago.")
    ] = 1,
) -> None:
    """Print an ICS feed of a doctor's appointments (opaque patient references only)."""
    from sqlalchemy import func, select

    from schedq.cli.output import err_console
    from shared.db.calendar import ExportedEvent
    from shared.db.schedule import Appointment, Doctor
    from shared.db.uow import UnitOfWork
    from shared.domain.ics_export import AppointmentView, calendar, event
    from shared.patient_data import unseal

    since = datetime.now(UTC) - timedelta(days=days_back)
    with UnitOfWork() as uow:
        if uow.session.get(Doctor, doctor) is None:
            err_console.print(f"[bold red]DOCTOR_NOT_FOUND[/]: no doctor with id '{doctor[:64]}'")
            raise typer.Exit(2)
        # The feed shows the highest SEQUENCE any CalDAV export has used, so clients update.
        sequences = (
            select(ExportedEvent.appointment_id, func.max(ExportedEvent.sequence).label("seq"))
            .group_by(ExportedEvent.appointment_id)
            .subquery()
        )
        rows = uow.session.execute(
            select(Appointment, sequences.c.seq)
            .outerjoin(sequences, sequences.c.appointment_id == Appointment.id)
            .where(Appointment.doctor_id == doctor, Appointment.ends_at > since)
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        events = [
            event(
                AppointmentView(
                    a.id, a.starts_at, a.ends_at, a.status, unseal(a.patient_ref), a.updated_at
                ),
                int(seq or 0),
            )
            for a, seq in rows
        ]
    sys.stdout.write(calendar(events, name=f"schedq {doctor}").decode())
