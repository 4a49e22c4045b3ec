"""``schedq dlq purge``: which dead letters and poison records it deletes, and which it keeps.

Rows are staged with ages either side of the cutoff. Other tests of the run only ever write
rows from "now", so the counts printed are exactly this test's old rows.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from producers.client import JobRequest
from schedq.cli.main import app as cli
from shared.db.jobs import Job
from shared.db.reliability import DeadLetter, PoisonMessage
from shared.db.uow import UnitOfWork
from shared.ledger.submit import ledger_row
from shared.settings import get_settings
from tests import probe_kinds

probe_kinds.install()
runner = CliRunner()
# Ages in days; purge --older-than 30d removes those above 30 only.
LETTER_AGES = {"40d": 40, "31d": 31, "29d": 29, "now": 0}
POISON_AGES = {"40d": 40, "29d": 29, "now": 0}


@pytest.fixture
def staged(database_url: str, redis_url: str, uid: str) -> Iterator[dict[str, dict[str, int]]]:
    """Dead letters (each with its dead job) and poison records of known ages: name -> id."""
    now = datetime.now(UTC)
    letters: dict[str, int] = {}
    poison: dict[str, int] = {}
    with UnitOfWork() as uow:
        for name, days in LETTER_AGES.items():
            row = ledger_row(
                get_settings(), "tests", JobRequest("test_touch", {"doctor_id": f"pg-{uid}-{name}"})
            )
            at = now - timedelta(days=days)
            dead = {**row, "status": "dead", "finished_at": at}
            uow.session.execute(insert(Job).values(dead))
            letter = DeadLetter(
                job_id=row["id"], kind="test_touch", queue="schedule", payload=row["payload"],
                error={"code": "UNEXPECTED_ERROR"}, error_code="UNEXPECTED_ERROR", attempts=1,
                history=[], first_failure_at=at - timedelta(hours=1), last_failure_at=at,
            )  # fmt: skip
            uow.session.add(letter)
            uow.session.flush()
            letters[name] = letter.id
        for name, days in POISON_AGES.items():
            record = PoisonMessage(
                at=now - timedelta(days=days), code="MALFORMED_MESSAGE", size=5,
                body_sha256=secrets.token_hex(32), detail=f"purge test {name}",
            )  # fmt: skip
            uow.session.add(record)
            uow.session.flush()
            poison[name] = record.id
        uow.commit()
    yield {"letters": letters, "poison": poison}


def _left(model: type[DeadLetter] | type[PoisonMessage], ids: dict[str, int]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    with UnitOfWork() as uow:
        found = uow.session.scalars(select(model.id).where(model.id.in_(by_id)))
        return {by_id[i] for i in found}


def test_purge_removes_only_what_is_older_than_the_age(
    staged: dict[str, dict[str, int]], uid: str
) -> None:
    out = runner.invoke(cli, ["dlq", "purge", "--older-than", "30d", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"dead_letters": 2, "poison_messages": 1}
    assert _left(DeadLetter, staged["letters"]) == {"29d", "now"}
    assert _left(PoisonMessage, staged["poison"]) == {"29d", "now"}
    # The jobs themselves stay in the ledger: purge forgets dead letters, not history.
    with UnitOfWork() as uow:
        statuses = uow.session.scalars(
            select(Job.status).where(
                Job.payload["doctor_id"].astext.in_([f"pg-{uid}-40d", f"pg-{uid}-31d"])
            )
        )
        assert sorted(statuses) == ["dead", "dead"]

    again = runner.invoke(cli, ["dlq", "purge", "--older-than", "30d"])
    assert again.exit_code == 0, again.output
    assert "purged 0 dead letter(s), 0 poison record(s)" in again.output


def test_purge_of_a_shorter_age_takes_the_next_ones(staged: dict[str, dict[str, int]]) -> None:
    out = runner.invoke(cli, ["dlq", "purge", "--older-than", "28d", "--json"])
    assert out.exit_code == 0, out.output
    assert _left(DeadLetter, staged["letters"]) == {"now"}
    assert _left(PoisonMessage, staged["poison"]) == {"now"}


def test_purge_and_replay_refuse_bad_input(database_url: str) -> None:
    bad = runner.invoke(cli, ["dlq", "purge", "--older-than", "forever"])
    assert bad.exit_code == 2 and "DLQ_BAD_INPUT" in bad.output
    both = runner.invoke(cli, ["dlq", "replay"])
    assert both.exit_code == 2


def test_a_letter_left_by_nobody_is_not_invented(database_url: str) -> None:
    ghost = str(uuid.uuid4())
    out = runner.invoke(cli, ["dlq", "show", ghost, "--json"])
    assert out.exit_code == 2 and "DEAD_LETTER_NOT_FOUND" in out.output
