"""``publish_calendar``: write a doctor's appointments to the linked CalDAV collections.

Each appointment becomes one resource ``<appointment id>.ics`` with a stable UID. An unchanged
appointment is not sent again. A change is sent with ``If-Match`` on the stored ETag and a
higher ``SEQUENCE``; a new one with ``If-None-Match: *``.

412 policy (edited on both sides): the schedule owns its appointments. The worker refetches the
remote copy, sends ours again over it (If-Match on the fresh ETag, SEQUENCE above both) and
lists the overwrite on the job's outcome. A resource deleted remotely is recreated. A second 412
in a row (someone keeps editing) is a retryable error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
from caldav.davclient import DAVClient
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert

from shared import calendar_credentials
from shared.calendar_credentials import Credential
from shared.calendar_settings import get_calendar_settings
from shared.db.calendar import CalendarLink, ExportedEvent
from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from shared.domain.calendar_payloads import PublishCalendarPayload
from shared.domain.ics_export import AppointmentView, calendar, content_hash, event, uid_for
from shared.errors import error, not_found
from shared.patient_data import unseal
from shared.provider_errors import status_error
from worker.calendar import metrics as calendar_metrics
from worker.calendar.breaker import guarded
from worker.calendar.caldav_client import client_for
from worker.pipeline.context import Applied, CalendarEvents, JobContext

_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}


@dataclass(frozen=True)
class Target:
    """What a CalDAV client needs: the collection and its checked credential."""

    url: str
    credential: Credential | None
    sync_token: str | None = None


@dataclass(frozen=True)
class Sent:
    appointment_id: Any
    uid: str
    href: str
    sequence: int
    etag: str | None
    content_hash: str
    outcome: str


def _links(uow: UnitOfWork, p: PublishCalendarPayload) -> list[CalendarLink]:
    query = select(CalendarLink).where(
        CalendarLink.doctor_id == p.doctor_id,
        CalendarLink.kind == "caldav",
        CalendarLink.direction.in_(("export", "both")),
        CalendarLink.active.is_(True),
    )
    if p.link_id is not None:
        query = query.where(CalendarLink.id == p.link_id)
    links = list(uow.session.scalars(query.order_by(CalendarLink.id)))
    if p.link_id is not None and not links:
        raise not_found("calendar_link", str(p.link_id))
    return links


def _appointments(uow: UnitOfWork, link: CalendarLink) -> list[AppointmentView]:
    since = datetime.now(UTC) - timedelta(days=get_calendar_settings().past_days)
    exported = select(ExportedEvent.appointment_id).where(ExportedEvent.link_id == link.id)
    rows = uow.session.scalars(
        select(Appointment)
        .where(
            Appointment.doctor_id == link.doctor_id,
            or_(Appointment.ends_at > since, Appointment.id.in_(exported)),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [
        AppointmentView(a.id, a.starts_at, a.ends_at, a.status, unseal(a.patient_ref), a.updated_at)
        for a in rows
    ]


def publish_calendar(uow: UnitOfWork, ctx: JobContext, p: PublishCalendarPayload) -> Applied:
    """Bound to its kind by ``worker.calendar.jobs`` (which imports this module lazily)."""
    links = [_publish_link(uow, link) for link in _links(uow, p)]
    events = CalendarEvents(exported=sum(link["sent"] for link in links))
    result = {
        "doctor_id": p.doctor_id,
        "links": links,
        "events_synced": {"export": events.exported},
    }
    return Applied(result, events=events)


def _publish_link(uow: UnitOfWork, link: CalendarLink) -> dict[str, Any]:
    stored = {
        row.appointment_id: row
        for row in uow.session.scalars(
            select(ExportedEvent).where(ExportedEvent.link_id == link.id)
        )
    }
    appts = _appointments(uow, link)
    pending = [
        (a, stored.get(a.id))
        for a in appts
        if a.id not in stored or stored[a.id].content_hash != content_hash(a)
    ]
    sent: list[Sent] = []
    if pending:
        settings = get_calendar_settings()

        # Checked against the doctor and the collection's origin before any contact.
        credential = calendar_credentials.for_link(
            uow.session, link.secret_ref, link.doctor_id, link.url, link.username
        )
        target = Target(link.url, credential)

        def call() -> list[Sent]:
            with client_for(target, settings) as client:
                return [_put(client, link, a, row) for a, row in pending]

        sent = guarded(link.url, call)
        _record(uow, link, sent)
    for s in sent:
        calendar_metrics.EXPORTED.labels(s.outcome).inc()
    return {
        "link_id": str(link.id),
        "sent": len(sent),
        "unchanged": len(appts) - len(pending),
        "created": sum(s.outcome == "created" for s in sent),
        "updated": sum(s.outcome == "updated" for s in sent),
        "overwrote_remote_edits": [s.uid for s in sent if s.outcome == "overwrote_remote_edit"],
        "recreated": [s.uid for s in sent if s.outcome == "recreated"],
    }


def _body(appt: AppointmentView, sequence: int) -> str:
    return calendar([event(appt, sequence)]).decode()


def _remote_sequence(text: str) -> int:
    try:
        ev = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
        return int(ev.get("SEQUENCE", 0))
    except (ValueError, IndexError):
        return 0


def _put(client: DAVClient, link: CalendarLink, appt: AppointmentView, row: Any) -> Sent:
    href = row.href if row is not None else f"{link.url.rstrip('/')}/{appt.id}.ics"
    sequence = row.sequence + 1 if row is not None else 0
    cond = {"If-Match": row.etag} if row is not None and row.etag else {"If-None-Match": "*"}
    outcome = "updated" if row is not None else "created"
    resp = _send(client, href, appt, sequence, cond)
    if resp.status == 412 or (resp.status == 404 and row is not None):
        resp, sequence, outcome = _resolve(client, href, appt, sequence)
    if resp.status >= 400:
        raise status_error(resp.status, resp.headers.get("Retry-After"))
    etag = resp.headers.get("ETag")
    return Sent(appt.id, uid_for(appt.id), href, sequence, etag, content_hash(appt), outcome)


def _send(
    client: DAVClient, href: str, appt: AppointmentView, sequence: int, cond: dict[str, str]
) -> Any:
    return client.request(href, "PUT", _body(appt, sequence), {**_HEADERS, **cond})


def _resolve(
    client: DAVClient, href: str, appt: AppointmentView, sequence: int
) -> tuple[Any, int, str]:
    """The stored ETag no longer matches: the schedule owns the appointment, so it wins."""
    remote = client.request(href, "GET")
    if remote.status == 404:
        # Deleted remotely (a server may answer If-Match on a missing resource with 412 or 404).
        return _send(client, href, appt, sequence, {"If-None-Match": "*"}), sequence, "recreated"
    if remote.status >= 400:
        raise status_error(remote.status, remote.headers.get("Retry-After"))
    sequence = max(sequence, _remote_sequence(remote.raw) + 1)
    fresh = {"If-Match": remote.headers.get("ETag", "")}
    resp = _send(client, href, appt, sequence, fresh)
    if resp.status == 412:
        raise error("CALENDAR_EDIT_RACE")
    return resp, sequence, "overwrote_remote_edit"


def _record(uow: UnitOfWork, link: CalendarLink, sent: list[Sent]) -> None:
    for s in sent:
        values = {
            "uid": s.uid,
            "href": s.href,
            "sequence": s.sequence,
            "etag": s.etag,
            "content_hash": s.content_hash,
        }
        stmt = insert(ExportedEvent).values(
            appointment_id=s.appointment_id, link_id=link.id, **values
        )
        uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ExportedEvent.appointment_id, ExportedEvent.link_id],
                set_={**values, "updated_at": datetime.now(UTC)},
            )
        )
