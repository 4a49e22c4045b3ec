"""A job's message is never in the broker before its ledger row is committed: for one job
(``submit``) and for a batch (``submit_many``).

The commit is held open deterministically: a deferred constraint trigger (test-only, on this
test's own queue) makes the producer's COMMIT wait for an advisory lock the test holds on a
second connection. While PostgreSQL reports the producer waiting there, the row is not yet
committed, so the queue must still be empty; once the lock is released, every message arrives
and its row is visible from another connection.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import redis as redis_lib

from producers.client import Client, JobRequest, JobView
from shared.settings import Settings, get_settings
from tests import pg_locks, probe_kinds
from tests.conftest import DB_URL

probe_kinds.install()

_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION schedq_test_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.queue = TG_ARGV[0] THEN
        PERFORM pg_advisory_xact_lock_shared(TG_ARGV[1]::bigint);
    END IF;
    RETURN NULL;
END $$
"""


@pytest.fixture
def held_commit(database_url: str, redis_url: str) -> Iterator[tuple[Settings, int]]:
    """Settings with a queue of this test's own, and the lock key its commits wait for."""
    queue = f"commit-{secrets.token_hex(4)}"
    key = secrets.randbits(62)
    trigger = f"hold_commit_{queue.replace('-', '_')}"
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute(_TRIGGER_FUNCTION)
        conn.execute(
            f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON jobs "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION schedq_test_hold_commit('{queue}', '{key}')"
        )
    try:
        yield get_settings().model_copy(update={"schedule_queue": queue}), key
    finally:
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            conn.execute(f"DROP TRIGGER {trigger} ON jobs")
        redis_lib.Redis.from_url(redis_url).delete(queue)


def _queued_ids(settings: Settings) -> list[str]:
    broker = redis_lib.Redis.from_url(settings.broker_url)
    return [json.loads(m)["headers"]["id"] for m in broker.lrange(settings.schedule_queue, 0, -1)]


def _committed(ids: list[str]) -> set[str]:
    """Rows another connection can see: only committed ones."""
    with psycopg.connect(DB_URL) as conn:
        rows = conn.execute("SELECT id::text FROM jobs WHERE id = ANY(%s::uuid[])", [ids])
        return {r[0] for r in rows}


@pytest.mark.parametrize("batch", [1, 3], ids=["submit", "submit_many"])
def test_message_is_published_only_after_the_row_commits(
    held_commit: tuple[Settings, int], uid: str, batch: int
) -> None:
    settings, key = held_commit
    client = Client(settings, submitter="tests")
    requests = [JobRequest("test_touch", {"doctor_id": f"pc-{uid}-{n}"}) for n in range(batch)]

    def submit() -> list[JobView]:
        if batch == 1:
            r = requests[0]
            return [client.submit(r.kind, dict(r.payload))]
        return client.submit_many(requests)

    # The pool is left last: on a failed assertion the holder's connection closes first, which
    # releases the lock, so the producer thread can finish and the pool can join it.
    with ThreadPoolExecutor(1) as pool, pg_locks.holder() as held:
        held.execute("SELECT pg_advisory_lock(%s)", [key])
        submitted = pool.submit(submit)
        pg_locks.wait_blocked(held, 1)  # the producer is inside its COMMIT, waiting for us
        # The rows are written but not committed: nothing may have reached the broker yet.
        assert _queued_ids(settings) == []
        held.execute("SELECT pg_advisory_unlock(%s)", [key])
        views = submitted.result(timeout=60)

    ids = [v.id for v in views]
    assert len(ids) == batch
    assert sorted(_queued_ids(settings)) == sorted(ids)
    assert _committed(ids) == set(ids)
