"""``/v1/dead-letters``: list dead letters and replay one (operators).

A replay goes through the ledger's ``replay_locked`` (idempotent: a letter replays into one job
at most) and is published after commit; the operator client is recorded in the audit log.
Payloads are not listed: they may hold patient references.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from producers.gateway.auth import allow, current_settings, roles_note
from producers.gateway.clients import Principal
from producers.gateway.problems import problem_responses
from shared.db.jobs import AuditEntry
from shared.db.reliability import DeadLetter
from shared.db.uow import UnitOfWork
from shared.errors import not_found
from shared.ledger.publish import publish_committed
from shared.ledger.replay import replay_locked
from shared.settings import Settings

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])
OPERATE = allow("operator")


class Letter(BaseModel):
    id: int
    job_id: str
    kind: str
    error_code: str
    attempts: int
    first_failure_at: str
    last_failure_at: str
    replayed_as: str | None


class Letters(BaseModel):
    items: list[Letter]


class ReplayOut(BaseModel):
    letter_id: int
    job_id: str
    outcome: str
    new_job_id: str | None


def _letter(d: DeadLetter) -> Letter:
    return Letter(
        id=d.id,
        job_id=str(d.job_id),
        kind=d.kind,
        error_code=d.error_code,
        attempts=d.attempts,
        first_failure_at=d.first_failure_at.isoformat(),
        last_failure_at=d.last_failure_at.isoformat(),
        replayed_as=str(d.replayed_as) if d.replayed_as else None,
    )


@router.get(
    "",
    response_model=Letters,
    summary="Dead letters, newest first",
    description=roles_note("operator"),
    responses=problem_responses(401, 403, 422),
)
def list_letters(
    who: Annotated[Principal, Depends(OPERATE)],
    settings: Annotated[Settings, Depends(current_settings)],
    kind: Annotated[str | None, Query(max_length=64)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> Letters:
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc())
    if kind:
        stmt = stmt.where(DeadLetter.kind == kind)
    if code:
        stmt = stmt.where(DeadLetter.error_code == code)
    with UnitOfWork() as uow:
        rows = uow.session.scalars(stmt.limit(min(limit, settings.api_page_max)))
        return Letters(items=[_letter(d) for d in rows])


@router.post(
    "/{letter_id}/replay",
    response_model=ReplayOut,
    summary="Replay a dead letter as a new job (at most once)",
    description=roles_note("operator"),
    responses=problem_responses(401, 403, 404),
)
def replay(
    letter_id: Annotated[int, Path(ge=1, le=2**62)],
    who: Annotated[Principal, Depends(OPERATE)],
    settings: Annotated[Settings, Depends(current_settings)],
) -> ReplayOut:
    with UnitOfWork() as uow:
        letter = uow.session.scalar(
            select(DeadLetter).where(DeadLetter.id == letter_id).with_for_update()
        )
        if letter is None:
            raise not_found("dead_letter", str(letter_id))
        outcome, envelope = replay_locked(uow, letter)
        uow.session.add(
            AuditEntry(
                job_id=letter.job_id,
                actor=who.name,
                entity="dead_letter",
                entity_id=str(letter.id),
                action=f"replay:{outcome.outcome}",
                after={"via": "api", "new_job_id": outcome.new_job_id},
            )
        )
        uow.commit()
    publish_committed(settings, [envelope] if envelope else [])
    return ReplayOut(
        letter_id=outcome.letter_id,
        job_id=outcome.job_id,
        outcome=outcome.outcome,
        new_job_id=outcome.new_job_id,
    )
