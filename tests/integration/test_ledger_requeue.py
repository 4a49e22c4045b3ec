"""``delivery.requeue``: when the next delivery is due is an instant, whatever the host's zone."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from producers.client import JobRequest
from shared.db.uow import UnitOfWork
from shared.ledger import delivery
from tests import probe_kinds
from tests.domain_support import record

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url", "host_twelve_hours_west")


def test_the_next_attempt_is_due_one_delay_from_now_on_a_host_far_from_utc(uid: str) -> None:
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"rq-{uid}"})])
    job_id = uuid.UUID(view.id)
    with UnitOfWork() as uow:
        now = "SELECT clock_timestamp()"
        before = uow.sql(now).scalar()
        due = delivery.requeue(uow, job_id, 3600, count_attempt=False)
        after = uow.sql(now).scalar()
        stored = uow.sql(
            "SELECT next_attempt_at FROM jobs WHERE id = %(id)s", {"id": job_id}
        ).scalar()
        uow.commit()
    hour = timedelta(hours=1)
    # A local wall-clock time would be 12 hours early here (and naive, not comparable).
    assert before + hour <= stored <= after + hour
    assert due == stored
