"""Celery configuration shared by producers (publishing) and workers (consuming).

The hardening the design brief asks for lives here, in one place: JSON only, late acks with
re-queue on worker loss, prefetch 1, explicit queues, limits below the Redis visibility timeout;
on RabbitMQ quorum queues with a delivery limit and a dead-letter exchange, publisher confirms.
What only a worker needs (its screening consumer, its transport, the beat schedule) is added by
``worker.app``; ``worker.runtime.startup_checks`` verifies the whole at worker start.
"""

from __future__ import annotations

import math
from typing import Any

from kombu import Exchange, Queue

from shared.settings import Settings


def poison_queue_name(settings: Settings) -> str:
    """Where RabbitMQ dead-letters a message delivered more than the delivery limit allows."""
    return f"{settings.dead_letter_queue}.poison"


def amqp_delivery_limit(settings: Settings) -> int:
    # Above the ledger's own counter: the executor quarantines a crash-looping job first, with
    # a record; the broker's limit is the backstop for a message that never reaches it.
    return settings.max_deliveries + 2


def task_queues(settings: Settings) -> list[Queue]:
    names = [settings.schedule_queue, settings.calendar_queue, settings.dead_letter_queue]
    if not settings.broker_is_amqp:
        return [Queue(name, Exchange(name), routing_key=name) for name in names]
    # RabbitMQ: replicated quorum queues with a delivery limit and a dead-letter exchange.
    # Topic exchanges, because Celery's native delayed delivery (retry countdowns on quorum
    # queues, held by the broker instead of by the worker) cannot route to direct ones.
    arguments = {
        "x-queue-type": "quorum",
        "x-delivery-limit": amqp_delivery_limit(settings),
        "x-dead-letter-exchange": poison_queue_name(settings),
    }
    return [
        Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments=arguments)
        for name in names
    ]


def broker_countdown(broker_url: str, seconds: float | None) -> float | None:
    """The countdown to give Celery for a delay of ``seconds``.

    RabbitMQ's native delayed delivery counts whole seconds and Celery refuses a countdown that
    truncates to 0 ("countdown must be a positive number"), so on AMQP a delay is rounded up
    to whole seconds: a retry may come up to a second late, never early.
    """
    if seconds is None or seconds <= 0 or not broker_url.startswith(("amqp://", "amqps://")):
        return seconds
    return float(max(1, math.ceil(seconds)))


def transport_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_is_amqp:
        # Publisher confirms: a publish returns once RabbitMQ has the message (a nack or a
        # lost connection raises, and the ledger row stays for the reconciler).
        return {"confirm_publish": True}
    return {"visibility_timeout": settings.visibility_timeout}


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options(settings),
        # JSON only: a pickle message is refused before any code runs.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        # The ledger holds outcomes; Celery keeps no results.
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_queues": task_queues(settings),
        "task_default_queue": settings.schedule_queue,
        "task_create_missing_queues": False,
        "task_soft_time_limit": settings.soft_time_limit,
        "task_time_limit": settings.time_limit,
        # Flower needs task events.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_max_memory_per_child": settings.worker_max_memory_per_child_kib,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # On SIGTERM give running jobs time to finish; what does not finish is re-queued.
        "worker_soft_shutdown_timeout": min(settings.soft_time_limit, 30),
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "broker_pool_limit": 10,
        # Keep reconnecting to a restarted broker instead of giving up after 100 tries.
        "broker_connection_max_retries": None,
    }
