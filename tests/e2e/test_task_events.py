"""Task events reach Flower's side complete and in batches (``worker.runtime.task_events``).

A real worker node drains a batch of jobs while Celery's own event receiver listens on the
broker, as Flower does. Every job's received, started and succeeded events must arrive, in
that order, and they must arrive many to a message: the worker's main process publishes one
message per flush, not one per loop turn.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from producers.client import Client, JobRequest
from shared.ledger.publish import producer_app
from shared.settings import Settings, get_settings
from tests.conftest import run_queue, wait_until
from tests.e2e.test_spine import plan
from tests.workers import WorkerProcess

pytestmark = pytest.mark.e2e
JOBS = 30


class Listener:
    """Celery's event receiver on a thread, counting the messages that carried task events."""

    def __init__(self) -> None:
        self.app = producer_app(get_settings())
        self.events: dict[str, list[str]] = defaultdict(list)
        self.task_messages = 0
        self.task_events = 0
        self.ready = threading.Event()
        self.receiver: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.app.connection_for_read() as conn:
            receiver = self.app.events.Receiver(conn, handlers={"*": self._on_event})
            unpack = receiver._receive

            def count(body: Any, message: Any) -> None:
                batch = body if isinstance(body, list) else [body]
                # task-sent comes from the producer; received/started/succeeded from the worker.
                tasks = [
                    e
                    for e in batch
                    if str(e.get("type", "")).startswith("task-") and e["type"] != "task-sent"
                ]
                if tasks:
                    self.task_messages += 1
                    self.task_events += len(tasks)
                unpack(body, message)

            receiver._receive = count  # type: ignore[method-assign]
            receiver.on_iteration = self.ready.set  # type: ignore[method-assign]
            self.receiver = receiver
            for _ in receiver.consume(limit=None, safety_interval=0.2):
                pass

    def _on_event(self, event: dict[str, Any]) -> None:
        if str(event.get("type", "")).startswith("task-"):
            self.events[event["uuid"]].append(event["type"])


@pytest.fixture()
def listener() -> Iterator[Listener]:
    found = Listener()
    found.thread.start()
    assert found.ready.wait(10), "the event receiver did not start"
    yield found
    found.receiver.should_stop = True
    found.thread.join(10)


def test_every_task_state_arrives_and_events_travel_in_batches(
    database_url: str, redis_url: str, tmp_path: Any, listener: Listener, uid: str
) -> None:
    queue = run_queue(f"events-{uuid.uuid4().hex[:8]}")
    client = Client(Settings(schedule_queue=queue), submitter="events-e2e")
    # Queued before the node starts, so it drains them back to back.
    views = client.submit_many(
        [JobRequest("set_working_plan", plan(f"ev-{uid}-{i}")) for i in range(JOBS)]
    )
    env = {"SCHEDQ_SCHEDULE_QUEUE": queue}
    node = WorkerProcess(tmp_path, "events", queues=queue, concurrency=2, env=env)
    try:
        node.wait_ready()
        for view in views:
            assert client.wait(view.id, timeout=60).status == "succeeded", node.log()
        ids = [v.id for v in views]
        assert wait_until(
            lambda: all("task-succeeded" in listener.events[i] for i in ids), timeout=20
        ), node.log()
    finally:
        node.stop()

    for job_id in ids:
        assert listener.events[job_id] == [
            "task-sent",
            "task-received",
            "task-started",
            "task-succeeded",
        ]
    # Celery's own flush sends a message per loop turn, about one event each; batched, the
    # worker's 90 events of these back-to-back jobs travel in a handful of messages.
    assert listener.task_events >= 3 * JOBS
    assert listener.task_events / listener.task_messages >= 6, (
        listener.task_events,
        listener.task_messages,
    )
