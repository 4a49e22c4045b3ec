"""RabbitMQ only: declare every queue of the deployment, and the poison queue, at worker start.

- Celery's native delayed delivery (retry countdowns) binds *every* configured queue to its
  delay exchanges when the consumer starts, and gives up on all of them if one queue's exchange
  does not exist yet. A calendar-only worker started before any schedule worker hit that, and
  its retries were lost to the reconciler. So every worker declares every configured queue
  (with its exchange; idempotent) before its consumer starts: ``worker_init``.
- A quorum queue dead-letters a message past its delivery limit to the exchange named in its
  ``x-dead-letter-exchange``; without a queue bound there RabbitMQ drops it. The poison queue is
  declared with the rest, so a poison message is kept for an operator
  (``rabbitmqadmin get queue=dead_letter.poison``) even before anything else consumed it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_init
from kombu import Exchange, Queue

from shared.celery_config import poison_queue_name
from shared.settings import get_settings

log = logging.getLogger("schedq.worker")


def poison_queue(name: str) -> Queue:
    return Queue(
        name,
        Exchange(name, type="fanout"),
        routing_key=name,
        queue_arguments={"x-queue-type": "quorum"},
    )


def declare_queues(app: Any) -> None:
    """Every configured task queue (consumed here or not) and the poison queue."""
    name = poison_queue_name(get_settings())
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in app.amqp.queues.values():
            queue.bind(channel).declare()
        poison_queue(name).bind(channel).declare()


@worker_init.connect
def _declare(sender: Any = None, **_: Any) -> None:
    if not get_settings().broker_is_amqp or sender is None:
        return
    try:
        declare_queues(sender.app)
    except Exception as exc:  # the worker still runs; say what that costs
        log.warning(
            "queues not declared at start (%s): delayed retries may fall back to the reconciler"
            " and RabbitMQ drops poison",
            type(exc).__name__,
        )
