"""Publishing job messages. A message is ``{job_id}`` plus routing data: never patient data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from celery import Celery, signals
from celery.events.event import Event, get_exchange
from celery.utils.nodenames import anon_nodename
from celery.utils.time import utcoffset
from kombu import Exchange, Queue

from shared.celery_config import celery_config
from shared.settings import Settings

PUBLISH_BATCH = 500

# The third element of a protocol 2 body: no callbacks, errbacks, chain or chord.
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'


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
    Without a countdown the messages are built here (see ``_publish_direct``); with one, or when
    something listens to Celery's publish signals, Celery's ``send_task`` builds them.
    """
    envelopes = list(envelopes)
    if not envelopes:
        return 0
    if countdown is None and _direct_ok(app):
        return _publish_direct(app, envelopes)
    return _publish_send_task(app, envelopes, countdown)


def _direct_ok(app: Celery) -> bool:
    conf = app.conf
    return (
        conf.task_protocol == 2
        and conf.task_serializer == "json"
        and conf.task_compression is None
        and not signals.before_task_publish.receivers
        and not signals.after_task_publish.receivers
        and not signals.task_sent.receivers
    )


@dataclass(frozen=True)
class _Options:
    """What ``send_task`` reads from the app's configuration on every call, read once."""

    retry: bool
    retry_policy: dict[str, Any]
    sent_event: bool
    events: Exchange
    event_serializer: str
    delivery_mode: Any


@lru_cache(maxsize=8)
def _options(app: Celery) -> _Options:
    conf = app.conf
    with app.connection_for_write() as conn:  # no I/O: the exchange type depends on the transport
        events = get_exchange(conn, name=conf.event_exchange)
    return _Options(
        retry=bool(conf.task_publish_retry),
        retry_policy=dict(conf.task_publish_retry_policy or {}),
        sent_event=bool(conf.task_send_sent_event),
        events=events,
        event_serializer=conf.event_serializer,
        delivery_mode=conf.task_default_delivery_mode,
    )


def _publish_direct(app: Celery, envelopes: list[Envelope]) -> int:
    """The message ``send_task(name, args=[job_id], task_id=job_id, queue=q)`` would send.

    Same Celery protocol 2 headers, body and properties, and the same ``task-sent`` event when
    ``task_send_sent_event`` is on (``tests/integration/test_broker.py`` compares the two), for
    less than half the CPU per message: the body is a string template, what does not depend on
    the job is computed once per call, and each queue and the event exchange are declared once
    per connection (kombu's ``maybe_declare`` copies the entity on every call to find that out).
    Even a single message goes through a batch: kombu's Redis transport creates a client per
    command outside one, so the message and its event cost two clients and two round trips.
    """
    opts = _options(app)
    retry, policy = opts.retry, opts.retry_policy
    origin = anon_nodename()
    pid = os.getpid()
    reply_to = app.thread_oid
    root_id = parent_id = None
    parent = app.current_worker_task  # published from a task: Celery links the two
    if parent:
        root_id = parent.request.root_id or parent.request.id
        parent_id = parent.request.id
    queues = {name: app.amqp.queues[name] for name in {env.queue for env in envelopes}}
    entities: list[Queue | Exchange] = [*queues.values()]
    if opts.sent_event:
        entities.append(opts.events)
    with app.producer_or_acquire() as producer:
        declared = producer.connection.declared_entities
        for entity in entities:
            if hash(entity) not in declared:
                producer.maybe_declare(entity, retry, **policy)
        with producer.batch(max_size=PUBLISH_BATCH):
            for env in envelopes:
                job_id = env.job_id
                argsrepr = repr([job_id])
                headers = {
                    "lang": "py",
                    "task": env.task_name,
                    "id": job_id,
                    "shadow": None,
                    "eta": None,
                    "expires": None,
                    "group": None,
                    "group_index": None,
                    "retries": 0,
                    "timelimit": [None, None],
                    "root_id": root_id or job_id,
                    "parent_id": parent_id,
                    "argsrepr": argsrepr,
                    "kwargsrepr": "{}",
                    "origin": origin,
                    "ignore_result": None,
                    "replaced_task_nesting": 0,
                    "stamped_headers": None,
                    "stamps": {},
                    # Not "correlation_id": Celery overwrites that with the AMQP property.
                    "schedq_correlation_id": env.correlation_id,
                }
                producer.publish(
                    f"[[{json.dumps(job_id)}], {{}}, {_EMBED}]",
                    exchange="",
                    routing_key=env.queue,
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers=headers,
                    delivery_mode=queues[env.queue].exchange.delivery_mode or opts.delivery_mode,
                    correlation_id=job_id,
                    reply_to=reply_to,
                    retry=retry,
                    retry_policy=policy,
                )
                if opts.sent_event:
                    producer.publish(
                        Event(
                            "task-sent",
                            hostname=origin,
                            utcoffset=utcoffset(),
                            pid=pid,
                            clock=app.clock.forward(),
                            uuid=job_id,
                            root_id=headers["root_id"],
                            parent_id=parent_id,
                            name=env.task_name,
                            args=argsrepr,
                            kwargs="{}",
                            retries=0,
                            eta=None,
                            expires=None,
                            queue=env.queue,
                            exchange="",
                            routing_key=env.queue,
                        ),
                        exchange=opts.events.name,
                        routing_key="task.sent",
                        serializer=opts.event_serializer,
                        headers={"hostname": origin},
                        delivery_mode=1,
                        retry=retry,
                        retry_policy=policy,
                    )
    return len(envelopes)


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
                task_id=env.job_id,
            )
    return len(envelopes)
