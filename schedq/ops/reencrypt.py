"""Re-encrypt stored patient references under the first key (``schedq reencrypt``).

Rotation without downtime: with the new key first in SCHEDQ_ENCRYPTION_KEYS everywhere, every
process seals under it and still opens the old tokens, so this can run while workers do. It
rewrites, batch by batch (one short transaction each), every value still in plaintext (written
before encryption) or sealed under another key; each row is rewritten only if it still holds the
value read (compare-and-set), so a concurrent change wins and a second run finishes the job.
Then the old key can be dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.db.uow import UnitOfWork
from shared.errors import error
from shared.patient_data import SENSITIVE_FIELDS, needs_reseal, reseal

# Fixed SQL per place (names from this module, never from input): (select, update).
_APPOINTMENTS = (
    "SELECT id::text AS key, patient_ref AS value FROM appointments"
    " WHERE id::text > %(after)s ORDER BY id::text LIMIT %(limit)s",
    "UPDATE appointments SET patient_ref = %(new)s WHERE id = %(key)s::uuid"
    " AND patient_ref = %(old)s",
)


def _payload_place(table: str, field: str, kinds: tuple[str, ...]) -> tuple[str, str]:
    key = "id::text" if table == "jobs" else "id"
    kind_list = ", ".join(f"'{k}'" for k in kinds)
    return (
        f"SELECT {key} AS key, payload->>'{field}' AS value FROM {table}"
        f" WHERE kind IN ({kind_list}) AND {key} > %(after)s ORDER BY {key} LIMIT %(limit)s",
        f"UPDATE {table} SET payload = jsonb_set(payload, '{{{field}}}', to_jsonb(%(new)s::text))"
        f" WHERE {key} = %(key)s AND payload->>'{field}' = %(old)s",
    )


def _places() -> Iterator[tuple[str, tuple[str, str], Any]]:
    yield "appointments.patient_ref", _APPOINTMENTS, ""
    fields = sorted({f for fs in SENSITIVE_FIELDS.values() for f in fs})
    for field in fields:
        kinds = tuple(k for k, fs in SENSITIVE_FIELDS.items() if field in fs)
        yield f"jobs.payload.{field}", _payload_place("jobs", field, kinds), ""
        yield f"dead_letters.payload.{field}", _payload_place("dead_letters", field, kinds), 0


@dataclass(frozen=True)
class PlaceCount:
    place: str
    checked: int
    rewritten: int


def reencrypt(keys: tuple[str, ...], dry_run: bool = False, batch: int = 500) -> list[PlaceCount]:
    """Rewrite what is not sealed under ``keys[0]``; with ``dry_run`` only count it."""
    if not keys:
        raise error("ENCRYPTION_KEY_MISSING")
    out: list[PlaceCount] = []
    for place, (select_sql, update_sql), start in _places():
        checked = rewritten = 0
        after: Any = start
        while True:
            with UnitOfWork() as uow:
                rows: list[Any] = list(uow.sql(select_sql, {"after": after, "limit": batch}))
                for row in rows:
                    key, value = row[0], row[1]
                    checked += 1
                    if not needs_reseal(value, keys):
                        continue
                    if not dry_run:
                        params = {"key": key, "old": value, "new": reseal(value, keys)}
                        rewritten += uow.sql(update_sql, params).rowcount
                    else:
                        rewritten += 1
                uow.commit()
            if len(rows) < batch:
                break
            after = rows[-1][0]
        out.append(PlaceCount(place, checked, rewritten))
    return out
