"""Retention: what schedq keeps, and for how long (run by beat; ``schedq retention``).

Past its retention period (``SCHEDQ_RETENTION_*_DAYS``, counted from when the row stopped
changing):
- a finished job's payload is replaced by ``{"$redacted": true}``; the row itself (kind,
  status, times, error code, submitter) stays for the ledger's history and statistics;
- a rejected booking's patient reference is redacted earlier than that (a rejected booking
  never became an appointment, so there is nothing the reference is still needed for);
- poison-message records and dead letters are deleted.
Audit rows are never touched: they hold who/what/when and no patient data (they name the
appointment). Appointments themselves are schedule data and stay.

Each rule is one statement with a fixed text; ``now`` is a parameter, so a test (or ``schedq
retention --as-of``) moves the clock forward instead of waiting. The dry run counts the same
WHERE clauses without changing anything.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from shared.db.uow import UnitOfWork
from shared.patient_data import REDACTED, SENSITIVE_FIELDS
from shared.settings import Settings, get_settings

log = logging.getLogger("schedq.retention")

REDACTED_PAYLOAD = {"$redacted": True}
_KINDS = ", ".join(f"'{k}'" for k in sorted(SENSITIVE_FIELDS))  # fixed names, not input
_FIELD = "patient_ref"
assert all(fields == (_FIELD,) for fields in SENSITIVE_FIELDS.values())

# rule -> (WHERE clause, change). Every clause excludes rows already done, so runs are cheap
# and the dry run of a run that just finished counts zero.
_RULES: dict[str, tuple[str, str, str]] = {
    "rejected_patient_refs": (
        "jobs",
        f"status = 'rejected' AND kind IN ({_KINDS}) AND finished_at < %(rejected)s"
        f" AND payload ? '{_FIELD}' AND payload->>'{_FIELD}' <> %(redacted_ref)s",
        f"UPDATE jobs SET payload = jsonb_set(payload, '{{{_FIELD}}}', to_jsonb(%(redacted_ref)s"
        "::text))",
    ),
    "job_payloads": (
        "jobs",
        "finished_at < %(payloads)s AND payload <> %(redacted_payload)s",
        "UPDATE jobs SET payload = %(redacted_payload)s",
    ),
    "poison_messages": ("poison_messages", "at < %(poison)s", "DELETE FROM poison_messages"),
    "dead_letters": ("dead_letters", "created_at < %(dead)s", "DELETE FROM dead_letters"),
}


@dataclass(frozen=True)
class Retained:
    """Rows changed (or, in a dry run, that would be) per rule."""

    rejected_patient_refs: int
    job_payloads: int
    poison_messages: int
    dead_letters: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def cutoffs(settings: Settings, now: datetime) -> dict[str, Any]:
    def days(n: int) -> datetime:
        return now - timedelta(days=n)

    return {
        "rejected": days(settings.retention_rejected_patient_days),
        "payloads": days(settings.retention_job_payload_days),
        "poison": days(settings.retention_poison_days),
        "dead": days(settings.retention_dead_letter_days),
        "redacted_ref": REDACTED,
        "redacted_payload": Jsonb(REDACTED_PAYLOAD),
    }


def purge(settings: Settings, now: datetime | None = None, dry_run: bool = False) -> Retained:
    """Apply (or count) every rule in one transaction."""
    params = cutoffs(settings, now or datetime.now(UTC))
    counts: dict[str, int] = {}
    with UnitOfWork() as uow:
        for rule, (table, where, change) in _RULES.items():
            if dry_run:
                found = uow.sql(f"SELECT count(*) FROM {table} WHERE {where}", params).scalar()
                counts[rule] = int(found or 0)
            else:
                counts[rule] = uow.sql(f"{change} WHERE {where}", params).rowcount
        if not dry_run:
            uow.commit()
    return Retained(**counts)


def run() -> dict[str, int]:
    """The beat task body (registered as ``schedq.retention`` by ``worker.app``)."""
    result = purge(get_settings())
    if any(result.as_dict().values()):
        log.info("retention purged", extra={"counts": result.as_dict()})
    return result.as_dict()
