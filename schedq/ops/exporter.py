"""``schedq exporter``: gauges that need a global view, computed at each Prometheus scrape.

One process for the whole system (workers export their own counters). Every family is built
fresh per scrape from the broker, the ledger and the worker pings, so nothing goes stale, and a
source that cannot be read shows as ``schedq_exporter_source_up{source} 0`` instead of old data.
Labels are queue names, ledger statuses and provider hosts: bounded, never patient data.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from shared import breaker_keys
from shared.db.base import get_engine
from shared.db.jobs import JOB_STATUSES
from shared.ledger.publish import producer_app
from shared.settings import Settings

log = logging.getLogger("schedq.exporter")

# kombu's Redis transport keeps priority levels in sibling lists: "<queue>\x06\x16<step>".
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = ("", "3", "6", "9")
BREAKER_STATES = {"closed": 0.0, "half-open": 1.0, "half_open": 1.0, "open": 2.0}

_DUE_AGE = text(
    """
    SELECT queue, EXTRACT(EPOCH FROM now() - min(coalesce(next_attempt_at, created_at)))
    FROM jobs
    WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    GROUP BY queue
    """
)

# Jobs held back by per-doctor order: pending, with an earlier pending job of the same order key
# (a doctor's booking stuck behind a failing calendar sync). The age is since submit: how long
# the producer has waited. Labels are queues only; the doctor (order key) never leaves the ledger.
_BLOCKED = text(
    """
    SELECT j.queue, EXTRACT(EPOCH FROM now() - min(j.created_at)), count(DISTINCT j.order_key)
    FROM jobs j
    WHERE j.status IN ('queued', 'running') AND j.order_key IS NOT NULL
      AND EXISTS (
          SELECT 1 FROM jobs e
          WHERE e.order_key = j.order_key AND e.seq < j.seq AND e.status IN ('queued', 'running')
      )
    GROUP BY j.queue
    """
)


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


class GlobalCollector(Collector):
    def __init__(self, settings: Settings, ping_timeout: float = 1.0) -> None:
        self.settings = settings
        self.ping_timeout = ping_timeout
        self.queues = [settings.schedule_queue, settings.calendar_queue, settings.dead_letter_queue]

    def collect(self) -> Iterator[Metric]:
        up = _gauge(
            "schedq_exporter_source_up", "1 if the source was read at this scrape.", ["source"]
        )
        sources: list[tuple[str, Callable[[], list[Metric]]]] = [
            ("broker", self._broker),
            ("ledger", self._ledger),
            ("breakers", self._breakers),
            ("workers", self._workers),
        ]
        broker_down = False
        for source, read in sources:
            try:
                if broker_down and source != "ledger":
                    raise RuntimeError("broker unreachable")
                families = read()
            except Exception as exc:
                log.warning("exporter could not read %s: %s", source, exc)
                up.add_metric([source], 0.0)
                broker_down = broker_down or source == "broker"
                continue
            up.add_metric([source], 1.0)
            yield from families
        yield up

    @contextmanager
    def _redis(self) -> Iterator[Any]:
        with producer_app(self.settings).connection_for_read() as conn:
            # Fail within seconds: Celery's default is to retry the broker 100 times.
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            channel = conn.default_channel
            if not hasattr(channel, "client"):
                raise RuntimeError("broker is not Redis: queue depth needs a Redis broker")
            yield channel.client

    def _broker(self) -> list[Metric]:
        if self.settings.broker_is_amqp:
            return self._amqp_depths()
        with self._redis() as client:
            return self._depths(client)

    def _amqp_depths(self) -> list[Metric]:
        """RabbitMQ: ready messages per queue from a passive declare (unacked: its own metrics)."""
        depth = _gauge("schedq_queue_depth", "Messages waiting in the broker queue.", ["queue"])
        with producer_app(self.settings).connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            for queue in self.queues:
                channel = conn.channel()  # a passive declare of a missing queue closes it
                try:
                    _, ready, _ = channel.queue_declare(queue=queue, passive=True)
                except Exception:
                    ready = 0  # not declared yet: nothing was ever sent to it
                finally:
                    with contextlib.suppress(Exception):
                        channel.close()
                depth.add_metric([queue], float(ready))
        return [depth]

    def _depths(self, client: Any) -> list[Metric]:
        depth = _gauge("schedq_queue_depth", "Messages waiting in the broker queue.", ["queue"])
        for queue in self.queues:
            keys = [queue + (_PRIORITY_SEP + step if step else "") for step in _PRIORITY_STEPS]
            depth.add_metric([queue], float(sum(client.llen(k) for k in keys)))
        # celery-exporter's name and label for the same figure, for dashboards built on it.
        length = _gauge("celery_queue_length", "Messages waiting in the queue.", ["queue_name"])
        for sample in depth.samples:
            length.add_metric([sample.labels["queue"]], sample.value)
        unacked = _gauge(
            "schedq_broker_unacked_messages",
            "Messages held by workers (running, or waiting for a retry countdown).",
        )
        unacked.add_metric([], float(client.hlen("unacked")))
        return [depth, length, unacked]

    def _ledger(self) -> list[Metric]:
        with get_engine(self.settings.database_url).connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
            )
            ages: dict[str, float | None] = dict(conn.execute(_DUE_AGE).all())
            blocked = {q: (float(age or 0), int(keys)) for q, age, keys in conn.execute(_BLOCKED)}
        by_status = _gauge("schedq_ledger_jobs", "Jobs in the ledger by status.", ["status"])
        for status in JOB_STATUSES:
            by_status.add_metric([status], float(counts.get(status, 0)))
        dead = _gauge("schedq_dead_letter_depth", "Dead jobs waiting for an operator.")
        dead.add_metric([], float(counts.get("dead", 0)))
        oldest = _gauge(
            "schedq_oldest_queued_job_age_seconds",
            "How long the oldest due, still queued job has waited (0 when none).",
            ["queue"],
        )
        for queue in self.queues:
            oldest.add_metric([queue], max(0.0, float(ages.get(queue) or 0)))
        blocked_age = _gauge(
            "schedq_blocked_job_age_seconds",
            "Age (since submit) of the oldest job waiting behind an earlier pending job of the "
            "same doctor (order key); 0 when none.",
            ["queue"],
        )
        blocked_keys = _gauge(
            "schedq_blocked_order_keys",
            "Doctors (order keys) with a job waiting behind an earlier pending one.",
            ["queue"],
        )
        for queue in self.queues:
            age, keys = blocked.get(queue, (0.0, 0))
            blocked_age.add_metric([queue], max(0.0, age))
            blocked_keys.add_metric([queue], float(keys))
        return [by_status, dead, oldest, blocked_age, blocked_keys]

    def _breakers(self) -> list[Metric]:
        url = self.settings.state_redis_url
        if self.settings.broker_is_amqp:
            if url is None:
                raise RuntimeError("no SCHEDQ_REDIS_URL: breaker state is per process")
            with contextlib.closing(redis.Redis.from_url(url, socket_timeout=2)) as client:
                return [self._breaker_states(client)]
        with self._redis() as client:
            return [self._breaker_states(client)]

    def _breaker_states(self, client: Any) -> Metric:
        state = _gauge(
            "schedq_breaker_state",
            "Circuit breaker per calendar provider: 0 closed, 1 half-open, 2 open.",
            ["provider"],
        )
        for key in client.scan_iter(match=breaker_keys.state_key_pattern(), count=200):
            name = key.decode() if isinstance(key, bytes) else str(key)
            provider = breaker_keys.provider_of(name)
            raw = client.get(key)
            value = raw.decode() if isinstance(raw, bytes) else str(raw)
            if value in BREAKER_STATES:
                state.add_metric([provider], BREAKER_STATES[value])
        return state

    def _workers(self) -> list[Metric]:
        inspect = producer_app(self.settings).control.inspect(timeout=self.ping_timeout)
        replies: dict[str, list[dict[str, Any]]] = inspect.active_queues() or {}
        up = _gauge("schedq_workers_up", "Worker nodes answering, by queue consumed.", ["queue"])
        for queue in self.queues:
            nodes = sum(1 for qs in replies.values() if any(q.get("name") == queue for q in qs))
            up.add_metric([queue], float(nodes))
        total = _gauge("schedq_worker_nodes_up", "Worker nodes answering a broadcast.")
        total.add_metric([], float(len(replies)))
        # celery-exporter's worker_up: one series per answering node (hostnames are the
        # operator's node names, bounded by the deployment). A node that stops answering drops
        # out; alert on schedq_workers_up, which reports 0.
        node_up = _gauge("celery_worker_up", "1 for each worker node answering.", ["hostname"])
        for hostname in sorted(replies):
            node_up.add_metric([hostname], 1.0)
        return [up, total, node_up]


def serve(settings: Settings, port: int, address: str) -> None:
    registry = CollectorRegistry()
    registry.register(GlobalCollector(settings))
    start_http_server(port, addr=address, registry=registry)
    log.info("exporter on http://%s:%s/metrics", address, port)
    while True:
        time.sleep(3600)
