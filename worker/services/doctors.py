"""Doctor rows: created on first use, locked for the length of a change, versioned."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.errors import not_found


def ensure_locked(uow: UnitOfWork, doctor_id: str, time_zone: str | None) -> Doctor:
    """Create the doctor if new (time zone from the job), then hold its row lock."""
    if time_zone is not None:
        stmt = insert(Doctor).values(id=doctor_id, time_zone=time_zone)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Doctor.id],
            set_={"time_zone": time_zone, "updated_at": stmt.excluded.updated_at},
        )
        uow.session.execute(stmt)
    doctor = uow.session.scalars(
        select(Doctor).where(Doctor.id == doctor_id).with_for_update()
    ).one_or_none()
    if doctor is None:
        raise not_found("doctor", doctor_id)
    return doctor


def bump_version(uow: UnitOfWork, doctor_id: str) -> int:
    """Every applied change moves the version: cache keys include it, so caches never go stale."""
    return uow.session.execute(
        update(Doctor)
        .where(Doctor.id == doctor_id)
        .values(schedule_version=Doctor.schedule_version + 1, updated_at=func.now())
        .returning(Doctor.schedule_version)
    ).scalar_one()
