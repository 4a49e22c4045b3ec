"""Keep a feed's series expansions between syncs (table ``expanded_series``).

``load`` runs only when a feed changed and the horizon has not moved on; ``save`` runs in the
sync's own transaction, under the doctor's lock, after the link was found unchanged, so the
stored expansions always belong to the busy rows written with them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text, all_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import ARRAY, insert

from shared.db.calendar import ExpandedSeries
from shared.db.uow import UnitOfWork
from shared.domain.ical_series import BusyInstance, Expansion, SeriesExpansion


def load(uow: UnitOfWork, link_id: uuid.UUID) -> dict[str, SeriesExpansion]:
    rows = uow.session.execute(
        select(
            ExpandedSeries.uid,
            ExpandedSeries.digest,
            ExpandedSeries.occurrences,
            ExpandedSeries.instances,
        ).where(ExpandedSeries.link_id == link_id)
    )
    return {
        uid: SeriesExpansion(
            digest,
            occurrences,
            tuple(
                BusyInstance(uid, rid, datetime.fromisoformat(s), datetime.fromisoformat(e))
                for rid, s, e in instances
            ),
        )
        for uid, digest, occurrences, instances in rows
    }


def save(uow: UnitOfWork, link_id: uuid.UUID, expansion: Expansion) -> None:
    """Store the series expanded this time; forget series the feed no longer has."""
    # One array parameter, not one per UID: a feed may hold more series than PostgreSQL
    # takes bind parameters in a statement.
    kept = bindparam("kept", list(expansion.series), type_=ARRAY(Text))
    uow.session.execute(
        delete(ExpandedSeries).where(
            ExpandedSeries.link_id == link_id, ExpandedSeries.uid != all_(kept)
        )
    )
    fresh = [
        {
            "link_id": link_id,
            "uid": uid,
            "digest": exp.digest,
            "occurrences": exp.occurrences,
            "instances": [
                [b.recurrence_id, b.starts_at.isoformat(), b.ends_at.isoformat()]
                for b in exp.instances
            ],
        }
        for uid, exp in expansion.series.items()
        if uid in expansion.fresh
    ]
    if not fresh:
        return
    stmt = insert(ExpandedSeries)
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ExpandedSeries.link_id, ExpandedSeries.uid],
            set_={
                "digest": stmt.excluded.digest,
                "occurrences": stmt.excluded.occurrences,
                "instances": stmt.excluded.instances,
            },
        ),
        fresh,
    )
