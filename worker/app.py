"""The Celery application that workers run: ``celery -A worker.app worker``."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

from shared.celery_config import RECONCILE_TASK, celery_config
from shared.db.base import dispose_engines
from shared.jobs import KINDS
from shared.settings import get_settings
from worker import reconciler, startup_checks, test_hooks
from worker.tasks.base import register_job_task

settings = get_settings()
app = Celery("schedq")
app.conf.update(celery_config(settings))
if settings.broker_url.startswith("redis://"):
    # Survives queue items that are not kombu envelopes (see worker.transport).
    app.conf.broker_transport = "worker.transport:Transport"
if settings.test_hooks and settings.env != "production":  # test-only kinds
    test_hooks.enable()

TASKS = {name: register_job_task(app, kind) for name, kind in KINDS.items()}
RECONCILE = app.task(name=RECONCILE_TASK, ignore_result=True)(reconciler.run)


@worker_init.connect
def _refuse_unsafe_config(sender: Any = None, **_: Any) -> None:
    # Celery logs and swallows any Exception a signal handler raises, so an unsafe config
    # would only be logged; SystemExit is not an Exception and really stops the worker.
    try:
        startup_checks.check(app.conf, settings)
    except startup_checks.UnsafeConfig as exc:
        print(f"schedq: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked pool child must open its own database connections.
    dispose_engines()
