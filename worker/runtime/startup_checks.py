"""Refuse to start a worker whose Celery settings could lose, duplicate or loop jobs, or leave a
job without an enforced deadline."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from shared.crypto import require_keys
from shared.settings import Settings
from worker.runtime.config import SCREENING_CONSUMER


class UnsafeConfig(RuntimeError):
    pass


# Pools in which Celery enforces task_time_limit / task_soft_time_limit: only prefork (the
# parent kills or signals the child). threads, eventlet, gevent and solo ignore both, so a job
# stuck in a provider call or a lock would never be stopped.
TIME_LIMITED_POOLS = frozenset({"prefork", "processes"})


def pool_name(pool: object) -> str:
    """'threads' for ``-P threads`` and for celery.concurrency.thread.TaskPool alike."""
    if pool is None:
        return "prefork"
    if isinstance(pool, str):
        return pool.rsplit(":", 1)[0].rsplit(".", 1)[-1].lower()
    module = getattr(pool, "__module__", "")
    return {"thread": "threads"}.get(module.rsplit(".", 1)[-1], module.rsplit(".", 1)[-1])


def problems(conf: Mapping[str, Any], settings: Settings, pool: object = None) -> list[str]:
    out: list[str] = []
    name = pool_name(pool if pool is not None else conf.get("worker_pool"))
    if name not in TIME_LIMITED_POOLS:
        out.append(
            f"the {name} pool enforces no time limit (SCHEDQ_TIME_LIMIT); run workers with"
            " --pool prefork so every job has a deadline"
        )
    if conf.get("task_serializer") != "json" or set(conf.get("accept_content") or ()) != {"json"}:
        out.append("only JSON may be accepted (pickle would run code from the broker)")
    if not conf.get("task_acks_late") or not conf.get("task_reject_on_worker_lost"):
        out.append("task_acks_late and task_reject_on_worker_lost must both be on")
    if conf.get("worker_prefetch_multiplier") != 1:
        out.append("worker_prefetch_multiplier must be 1")
    soft, hard = conf.get("task_soft_time_limit"), conf.get("task_time_limit")
    if not soft or not hard or soft >= hard:
        out.append("task_soft_time_limit must be set and below task_time_limit")
    if settings.broker_is_amqp:
        out += _amqp_problems(conf, settings, float(hard or 0))
    else:
        out += _redis_problems(conf, settings, float(hard or 0))
    if not conf.get("worker_max_memory_per_child"):
        out.append("worker_max_memory_per_child must be set")
    if conf.get("worker_consumer") != SCREENING_CONSUMER:
        out.append(f"worker_consumer must be {SCREENING_CONSUMER} (poison messages are screened)")
    if not conf.get("worker_send_task_events"):
        out.append("task events must be on (Flower needs them)")
    out += require_keys(settings.env, settings.encryption_keys)
    return out


def check(conf: Mapping[str, Any], settings: Settings, pool: object = None) -> None:
    found = problems(conf, settings, pool)
    if found:
        raise UnsafeConfig("unsafe worker configuration: " + "; ".join(found))


def exit_if_unsafe(conf: Mapping[str, Any], settings: Settings, pool: object = None) -> None:
    """Stop the process with one line per problem and exit code 2."""
    found = problems(conf, settings, pool)
    for problem in found:
        print(f"schedq: unsafe worker configuration: {problem}", file=sys.stderr)
    if found:
        raise SystemExit(2)


def _redis_problems(conf: Mapping[str, Any], settings: Settings, hard: float) -> list[str]:
    vt = (conf.get("broker_transport_options") or {}).get("visibility_timeout")
    if not vt:
        return ["broker visibility_timeout must be set"]
    # A countdown/ETA or a run longer than the visibility timeout makes Redis redeliver a
    # message that is still held: the job would run twice.
    delays = {
        "SCHEDQ_TIME_LIMIT": hard,
        "SCHEDQ_RETRY_BACKOFF_CAP": settings.retry_backoff_cap,
        "SCHEDQ_ORDER_WAIT_SECONDS": settings.order_wait_seconds,
        "SCHEDQ_RECONCILE_AFTER_SECONDS": float(settings.reconcile_after_seconds),
    }
    return [
        f"{name} ({seconds:g}s) must be below SCHEDQ_VISIBILITY_TIMEOUT ({vt}s)"
        for name, seconds in delays.items()
        if seconds >= vt
    ]


def _amqp_problems(conf: Mapping[str, Any], settings: Settings, hard: float) -> list[str]:
    out: list[str] = []
    # RabbitMQ closes the channel of a consumer that holds a message unacked past
    # consumer_timeout and redelivers it: a run up to the hard limit must finish before that.
    # Retry countdowns are not held by the worker on quorum queues (native delayed delivery).
    timeout = settings.amqp_consumer_timeout_seconds
    if hard >= timeout:
        out.append(
            f"SCHEDQ_TIME_LIMIT ({hard:g}s) must be below SCHEDQ_AMQP_CONSUMER_TIMEOUT_SECONDS "
            f"({timeout}s, RabbitMQ's consumer_timeout)"
        )
    if not (conf.get("broker_transport_options") or {}).get("confirm_publish"):
        out.append("publisher confirms (broker_transport_options confirm_publish) must be on")
    for queue in conf.get("task_queues") or ():
        args = getattr(queue, "queue_arguments", None) or {}
        if args.get("x-queue-type") != "quorum" or not args.get("x-delivery-limit"):
            out.append(f"queue {queue.name} must be a quorum queue with a delivery limit")
    return out
