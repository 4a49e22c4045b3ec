"""Child-process side of the booking race (imported by spawned processes, not collected)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from shared.domain.appointments import BookAppointmentPayload
from shared.errors import SchedqError
from worker.pipeline.context import JobContext
from worker.pipeline.error_map import classify
from worker.scheduling.appointments import book_appointment


def _attempt(name: str, mode: str, doctor: str, start: str, end: str) -> str:
    try:
        with UnitOfWork() as uow:
            if mode == "service":
                payload = BookAppointmentPayload.model_validate(
                    {"doctor_id": doctor, "starts_at": start, "ends_at": end, "patient_ref": name}
                )
                ctx = JobContext(uuid.uuid4(), "book_appointment", "race", name, 1)
                book_appointment(uow, ctx, payload)
            else:
                uow.session.add(
                    Appointment(
                        id=uuid.uuid4(),
                        doctor_id=doctor,
                        starts_at=datetime.fromisoformat(start),
                        ends_at=datetime.fromisoformat(end),
                        seat=1,
                        patient_ref=name,
                    )
                )
                uow.session.flush()
            uow.commit()
        return "won"
    except SchedqError as exc:
        return exc.code
    except Exception as exc:  # the driver's error, mapped as the worker maps it
        return classify(exc).code


def race(
    name: str,
    mode: str,
    doctor: str,
    slots: list[tuple[str, str]],
    barrier: Any,
    results: Any,
) -> None:
    """For each slot: wait for the other racer, then try to book it; report won or an error code.

    ``service`` goes through the worker's booking service (rule check under the doctor's row
    lock); ``constraint`` inserts directly, so only PostgreSQL's exclusion constraint decides.
    """
    out: list[str] = []
    for start, end in slots:
        barrier.wait()
        outcome = "RETRIES_EXHAUSTED"
        # As the executor does: a retryable error (PostgreSQL may report a deadlock between two
        # inserts waiting on each other's exclusion check) is tried again.
        for _ in range(5):
            code = _attempt(name, mode, doctor, start, end)
            if code != "DATABASE_UNAVAILABLE":
                outcome = code
                break
            out.append("retried")
        out.append(outcome)
    results.put((name, out))
