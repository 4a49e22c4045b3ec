"""Operator actions on dead letters: list, show, replay (one or by filter), purge.

A replay is a *new* ledger job (same kind, payload and correlation id) with ``replay_of``
pointing at the dead one, published after commit. It is idempotent: the replay job carries the
idempotency key ``dlq-replay:<original job id>``, and the dead letter remembers it
(``replayed_as``), so replaying twice (or from two terminals at once) creates one job. A dead
letter whose job has since succeeded is left alone.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.sql import Select

from shared.db.reliability import DeadLetter, PoisonMessage
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError, error, not_found
from shared.ledger.publish import publish_committed
from shared.ledger.replay import Replayed, replay_locked
from shared.settings import Settings

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def bad_input(message: str) -> SchedqError:
    return error("DLQ_BAD_INPUT", problem=message)


def letter_not_found(ident: str) -> SchedqError:
    return not_found("dead_letter", ident)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise bad_input(f"'{text[:40]}' is not a duration like 30s, 15m, 12h, 7d or 2w.")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A duration ago (``2h``) or an ISO-8601 instant (UTC when no offset is given)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return (now or datetime.now(UTC)) - parse_duration(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Filter:
    kind: str | None = None
    code: str | None = None
    since: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> Filter:
        """``kind=set_working_plan,code=RETRIES_EXHAUSTED,since=1h`` (any subset, not empty)."""
        fields: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key not in ("kind", "code", "since") or not value:
                raise bad_input(f"'{part[:40]}' is not kind=..., code=... or since=...")
            fields[key] = parse_since(value) if key == "since" else value
        if not fields:
            raise bad_input("A filter needs at least one of kind=, code=, since=.")
        return cls(**fields)

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.kind:
            stmt = stmt.where(DeadLetter.kind == self.kind)
        if self.code:
            stmt = stmt.where(DeadLetter.error_code == self.code)
        if self.since:
            stmt = stmt.where(DeadLetter.last_failure_at >= self.since)
        return stmt


def as_dict(letter: DeadLetter, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": letter.id,
        "job_id": str(letter.job_id),
        "kind": letter.kind,
        "error_code": letter.error_code,
        "attempts": letter.attempts,
        "first_failure_at": letter.first_failure_at.isoformat(),
        "last_failure_at": letter.last_failure_at.isoformat(),
        "replayed_as": str(letter.replayed_as) if letter.replayed_as else None,
    }
    if full:
        out.update(
            queue=letter.queue,
            error=letter.error,
            payload=letter.payload,
            history=letter.history,
            replayed_at=letter.replayed_at.isoformat() if letter.replayed_at else None,
        )
    return out


def list_letters(flt: Filter, limit: int = 200) -> list[dict[str, Any]]:
    stmt = flt.apply(select(DeadLetter)).order_by(DeadLetter.id.desc()).limit(limit)
    with UnitOfWork() as uow:
        return [as_dict(d) for d in uow.session.scalars(stmt)]


def _where_ident(ident: str) -> Any:
    if ident.isdigit():
        return DeadLetter.id == int(ident)
    try:
        return DeadLetter.job_id == uuid.UUID(ident)
    except ValueError:
        raise letter_not_found(ident) from None


def show(ident: str) -> dict[str, Any]:
    with UnitOfWork() as uow:
        letter = uow.session.scalars(select(DeadLetter).where(_where_ident(ident))).one_or_none()
        if letter is None:
            raise letter_not_found(ident)
        return as_dict(letter, full=True)


def replay(
    settings: Settings, ident: str | None = None, flt: Filter | None = None
) -> list[Replayed]:
    """Replay one dead letter (by id or job id) or every one matching a filter."""
    stmt = select(DeadLetter).with_for_update().order_by(DeadLetter.id)
    stmt = stmt.where(_where_ident(ident)) if ident is not None else (flt or Filter()).apply(stmt)
    with UnitOfWork() as uow:
        letters = list(uow.session.scalars(stmt))
        if ident is not None and not letters:
            raise letter_not_found(ident)
        results = [replay_locked(uow, letter) for letter in letters]
        envelopes = [env for _, env in results if env is not None]
        uow.commit()
    # After commit: a lost publish leaves the replay job queued for the reconciler.
    publish_committed(settings, envelopes)
    return [r for r, _ in results]


def purge(older_than: timedelta) -> dict[str, int]:
    """Delete dead letters (and poison records) whose last failure is older than the age."""
    cutoff = datetime.now(UTC) - older_than
    with UnitOfWork() as uow:
        letters = uow.session.execute(delete(DeadLetter).where(DeadLetter.last_failure_at < cutoff))
        poison = uow.session.execute(delete(PoisonMessage).where(PoisonMessage.at < cutoff))
        uow.commit()
    return {"dead_letters": letters.rowcount, "poison_messages": poison.rowcount}  # type: ignore[attr-defined]
