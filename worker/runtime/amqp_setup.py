"""RabbitMQ only: declare the poison queue the quorum queues dead-letter into.

A quorum queue dead-letters a message past its delivery limit to the exchange named in its
``x-dead-letter-exchange``; without a queue bound there RabbitMQ drops it. Every worker
declares exchange and queue at start (idempotent), so a poison message is kept for an operator
(``rabbitmqadmin get queue=dead_letter.poison``) even before anything else consumed it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_ready
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


def declare_poison_queue(app: Any) -> None:
    name = poison_queue_name(get_settings())
    with app.connection_for_write() as conn:
        poison_queue(name).bind(conn.default_channel).declare()


@worker_ready.connect
def _declare(sender: Any = None, **_: Any) -> None:
    if not get_settings().broker_is_amqp or sender is None:
        return
    try:
        declare_poison_queue(sender.app)
    except Exception as exc:  # the worker still runs; poison would then be dropped, say so
        log.warning("poison queue not declared (%s): RabbitMQ drops poison", type(exc).__name__)
