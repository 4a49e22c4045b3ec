"""``sync_calendar``: import a link's busy time (ICS feed or CalDAV collection).

A provider may be slow, hostile or down, so it never holds the doctor:

1. Read what the fetch needs (the link, its credential, the doctor's time zone) without locking
   anything of the doctor. The job is ordered per link (order key ``calendar-link:<id>``), not
   per doctor, so two syncs of one link never overlap and no booking waits behind a sync.
2. Fetch and parse everything (bounded by the egress deadline and byte cap, and by the instance
   caps). A feed or a resource that fails to parse applies nothing: the job is rejected with an
   error that names the problem.
3. Apply: take the doctor's advisory lock (the one the doctor's schedule jobs take), check the
   link did not change meanwhile, write only the differences, commit. This is the only part a
   booking for the same doctor can wait for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from shared import calendar_credentials
from shared.calendar_credentials import Credential
from shared.calendar_settings import CalendarSettings, get_calendar_settings
from shared.db.calendar import CalendarLink
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.domain.calendar_payloads import LinkRef
from shared.domain.ical_busy import Limits, busy_instances, expand_calendar, parse_calendar
from shared.domain.ical_series import Expansion, SeriesExpansion
from shared.errors import SchedqError, error
from shared.ledger import delivery as ledger_ops
from worker.calendar import busy_store, caldav_client, ics_feed, series_store
from worker.calendar import metrics as calendar_metrics
from worker.calendar.links import load_link
from worker.pipeline.context import Applied, CalendarEvents, JobContext, settled
from worker.scheduling import audit, doctors


@dataclass(frozen=True)
class LinkView:
    """The link as read before the fetch (no lock held on it or on the doctor)."""

    id: uuid.UUID
    doctor_id: str
    kind: str
    url: str
    sync_token: str | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    expanded_until: datetime | None
    updated_at: datetime
    credential: Credential | None


@dataclass
class Computed:
    """What a fetch found, ready to apply (no database work done yet)."""

    desired: dict[busy_store.Key, busy_store.Row] | None  # None: nothing to write
    hrefs: set[str] | None = None  # the scope an incremental CalDAV sync replaces
    store: dict[str, Any] | None = None  # link columns to update
    outcome: dict[str, Any] | None = None
    # False: write ``store`` only if busy time changed (an incremental sync with the same token).
    store_always: bool = True
    series: Expansion | None = None  # a feed's series expansions, kept for the next sync


def _window(settings: CalendarSettings) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=settings.past_days), now + timedelta(days=settings.horizon_days)


def _limits(settings: CalendarSettings) -> Limits:
    return Limits(settings.max_instances_per_series, settings.max_busy_rows_per_link)


def _read(uow: UnitOfWork, ref: LinkRef) -> tuple[CalendarLink, ZoneInfo]:
    row = load_link(uow, ref)
    doctor = uow.session.get(Doctor, row.doctor_id)
    assert doctor is not None  # FK with ON DELETE CASCADE
    return row, ZoneInfo(doctor.time_zone)


def sync_calendar(uow: UnitOfWork, ctx: JobContext, ref: LinkRef) -> Applied:
    """Bound to its kind by ``worker.calendar.jobs`` (which imports this module lazily)."""
    link, zone = _read(uow, ref)
    outcome: dict[str, Any] = {"link_id": str(link.id), "doctor_id": link.doctor_id}
    if not link.active or link.direction == "export":
        return Applied(
            {**outcome, "skipped": "link inactive" if not link.active else "export-only link"}
        )
    # The credential is checked against the doctor and the URL's origin before any contact.
    credential = calendar_credentials.for_link(
        uow.session, link.secret_ref, link.doctor_id, link.url, link.username
    )
    view = LinkView(
        link.id, link.doctor_id, link.kind, link.url, link.sync_token, link.etag,
        link.last_modified, link.content_hash, link.expanded_until, link.updated_at, credential,
    )  # fmt: skip
    skip = busy_store.exported_uids(uow, link.id)
    uow.session.expunge(link)
    try:
        if view.kind == "ics":
            computed = _fetch_feed(view, zone, skip, lambda: series_store.load(uow, view.id))
        else:
            computed = _fetch_caldav(view, zone, skip)
    except SchedqError as exc:
        if exc.code == "ICS_TOO_MANY_INSTANCES":
            calendar_metrics.BUSY_LIMITED.inc()
        raise
    return _apply(uow, ctx, view, computed, outcome)


def _apply(
    uow: UnitOfWork, ctx: JobContext, view: LinkView, computed: Computed, outcome: dict[str, Any]
) -> Applied:
    """The short part under the doctor's lock: write the differences, report conflicts."""
    ledger_ops.lock_order_key(uow, view.doctor_id)
    current = uow.session.scalars(
        select(CalendarLink).where(CalendarLink.id == view.id).with_for_update()
    ).one_or_none()
    if current is None or current.updated_at != view.updated_at:
        # Unlinked or replaced while we fetched: what we computed is for a link that is gone.
        return Applied({**outcome, "skipped": "link changed during the sync", "changes": {}})
    changes = busy_store.Changes()
    if computed.desired is not None:
        changes = busy_store.apply(
            uow, view.id, computed.desired, hrefs=computed.hrefs,
            limit=get_calendar_settings().max_busy_rows_per_link,
        )  # fmt: skip
    if computed.store and (computed.store_always or changes.total):
        _store(uow, view.id, **computed.store)
    if computed.series is not None:
        series_store.save(uow, view.id, computed.series)
    outcome.update(computed.outcome or {}, changes=changes.as_dict())
    if changes.total:
        # Availability caches are keyed by the schedule version: busy time changed, so bump it.
        outcome["schedule_version"] = doctors.bump_version(uow, view.doctor_id)
        audit.record(
            uow,
            ctx,
            entity="calendar_link",
            entity_id=str(view.id),
            action="synced",
            before=None,
            after=changes.as_dict(),
        )
    total, listed = busy_store.conflicts(
        uow, view.id, view.doctor_id, get_calendar_settings().max_listed_conflicts
    )
    outcome["conflict_count"] = total
    outcome["conflicts"] = listed
    # Imports never resolve conflicts; they report them. The two keys below stay in the stored
    # result for producers (every standing conflict); metrics count the typed figure, which
    # holds only the conflicts this sync's new or moved busy rows made.
    outcome["strategy"] = "report"
    events = CalendarEvents(imported=changes.inserted + changes.updated, deleted=changes.deleted)
    outcome["events_synced"] = {"import": events.imported, "delete": events.deleted}
    arisen = busy_store.new_conflicts(uow, view.id, view.doctor_id, changes.arrived) if total else 0
    return Applied(outcome, conflicts=settled(arisen, "report"), events=events)


