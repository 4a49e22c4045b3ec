"""The Celery application that workers run: ``celery -A worker.app worker``."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from shared.celery_config import RECONCILE_TASK, celery_config
from shared.db.base import dispose_engines
from shared.jobs import KINDS
from shared.settings import get_settings
from worker import log_hooks, metrics_hooks, reconciler, startup_checks, test_hooks
from worker.beat_schedule import BEAT_SCHEDULE
from worker.tasks.base import register_job_task

settings = get_settings()
app = Celery("schedq")
app.conf.update(celery_config(settings))
if settings.broker_url.startswith("redis://"):
    # Survives queue items that are not kombu envelopes (see worker.transport).
    app.conf.broker_transport = "worker.transport:Transport"
if settings.test_hooks and settings.env != "production":  # test-only kinds
    test_hooks.enable()

# Signal receivers: JSON logs with job context, Prometheus metrics (imported for their effect).
_HOOKS = (log_hooks, metrics_hooks)
TASKS = {name: register_job_task(app, kind) for name, kind in KINDS.items()}
# The reconciler's entry comes from celery_config; calendar sync adds its periodic tick.
app.conf.beat_schedule = {**app.conf.beat_schedule, **BEAT_SCHEDULE}
RECONCILE = app.task(name=RECONCILE_TASK, ignore_result=True)(reconciler.run)


# Checked at import, not in a signal handler: Celery logs and swallows exceptions raised by
# signal receivers, so a worker would start anyway. Every worker and beat imports this module.
startup_checks.exit_if_unsafe(app.conf, settings)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool child must open its own database connections.
    dispose_engines()
