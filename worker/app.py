"""The Celery application that workers and beat run: ``celery -A worker.app worker``.

Its configuration is ``worker.runtime.config.worker_config``; it registers one task per job kind,
the reconciler, the retention purge and (through the beat schedule) the calendar tick, then
checks it is safe to run.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import celeryd_init, worker_process_init

from shared.db.base import dispose_engines
from shared.kinds import KINDS
from shared.settings import get_settings
from worker.beat_schedule import RECONCILE_TASK, RETENTION_TASK
from worker.pipeline.task import register_job_task
from worker.reliability import reconciler, retention
from worker.runtime import (
    amqp_setup,
    connection_budget,
    log_hooks,
    metrics_hooks,
    startup_checks,
)
from worker.runtime.config import worker_config
from worker.runtime.task_events import BatchedTaskEvents

settings = get_settings()
app = Celery("schedq")
app.conf.update(worker_config(settings))

# Signal receivers: JSON logs with job context, Prometheus metrics, the connection budget
# warning at worker start, RabbitMQ's poison queue (imported for their effect).
_HOOKS = (log_hooks, metrics_hooks, connection_budget, amqp_setup)
TASKS = {name: register_job_task(app, kind) for name, kind in KINDS.items()}
RECONCILE = app.task(name=RECONCILE_TASK, ignore_result=True)(reconciler.run)
RETENTION = app.task(name=RETENTION_TASK, ignore_result=True)(retention.run)
# Task events reach Flower in batches (worker.runtime.task_events): the cheaper way to keep
# every task's state visible.
app.steps["consumer"].add(BatchedTaskEvents)
# The calendar tick is a shared_task, registered on this app by worker.beat_schedule's import.


# Checked at import, not in a signal handler: Celery logs and swallows exceptions raised by
# signal receivers, so a worker would start anyway. Every worker and beat imports this module.
startup_checks.exit_if_unsafe(app.conf, settings)


@celeryd_init.connect
def _refuse_pools_without_time_limits(conf: Any, options: dict[str, Any], **_: Any) -> None:
    # The pool is known only once a worker starts (-P on its command line). SystemExit is not
    # swallowed by Celery's signal dispatch (it catches Exception), so the worker stops here.
    pool = options.get("pool_cls") or options.get("pool")
    startup_checks.exit_if_unsafe(conf, settings, pool=pool)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool child must open its own database connections.
    dispose_engines()