def _stale(link: LinkView, window_end: datetime, settings: CalendarSettings) -> bool:
    """The horizon moved on: recurring events need expanding again even if nothing changed."""
    if link.expanded_until is None:
        return True
    return window_end - link.expanded_until >= timedelta(hours=settings.reexpand_hours)


def _fetch_feed(
    link: LinkView,
    zone: ZoneInfo,
    skip: frozenset[str],
    load_known: Callable[[], dict[str, SeriesExpansion]],
) -> Computed:
    settings = get_calendar_settings()
    start, end = _window(settings)
    stale = _stale(link, end, settings)
    feed = ics_feed.fetch(link, settings, conditional=not stale)
    if feed.not_modified:
        return Computed(None, outcome={"fetched": "not_modified"})
    validators = {"etag": feed.etag, "last_modified": feed.last_modified}
    if feed.content_hash == link.content_hash and not stale:
        # Same bytes (a server without ETags): nothing to parse or write, but remember
        # new validators so the next request can be conditional.
        changed = validators != {"etag": link.etag, "last_modified": link.last_modified}
        store = validators if changed else None
        return Computed(None, store=store, outcome={"fetched": "unchanged"})
    cal = parse_calendar(feed.body)
    # Series whose content is unchanged keep their earlier expansion, unless the horizon moved
    # on (stale): then every series is expanded again over the new window.
    expansion = expand_calendar(
        cal, zone, start, end, _limits(settings), known=None if stale else load_known()
    )
    instances = expansion.busy(skip)
    fetched = "changed" if feed.content_hash != link.content_hash else "reexpanded"
    columns = {
        "content_hash": feed.content_hash,
        # A reused series was expanded up to the earlier window's end: the horizon counts from
        # there, so the next re-expansion of every series is not put off by changed feeds.
        "expanded_until": link.expanded_until if expansion.reused else end,
        "last_sync_at": func.now(),
        **validators,
    }
    return Computed(
        busy_store.desired_rows(instances, None),
        store=columns,
        outcome={
            "fetched": fetched,
            "instances": len(instances),
            "series": {"expanded": len(expansion.fresh), "reused": len(expansion.reused)},
        },
        series=expansion,
    )


def _fetch_caldav(link: LinkView, zone: ZoneInfo, skip: frozenset[str]) -> Computed:
    settings = get_calendar_settings()
    start, end = _window(settings)
    pulled = caldav_client.pull(link, settings, full=_stale(link, end, settings))
    desired: dict[busy_store.Key, busy_store.Row] = {}
    limits = _limits(settings)
    for href, data in sorted(pulled.resources.items()):
        try:
            instances = busy_instances(parse_calendar(data), zone, start, end, skip, limits=limits)
        except SchedqError as exc:
            exc.details["resource"] = href.rsplit("/", 1)[-1][:200]
            raise
        desired.update(busy_store.desired_rows(instances, href))
        if len(desired) > settings.max_busy_rows_per_link:
            raise error(
                "ICS_TOO_MANY_INSTANCES",
                problem=f"more than {settings.max_busy_rows_per_link} busy instances",
                details={"limit": settings.max_busy_rows_per_link},
            )
    store: dict[str, Any] | None
    if pulled.full:
        store = {"sync_token": pulled.token, "expanded_until": end, "last_sync_at": func.now()}
    else:
        store = {"sync_token": pulled.token, "last_sync_at": func.now()}
    return Computed(
        desired,
        hrefs=None if pulled.full else set(pulled.resources) | pulled.deleted,
        store=store,
        store_always=pulled.full or pulled.token != link.sync_token,
        outcome={
            "fetched": "full" if pulled.full else "incremental",
            "resources": len(pulled.resources),
            "deleted_resources": len(pulled.deleted),
        },
    )


def _store(uow: UnitOfWork, link_id: uuid.UUID, **values: Any) -> None:
    uow.session.execute(
        update(CalendarLink)
        .where(CalendarLink.id == link_id)
        .values(updated_at=func.now(), **values)
    )
