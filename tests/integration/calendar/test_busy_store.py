"""Stored busy time always ends equal to the imported set, and a repeat writes nothing."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.db.uow import UnitOfWork
from tests.calendar_support import busy, make_doctor, run
from worker.calendar import busy_store

pytestmark = pytest.mark.usefixtures("database_url")
BASE = datetime(2026, 12, 1, tzinfo=UTC)

rows = st.dictionaries(
    keys=st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["", "r1", "r2"])),
    values=st.tuples(st.integers(0, 50), st.integers(1, 5), st.sampled_from([None, "/x.ics"])),
    max_size=8,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sets=st.lists(rows, min_size=1, max_size=4))
def test_apply_converges_and_is_idempotent(sets: list[dict], uid: str) -> None:
    doctor = make_doctor(f"bs-{uid}-{secrets.token_hex(4)}")  # examples may repeat
    url = "http://127.0.0.1:9/x.ics"
    link_id = run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})["link_id"]
    for raw in sets:
        desired = {
            key: (BASE + timedelta(hours=h), BASE + timedelta(hours=h + d), href)
            for key, (h, d, href) in raw.items()
        }
        with UnitOfWork() as uow:
            busy_store.apply(uow, uuid.UUID(link_id), desired)
            uow.commit()
        assert {(u, r): (s, e) for u, r, s, e in busy(link_id)} == {
            k: v[:2] for k, v in desired.items()
        }
        with UnitOfWork() as uow:
            assert busy_store.apply(uow, uuid.UUID(link_id), desired).total == 0
