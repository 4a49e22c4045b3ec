"""Publishing job messages. A message is ``{job_id}`` plus routing data: never patient data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from celery import Celery

from shared.celery_config import celery_config
from shared.settings import Settings

PUBLISH_BATCH = 500


@dataclass(frozen=True)
class Envelope:
    job_id: str
    task_name: str
    queue: str
    correlation_id: str


@lru_cache(maxsize=4)
def producer_app(settings: Settings) -> Celery:
    """A Celery app that only publishes (no tasks imported): what producers use."""
    app = Celery("schedq-producer", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def publish(app: Celery, envelopes: Iterable[Envelope], countdown: float | None = None) -> int:
    """Send every envelope over one broker connection; returns how many were sent.

    Publishes go through kombu's ``Producer.batch``: on Redis each batch of up to
    ``PUBLISH_BATCH`` messages is one pipelined round trip (other transports publish at once).
    """
    sent = 0
    with app.producer_or_acquire() as producer, producer.batch(max_size=PUBLISH_BATCH):
        for env in envelopes:
            app.send_task(
                env.task_name,
                args=[env.job_id],
                queue=env.queue,
                routing_key=env.queue,
                producer=producer,
                countdown=countdown,
                # Not "correlation_id": Celery overwrites that with the AMQP property (task id).
                headers={"schedq_correlation_id": env.correlation_id},
                # The ledger id doubles as the Celery task id: Flower shows the job id.
                task_id=env.job_id,
            )
            sent += 1
    return sent
