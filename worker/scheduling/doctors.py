"""Doctor rows: created on first use, locked for the length of a change, versioned.

Every schedule change runs these, so they are plain SQL (``UnitOfWork.sql``), not ORM loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.db.uow import UnitOfWork
from shared.errors import not_found


@dataclass(frozen=True)
class LockedDoctor:
    """The doctor row as read under its lock (what services and the schedule reader need)."""

    id: str
    time_zone: str
    schedule_version: int


# ON CONFLICT DO UPDATE locks the existing row like SELECT ... FOR UPDATE; a new row is ours.
_UPSERT_LOCKED = """
INSERT INTO doctors (id, time_zone) VALUES (%(id)s, %(tz)s)
ON CONFLICT (id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at
RETURNING id, time_zone, schedule_version
"""
_SELECT_LOCKED = "SELECT id, time_zone, schedule_version FROM doctors WHERE id = %(id)s FOR UPDATE"


def ensure_locked(uow: UnitOfWork, doctor_id: str, time_zone: str | None) -> LockedDoctor:
    """Create the doctor if new (time zone from the job), then hold its row lock."""
    if time_zone is not None:
        row = uow.sql(_UPSERT_LOCKED, {"id": doctor_id, "tz": time_zone}).one_or_none()
    else:
        row = uow.sql(_SELECT_LOCKED, {"id": doctor_id}).one_or_none()
    if row is None:
        raise not_found("doctor", doctor_id)
    return LockedDoctor(row.id, row.time_zone, row.schedule_version)


_BUMP = """
UPDATE doctors SET schedule_version = schedule_version + 1, updated_at = now()
 WHERE id = %(id)s RETURNING schedule_version
"""


def bump_version(uow: UnitOfWork, doctor_id: str) -> int:
    """Every applied change moves the version: cache keys include it, so caches never go stale."""
    return int(uow.sql(_BUMP, {"id": doctor_id}).scalar_one())
