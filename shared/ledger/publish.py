"""Publishing job messages. A message is ``{job_id}`` plus routing data: never patient data.

Whoever commits ledger rows publishes their messages with :func:`publish_committed`, after the
commit and never before: a submit, a replay, the reconciler and a dead-letter notice alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from celery import Celery, signals
from celery.utils.nodenames import anon_nodename

from shared.celery_config import broker_countdown, celery_config
from shared.settings import Settings

PUBLISH_BATCH = 500
log = logging.getLogger("schedq.publish")


@dataclass(frozen=True)
class Envelope:
    job_id: str
    task_name: str
    queue: str
    correlation_id: str
    # The Celery task id; None means the job id (a job's message: Flower shows the job id).
    # Any other message about a job (a dead-letter notice) needs an id of its own, or Flower
    # would file it under the job's task.
    task_id: str | None = None

    @property
    def message_id(self) -> str:
        return self.task_id or self.job_id


@lru_cache(maxsize=4)
def producer_app(settings: Settings) -> Celery:
    """A Celery app that only publishes (no tasks imported): what producers use."""
    app = Celery("schedq-producer", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def publish_committed(settings: Settings, envelopes: Iterable[Envelope]) -> int:
    """Publish the messages of rows that are already committed; returns how many were sent.

    Call it only after the commit that holds the rows. It never raises: the rows are the truth,
    so a broker outage leaves them queued in the ledger and the reconciler sends them later.
    That is logged (ids only) and 0 is returned.
    """
    envelopes = list(envelopes)
    if not envelopes:
        return 0
    try:
        sent = publish(producer_app(settings), envelopes)
    except Exception as exc:
        log.warning(
            "%d committed job message(s) not published (%s); they stay queued in the ledger and "
            "the reconciler will publish them",
            len(envelopes),
            type(exc).__name__,
        )
        return 0
    return sent


def publish(app: Celery, envelopes: Iterable[Envelope], countdown: float | None = None) -> int:
    """Send every envelope over one broker connection; returns how many were sent.

    Publishes go through kombu's ``Producer.batch``: on Redis each batch of up to
    ``PUBLISH_BATCH`` messages is one pipelined round trip (other transports publish at once).
    Without a countdown they go through ``_publish_direct``; with one, or when something listens
    to Celery's publish signals, through ``send_task``.
    """
    envelopes = list(envelopes)
    if not envelopes:
        return 0
    if countdown is None and _direct_ok(app):
        return _publish_direct(app, envelopes)
    return _publish_send_task(app, envelopes, broker_countdown(app.conf.broker_url, countdown))


def _direct_ok(app: Celery) -> bool:
    # Celery's own path whenever more than the plain message is asked for: a result backend
    # to register the task with (schedq tasks ignore results), or receivers of the publish
    # signals. Those receivers see the same message on both paths (both end in Celery's
    # send_task_message, which fires the signals; test_broker.py): taking send_task for them
    # is caution, so they also get its per-message ``declare`` list, not the direct path's [].
    return not (
        signals.before_task_publish.receivers
        or signals.after_task_publish.receivers
        or signals.task_sent.receivers
        or app.conf.result_backend
    )


def _publish_direct(app: Celery, envelopes: list[Envelope]) -> int:
    """What ``send_task(name, args=[job_id], task_id=job_id, queue=q)`` sends, for less CPU.

    Celery builds the message and sends it (``app.amqp.create_task_message`` and
    ``send_task_message``, the two steps of ``send_task``); what ``send_task`` works out again
    for every message (routing, option merging, the queue's declaration, which kombu checks by
    copying the entity) is done once per call here. ``tests/integration/test_broker.py``
    checks the message and its ``task-sent`` event equal what ``send_task`` sends.
    """
    amqp = app.amqp
    sent_event = bool(app.conf.task_send_sent_event)
    reply_to = app.thread_oid
    origin = anon_nodename()
    root_id = parent_id = None
    parent = app.current_worker_task  # published from a task: Celery links the two
    if parent:
        root_id = parent.request.root_id or parent.request.id
        parent_id = parent.request.id
    with app.producer_or_acquire() as producer:
        queues = {name: amqp.queues[name] for name in {env.queue for env in envelopes}}
        for queue in queues.values():
            # With the publish retry settings, as send_task declares: a pooled connection the
            # broker closed (a RabbitMQ restart) is reconnected here. Without them the first
            # declaration on a dead connection raised, and the jobs waited for the reconciler.
            producer.maybe_declare(
                queue, retry=bool(app.conf.task_publish_retry), **_retry_policy(app)
            )
        with producer.batch(max_size=PUBLISH_BATCH):
            for env in envelopes:
                message = amqp.create_task_message(
                    env.message_id,
                    env.task_name,
                    [env.job_id],
                    {},
                    reply_to=reply_to,
                    create_sent_event=sent_event,
                    root_id=root_id,
                    parent_id=parent_id,
                    origin=origin,
                    argsrepr=repr([env.job_id]),
                    kwargsrepr="{}",
                    ignore_result=None,  # as send_task: the worker's task decides
                )
                amqp.send_task_message(
                    producer,
                    env.task_name,
                    message,
                    queue=queues[env.queue],
                    routing_key=env.queue,
                    declare=[],  # declared above, once per call
                    # Not "correlation_id": Celery overwrites that with the AMQP property.
                    headers={"schedq_correlation_id": env.correlation_id},
                )
    return len(envelopes)


def _retry_policy(app: Celery) -> dict[str, Any]:
    return dict(app.conf.task_publish_retry_policy or {})


def _publish_send_task(app: Celery, envelopes: list[Envelope], countdown: float | None) -> int:
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
                task_id=env.message_id,
            )
    return len(envelopes)
