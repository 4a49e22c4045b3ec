"""The task adapter: parse the message, run one delivery, turn the decision into Celery terms.

Tasks never hold domain logic. A message whose argument is not a job id is logged and dropped
(acked) rather than raised, so a bad message can never take a worker down.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Celery, Task

from shared.jobs import JobKind
from shared.settings import get_settings
from worker.executor import Decision, run_delivery

log = logging.getLogger("schedq.tasks")


class JobTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    # Retries are scheduled by the executor's policy; Celery's own counter must never stop them.
    max_retries = None
    typing = False  # we validate the arguments ourselves and drop bad ones cleanly

    def run_job(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Decision | None:
        raw = args[0] if len(args) == 1 and not kwargs else kwargs.get("job_id")
        try:
            job_id = uuid.UUID(str(raw))
        except ValueError:
            log.warning("dropped message for task %s: argument is not a job id", self.name)
            return None
        decision = run_delivery(job_id, get_settings())
        self.request.schedq_decision = decision
        if decision.action in ("retry", "wait"):
            raise self.retry(countdown=decision.countdown, max_retries=None)
        if decision.error is not None and decision.action == "noop":
            log.warning("%s: %s", decision.error.code, decision.error.message)
        return decision


def register_job_task(app: Celery, kind: JobKind) -> Task:
    """One named Celery task per job kind (Flower and metrics then show the kind by name)."""

    def run(self: JobTask, *args: Any, **kwargs: Any) -> None:
        self.run_job(args, kwargs)

    run.__name__ = kind.name
    run.__doc__ = f"Apply a '{kind.name}' job from the ledger, by id."
    task: Task = app.task(bind=True, base=JobTask, name=kind.task_name)(run)
    return task
