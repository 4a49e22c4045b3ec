"""Register and remove a doctor's calendar links (jobs ``link_calendar`` / ``unlink_calendar``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from shared import calendar_credentials, kinds
from shared.calendar_settings import get_calendar_settings
from shared.db.calendar import CalendarLink
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.domain.calendar_payloads import LinkCalendarPayload, LinkRef, link_id_for
from shared.errors import not_found
from worker.calendar.targets import check_literal
from worker.pipeline.context import Applied, JobContext
from worker.pipeline.handlers import handles
from worker.scheduling import audit


def _public(link: LinkCalendarPayload) -> dict[str, Any]:
    # What the audit log keeps: the secret reference's name, never a secret.
    return {
        "kind": link.kind,
        "url": str(link.url),
        "username": link.username,
        "secret_ref": link.secret_ref,
        "direction": link.direction,
        "active": link.active,
    }


@handles(kinds.LINK_CALENDAR)
def link_calendar(uow: UnitOfWork, ctx: JobContext, link: LinkCalendarPayload) -> Applied:
    if uow.session.get(Doctor, link.doctor_id) is None:
        raise not_found("doctor", link.doctor_id)
    url = str(link.url)
    # Refused before anything is stored, and without contacting anything: a credential that
    # is not this doctor's for exactly this origin, or an address that is plainly internal.
    if link.secret_ref:
        calendar_credentials.check_binding(
            uow.session, link.secret_ref, link.doctor_id, url, link.username
        )
    check_literal(link.url.host or "", get_calendar_settings())
    link_id = link_id_for(link.doctor_id, url)
    existing = uow.session.get(CalendarLink, link_id)
    before = (
        {"kind": existing.kind, "direction": existing.direction, "active": existing.active}
        if existing
        else None
    )
    values = _public(link)
    stmt = insert(CalendarLink).values(id=link_id, doctor_id=link.doctor_id, **values)
    # Changing the URL's kind or credentials invalidates what we knew about the remote state.
    reset = {"sync_token": None, "etag": None, "last_modified": None, "content_hash": None}
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[CalendarLink.id],
            set_={**values, **reset, "updated_at": func.now()},
        )
    )
    audit.record(
        uow,
        ctx,
        entity="calendar_link",
        entity_id=str(link_id),
        action="replaced" if existing else "created",
        before=before,
        after=values,
    )
    return Applied(
        {"link_id": str(link_id), "doctor_id": link.doctor_id, "created": existing is None}
    )


@handles(kinds.UNLINK_CALENDAR)
def unlink_calendar(uow: UnitOfWork, ctx: JobContext, ref: LinkRef) -> Applied:
    """Remove the link with its imported busy time; events already exported stay remote."""
    row = load_link(uow, ref)
    before = {"kind": row.kind, "url": row.url, "direction": row.direction}
    uow.session.execute(delete(CalendarLink).where(CalendarLink.id == ref.link_id))
    audit.record(
        uow,
        ctx,
        entity="calendar_link",
        entity_id=str(ref.link_id),
        action="deleted",
        before=before,
        after=None,
    )
    return Applied({"link_id": str(ref.link_id), "doctor_id": ref.doctor_id, "deleted": True})


def load_link(uow: UnitOfWork, ref: LinkRef) -> CalendarLink:
    """The doctor's link named by ``ref`` (no lock: a sync reads it before its long fetch)."""
    row = uow.session.scalars(
        select(CalendarLink).where(
            CalendarLink.id == ref.link_id, CalendarLink.doctor_id == ref.doctor_id
        )
    ).one_or_none()
    if row is None:
        raise not_found("calendar_link", str(ref.link_id))
    return row
