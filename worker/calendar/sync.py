"""``sync_calendar``: import a link's busy time (ICS feed or CalDAV collection).

Fetch first, then parse everything, then write: a feed or a resource that fails to parse
applies nothing and the job is rejected with an error that names the problem. The job runs
under its doctor's advisory lock (the executor's order key), so two syncs of one link never
overlap, whatever the number of workers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update

from shared.calendar_settings import CalendarSettings, get_calendar_settings
from shared.db.calendar import CalendarLink
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.domain.calendar_payloads import LinkRef
from shared.domain.ical_busy import busy_instances, parse_calendar
from shared.errors import SchedqError
from worker.calendar import busy_store, caldav_client, ics_feed
from worker.calendar.links import load_link
from worker.pipeline.context import Applied, CalendarEvents, JobContext, settled
from worker.scheduling import audit, doctors


def _window(settings: CalendarSettings) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=settings.past_days), now + timedelta(days=settings.horizon_days)


def sync_calendar(uow: UnitOfWork, ctx: JobContext, ref: LinkRef) -> Applied:
    """Bound to its kind by ``worker.calendar.jobs`` (which imports this module lazily)."""
    link = load_link(uow, ref)
    outcome: dict[str, Any] = {"link_id": str(link.id), "doctor_id": link.doctor_id}
    if not link.active or link.direction == "export":
        return Applied(
            {**outcome, "skipped": "link inactive" if not link.active else "export-only link"}
        )
    doctor = uow.session.get(Doctor, link.doctor_id)
    assert doctor is not None  # FK with ON DELETE CASCADE
    zone = ZoneInfo(doctor.time_zone)
    sync = _sync_feed if link.kind == "ics" else _sync_caldav
    result = sync(uow, link, zone)
    changes: busy_store.Changes = result.pop("changes")
    outcome.update(result, changes=changes.as_dict())
    if changes.total:
        # Availability caches are keyed by the schedule version: busy time changed, so bump it.
        outcome["schedule_version"] = doctors.bump_version(uow, link.doctor_id)
        audit.record(
            uow,
            ctx,
            entity="calendar_link",
            entity_id=str(link.id),
            action="synced",
            before=None,
            after=changes.as_dict(),
        )
    total, listed = busy_store.conflicts(uow, link, get_calendar_settings().max_listed_conflicts)
    outcome["conflict_count"] = total
    outcome["conflicts"] = listed
    # Imports never resolve conflicts; they report them. The two keys below stay in the stored
    # result for producers (every standing conflict); metrics count the typed figure, which
    # holds only the conflicts this sync's new or moved busy rows made.
    outcome["strategy"] = "report"
    events = CalendarEvents(imported=changes.inserted + changes.updated, deleted=changes.deleted)
    outcome["events_synced"] = {"import": events.imported, "delete": events.deleted}
    arisen = busy_store.new_conflicts(uow, link, changes.arrived) if total else 0
    return Applied(outcome, conflicts=settled(arisen, "report"), events=events)


def _stale(link: CalendarLink, window_end: datetime, settings: CalendarSettings) -> bool:
    """The horizon moved on: recurring events need expanding again even if nothing changed."""
    if link.expanded_until is None:
        return True
    return window_end - link.expanded_until >= timedelta(hours=settings.reexpand_hours)


def _sync_feed(uow: UnitOfWork, link: CalendarLink, zone: ZoneInfo) -> dict[str, Any]:
    settings = get_calendar_settings()
    start, end = _window(settings)
    stale = _stale(link, end, settings)
    feed = ics_feed.fetch(link, settings, conditional=not stale)
    if feed.not_modified:
        return {"fetched": "not_modified", "changes": busy_store.Changes()}
    validators = {"etag": feed.etag, "last_modified": feed.last_modified}
    if feed.content_hash == link.content_hash and not stale:
        # Same bytes (a server without ETags): nothing to parse or write, but remember
        # new validators so the next request can be conditional.
        if validators != {"etag": link.etag, "last_modified": link.last_modified}:
            _store(uow, link, **validators)
        return {"fetched": "unchanged", "changes": busy_store.Changes()}
    instances = busy_instances(
        parse_calendar(feed.body), zone, start, end, busy_store.exported_uids(uow, link.id)
    )
    changes = busy_store.apply(uow, link.id, busy_store.desired_rows(instances, None))
    fetched = "changed" if feed.content_hash != link.content_hash else "reexpanded"
    _store(
        uow,
        link,
        content_hash=feed.content_hash,
        expanded_until=end,
        last_sync_at=func.now(),
        **validators,
    )
    return {"fetched": fetched, "instances": len(instances), "changes": changes}


def _sync_caldav(uow: UnitOfWork, link: CalendarLink, zone: ZoneInfo) -> dict[str, Any]:
    settings = get_calendar_settings()
    start, end = _window(settings)
    pulled = caldav_client.pull(link, settings, full=_stale(link, end, settings))
    skip = busy_store.exported_uids(uow, link.id)
    desired: dict[busy_store.Key, busy_store.Row] = {}
    for href, data in sorted(pulled.resources.items()):
        try:
            instances = busy_instances(parse_calendar(data), zone, start, end, skip)
        except SchedqError as exc:
            exc.details["resource"] = href.rsplit("/", 1)[-1]
            raise
        desired.update(busy_store.desired_rows(instances, href))
    if pulled.full:
        changes = busy_store.apply(uow, link.id, desired)
    else:
        scope = set(pulled.resources) | pulled.deleted
        changes = busy_store.apply(uow, link.id, desired, hrefs=scope)
    if pulled.full:
        _store(uow, link, sync_token=pulled.token, expanded_until=end, last_sync_at=func.now())
    elif pulled.token != link.sync_token or changes.total:
        _store(uow, link, sync_token=pulled.token, last_sync_at=func.now())
    return {
        "fetched": "full" if pulled.full else "incremental",
        "resources": len(pulled.resources),
        "deleted_resources": len(pulled.deleted),
        "changes": changes,
    }


def _store(uow: UnitOfWork, link: CalendarLink, **values: Any) -> None:
    uow.session.execute(
        update(CalendarLink)
        .where(CalendarLink.id == link.id)
        .values(updated_at=func.now(), **values)
    )
