"""Write imported busy time: compare with what is stored and touch only what changed.

Running the same import twice therefore writes nothing the second time. The scope says which
stored rows the new set replaces: all of the link's rows (a feed, a full CalDAV resync) or
only those from the CalDAV resources that changed (an incremental sync).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from shared.db.calendar import ExportedEvent, ExternalBusy
from shared.db.schedule import ACTIVE_APPOINTMENT_STATUSES, Appointment
from shared.db.uow import UnitOfWork
from shared.domain.ical_busy import BusyInstance
from shared.errors import error

Key = tuple[str, str]
Row = tuple[datetime, datetime, str | None]


@dataclass(frozen=True)
class Changes:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    # Busy rows that are new or moved in time: the only ones that can make a new conflict.
    arrived: tuple[Key, ...] = ()

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "deleted": self.deleted}


def desired_rows(instances: list[BusyInstance], href: str | None) -> dict[Key, Row]:
    return {(b.uid, b.recurrence_id): (b.starts_at, b.ends_at, href) for b in instances}


def exported_uids(uow: UnitOfWork, link_id: uuid.UUID) -> frozenset[str]:
    """Our own appointments in a 'both' collection are not external busy time."""
    return frozenset(
        uow.session.scalars(select(ExportedEvent.uid).where(ExportedEvent.link_id == link_id))
    )


_DELETE_CHUNK = 5_000


def apply(
    uow: UnitOfWork,
    link_id: uuid.UUID,
    desired: dict[Key, Row],
    hrefs: set[str] | None = None,
    limit: int | None = None,
) -> Changes:
    """Make the stored rows in scope equal ``desired``; ``hrefs=None`` means all of the link.

    ``limit`` caps the link's rows after the change (ICS_TOO_MANY_INSTANCES, nothing written).
    """
    query = select(
        ExternalBusy.uid,
        ExternalBusy.recurrence_id,
        ExternalBusy.starts_at,
        ExternalBusy.ends_at,
        ExternalBusy.source_href,
    ).where(ExternalBusy.link_id == link_id)
    if hrefs is not None:
        keys = list(desired)
        query = query.where(
            or_(
                ExternalBusy.source_href.in_(hrefs),
                tuple_(ExternalBusy.uid, ExternalBusy.recurrence_id).in_(keys) if keys else false(),
            )
        )
    stored: dict[Key, Row] = {(r[0], r[1]): (r[2], r[3], r[4]) for r in uow.session.execute(query)}
    if limit is not None:
        kept = 0
        if hrefs is not None:  # rows outside the scope stay
            total = uow.session.scalar(select(func.count()).where(ExternalBusy.link_id == link_id))
            kept = int(total or 0) - len(stored)
        if kept + len(desired) > limit:
            raise error(
                "ICS_TOO_MANY_INSTANCES",
                problem=f"more than {limit} busy instances",
                details={"limit": limit},
            )
    gone = [k for k in stored if k not in desired]
    fresh = {k: v for k, v in desired.items() if k not in stored}
    changed = {k: v for k, v in desired.items() if k in stored and stored[k] != v}
    # A large feed means tens of thousands of rows: PostgreSQL takes at most 65,535 bind
    # parameters per statement, so deletes go in chunks and upserts as an executemany
    # (SQLAlchemy pages those into multi-row INSERTs of a safe size).
    for start in range(0, len(gone), _DELETE_CHUNK):
        uow.session.execute(
            delete(ExternalBusy).where(
                ExternalBusy.link_id == link_id,
                tuple_(ExternalBusy.uid, ExternalBusy.recurrence_id).in_(
                    gone[start : start + _DELETE_CHUNK]
                ),
            )
        )
    upserts = {**fresh, **changed}
    if upserts:
        stmt = insert(ExternalBusy)
        uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ExternalBusy.link_id, ExternalBusy.uid, ExternalBusy.recurrence_id],
                set_={
                    "starts_at": stmt.excluded.starts_at,
                    "ends_at": stmt.excluded.ends_at,
                    "source_href": stmt.excluded.source_href,
                },
            ),
            [
                {
                    "link_id": link_id,
                    "uid": uid,
                    "recurrence_id": rid,
                    "starts_at": begin,
                    "ends_at": end,
                    "source_href": href,
                }
                for (uid, rid), (begin, end, href) in upserts.items()
            ],
        )
    moved = [k for k, v in changed.items() if stored[k][:2] != v[:2]]
    return Changes(
        inserted=len(fresh), updated=len(changed), deleted=len(gone), arrived=(*fresh, *moved)
    )


def _overlap(doctor_id: str) -> Any:
    return and_(
        Appointment.doctor_id == doctor_id,
        Appointment.status.in_(ACTIVE_APPOINTMENT_STATUSES),
        Appointment.starts_at < ExternalBusy.ends_at,
        ExternalBusy.starts_at < Appointment.ends_at,
    )


def new_conflicts(
    uow: UnitOfWork, link_id: uuid.UUID, doctor_id: str, arrived: tuple[Key, ...]
) -> int:
    """Conflicts made by busy rows this sync inserted or moved: what metrics count, so a
    standing conflict is counted once, not again at every sync (a 304 counts nothing)."""
    total = 0
    for start in range(0, len(arrived), _DELETE_CHUNK):
        keys = list(arrived[start : start + _DELETE_CHUNK])
        query = (
            select(func.count())
            .select_from(ExternalBusy)
            .join(Appointment, _overlap(doctor_id))
            .where(
                ExternalBusy.link_id == link_id,
                tuple_(ExternalBusy.uid, ExternalBusy.recurrence_id).in_(keys),
            )
        )
        total += uow.session.scalar(query) or 0
    return int(total)


def conflicts(
    uow: UnitOfWork, link_id: uuid.UUID, doctor_id: str, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """Stored busy time of the link overlapping the doctor's active appointments."""
    base = select(ExternalBusy, Appointment.id).join(Appointment, _overlap(doctor_id))
    base = base.where(ExternalBusy.link_id == link_id)
    total = uow.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = uow.session.execute(
        base.order_by(ExternalBusy.starts_at, ExternalBusy.uid).limit(limit)
    ).all()
    listed = [
        {
            "uid": busy.uid,
            "recurrence_id": busy.recurrence_id,
            "appointment_id": str(appt_id),
            "starts_at": busy.starts_at.isoformat(),
            "ends_at": busy.ends_at.isoformat(),
        }
        for busy, appt_id in rows
    ]
    return int(total), listed
