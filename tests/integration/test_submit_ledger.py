"""What ``submit_jobs`` stores: the canonical payload and its hash (persisted, so its form is
fixed), column-sized fields, idempotent resubmission regardless of key order, and its errors."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from sqlalchemy import select

from producers.client import Client, JobRequest
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.ledger.submit import payload_hash
from tests.e2e.test_spine import plan

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def test_the_payload_hash_is_sha256_of_the_canonical_kind_and_payload() -> None:
    # Sorted keys, no spaces, ASCII escapes: idempotency keys of stored jobs depend on this form.
    canonical = '{"kind":"set_working_plan","payload":{"a":null,"b":[1,{"x":"\\u00e9","y":2}]}}'
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert payload_hash("set_working_plan", {"b": [1, {"y": 2, "x": "é"}], "a": None}) == expected


def _row(job_id: str) -> Job:
    with UnitOfWork() as uow:
        job = uow.session.scalars(select(Job).where(Job.id == uuid.UUID(job_id))).one()
        uow.session.expunge_all()
    return job


def test_the_stored_row_holds_the_canonical_payload_and_its_hash(uid: str) -> None:
    payload = plan(f"sl-{uid}")
    view = Client(submitter="tests").submit("set_working_plan", payload)
    assert view.history == [] and view.status == "queued" and view.attempts == 0
    row = _row(view.id)
    assert row.payload_hash == payload_hash("set_working_plan", row.payload)
    assert row.order_key == f"sl-{uid}"


def test_a_resubmission_with_keys_in_another_order_is_the_same_job(uid: str) -> None:
    client = Client(submitter="tests")
    payload = plan(f"ko-{uid}")
    first = client.submit("set_working_plan", payload, idempotency_key=f"ko-{uid}")
    # The same plan, every mapping's keys reversed (as another JSON library may send them).
    def reversed_keys(value: object) -> object:
        if isinstance(value, dict):
            return {k: reversed_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(v) for v in value]
        return value

    again = reversed_keys(json.loads(json.dumps(payload)))
    assert isinstance(again, dict) and list(again) != list(payload)
    second = client.submit("set_working_plan", again, idempotency_key=f"ko-{uid}")
    assert second.id == first.id


def test_a_reused_key_with_another_payload_names_the_key(uid: str) -> None:
    client = Client(submitter="tests")
    client.submit("set_working_plan", plan(f"kc-{uid}"), idempotency_key=f"kc-{uid}")
    with pytest.raises(SchedqError) as caught:
        other = plan(f"kc-{uid}", end="11:00")
        client.submit("set_working_plan", other, idempotency_key=f"kc-{uid}")
    assert caught.value.code == "IDEMPOTENCY_CONFLICT"
    assert caught.value.details == {"idempotency_key": f"kc-{uid}"}


def test_a_payload_that_is_not_an_object_is_refused_before_anything_is_written() -> None:
    with pytest.raises(SchedqError) as caught:
        Client().submit_many([JobRequest("set_working_plan", ["not", "an", "object"])])
    assert caught.value.code == "VALIDATION_FAILED"
    assert caught.value.details["violations"] == [
        {"code": "PAYLOAD_NOT_OBJECT", "path": "$", "message": "The payload must be a JSON object."}
    ]


@pytest.mark.parametrize("extra", [0, 1, 50])
def test_correlation_id_and_submitter_are_kept_up_to_100_characters(uid: str, extra: int) -> None:
    correlation = f"c-{uid}-".ljust(100 + extra, "c")
    submitter = f"s-{uid}-".ljust(100 + extra, "s")
    view = Client(submitter=submitter).submit(
        "set_working_plan", plan(f"cs-{uid}"), correlation_id=correlation
    )
    assert (view.correlation_id, view.submitter) == (correlation[:100], submitter[:100])
    row = _row(view.id)
    assert (row.correlation_id, row.submitter) == (correlation[:100], submitter[:100])
