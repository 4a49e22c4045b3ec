"""What a refused message leaves behind: a ``poison_messages`` row (fields cut at their column
sizes, exactly), and, when it named a pending job, that job dead with a dead letter."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from kombu.message import Message
from sqlalchemy import select

from producers.client import Client, JobRequest
from shared.db.reliability import DeadLetter, PoisonMessage
from shared.db.uow import UnitOfWork
from shared.settings import get_settings
from tests import probe_kinds
from tests.domain_support import apply, record
from worker.reliability import poison
from worker.runtime.consumer import record_refusal

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def _poison_rows(marker: str) -> list[PoisonMessage]:
    with UnitOfWork() as uow:
        stmt = select(PoisonMessage).where(PoisonMessage.detail == marker)
        rows = list(uow.session.scalars(stmt))
        uow.session.expunge_all()
    return rows


def _letter(job_id: str) -> DeadLetter | None:
    with UnitOfWork() as uow:
        stmt = select(DeadLetter).where(DeadLetter.job_id == uuid.UUID(job_id))
        found = uow.session.scalars(stmt)
        letter = found.one_or_none()
        uow.session.expunge_all()
    return letter


def test_a_refused_message_for_a_pending_job_makes_it_dead(uid: str) -> None:
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"pr-{uid}"})])
    body = b'{"not": "a task body"}'
    refusal = poison.Refusal("BAD_ARGUMENTS", f"marker {uid}")

    poison.record(
        get_settings(), refusal, body=body, queue="schedule", task_name="schedq.x",
        message_id=view.id, content_type="application/json",
    )  # fmt: skip

    (row,) = _poison_rows(f"marker {uid}")
    assert (row.code, row.queue, row.task_name, row.message_id) == (
        "BAD_ARGUMENTS", "schedule", "schedq.x", view.id
    )  # fmt: skip
    assert (row.job_id, row.content_type) == (uuid.UUID(view.id), "application/json")
    assert (row.size, row.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    job = Client().get_job(view.id)
    assert job.status == "dead"
    assert job.error == {
        "code": "POISON_BAD_ARGUMENTS",
        "category": "VALIDATION",
        "severity": "HIGH",
        "message": "A malformed message for this job was refused; an operator can replay the job.",
        "details": {"poison_code": "BAD_ARGUMENTS"},
    }
    assert job.attempts == 0  # the job never ran
    assert [(h["attempt"], h["outcome"], h["error_code"]) for h in job.history] == [
        (1, "dead", "POISON_BAD_ARGUMENTS")
    ]
    letter = _letter(view.id)
    assert letter is not None and letter.error_code == "POISON_BAD_ARGUMENTS"


@pytest.mark.parametrize("code", ["UNKNOWN_JOB", "MALFORMED_MESSAGE"])
def test_a_job_that_is_not_pending_or_not_named_stays_as_it_is(uid: str, code: str) -> None:
    # UNKNOWN_JOB: the ledger did not know the id when it was refused; a finished job: its
    # real message was handled long ago. Neither job changes; the refusal is still recorded.
    (queued,) = record([JobRequest("test_touch", {"doctor_id": f"pq-{uid}"})])
    done = apply("test_touch", {"doctor_id": f"pd-{uid}"})
    assert done.status == "succeeded"
    for target in (queued, done) if code == "UNKNOWN_JOB" else (done,):
        poison.record(get_settings(), poison.Refusal(code, f"keep {uid}"), message_id=target.id)
    assert Client().get_job(done.id).status == "succeeded"
    assert _letter(done.id) is None
    if code == "UNKNOWN_JOB":
        assert Client().get_job(queued.id).status == "queued"
    rows = _poison_rows(f"keep {uid}")
    assert len(rows) == (2 if code == "UNKNOWN_JOB" else 1)


@pytest.mark.parametrize("over", [0, 1])
def test_each_field_is_kept_up_to_its_column_size_exactly(uid: str, over: int) -> None:
    # Column sizes: queue, task_name, message_id 200; content_type 100; detail 500.
    detail = f"cut {uid} ".ljust(500 + over, "d")
    poison.record(
        get_settings(), poison.Refusal("UNKNOWN_TASK", detail), body="é",
        queue="q" * (200 + over), task_name="t" * (200 + over),
        message_id="m" * (200 + over), content_type="c" * (100 + over),
    )  # fmt: skip
    (row,) = _poison_rows(detail[:500])
    assert (row.queue, row.task_name, row.message_id) == ("q" * 200, "t" * 200, "m" * 200)
    assert row.content_type == "c" * 100
    assert row.job_id is None  # "mmm..." is no job id
    assert row.size == 2  # a text body is counted in UTF-8 bytes: "é" is two


def test_a_message_without_any_field_is_still_recorded(uid: str) -> None:
    poison.record(get_settings(), poison.Refusal("UNREADABLE_ENVELOPE", f"bare {uid}"))
    (row,) = _poison_rows(f"bare {uid}")
    assert (row.queue, row.task_name, row.message_id, row.content_type) == (None,) * 4
    assert (row.size, row.body_sha256) == (0, hashlib.sha256(b"").hexdigest())


def test_a_text_body_that_is_not_valid_unicode_is_still_recorded(uid: str) -> None:
    # A lone surrogate cannot be encoded as UTF-8: it is replaced, never allowed to raise.
    poison.record(get_settings(), poison.Refusal("MALFORMED_MESSAGE", f"odd {uid}"), body="\ud800")
    (row,) = _poison_rows(f"odd {uid}")
    assert (row.size, row.body_sha256) == (1, hashlib.sha256(b"?").hexdigest())


def test_the_screening_consumer_records_a_refused_message_with_its_routing_data(uid: str) -> None:
    # What the worker's screening consumer does with a message it (or Celery) refused.
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"pc-{uid}"})])
    body = b'[["not-a-uuid"], {}, {}]'
    message = Message(
        body=body,
        content_type="application/json",
        headers={"task": "schedq.schedule.test_touch", "id": view.id},
        delivery_info={"routing_key": "schedule"},
    )
    record_refusal(message, poison.Refusal("BAD_ARGUMENTS", f"consumer {uid}"))
    (row,) = _poison_rows(f"consumer {uid}")
    assert (row.code, row.queue, row.task_name, row.message_id, row.content_type) == (
        "BAD_ARGUMENTS", "schedule", "schedq.schedule.test_touch", view.id, "application/json"
    )  # fmt: skip
    assert (row.job_id, row.size) == (uuid.UUID(view.id), len(body))
    assert Client().get_job(view.id).status == "dead"
