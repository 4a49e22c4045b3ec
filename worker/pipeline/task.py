"""The task adapter: parse the message, run one delivery, turn the decision into Celery terms.

Tasks never hold domain logic. A message whose argument is not a job id, or that names a job
the ledger does not know, is recorded as poison and dropped (acked) rather than raised, so a
bad message can never take a worker down. (The consumer screens arguments before dispatch;
the check here is the second line.) When the outcome itself cannot be recorded (database
down), the message is retried with backoff; the ledger still says queued/running, so the
reconciler would republish it even if that retry were lost.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Celery, Task

from shared.celery_config import broker_countdown
from shared.kinds import JobKind
from shared.settings import get_settings
from worker.pipeline.error_map import classify
from worker.pipeline.executor import Decision, backoff, run_delivery
from worker.reliability import poison

log = logging.getLogger("schedq.tasks")


class JobTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    # Retries are scheduled by the executor's policy; Celery's own counter must never stop them.
    max_retries = None
    typing = False  # we validate the arguments ourselves and drop bad ones cleanly

    def run_job(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Decision | None:
        settings = get_settings()
        refusal = poison.check_arguments(list(args), kwargs)
        if refusal is not None:
            poison.record(settings, refusal, task_name=self.name, message_id=self.request.id)
            return None
        job_id = uuid.UUID(str(args[0]))
        try:
            decision = run_delivery(job_id, settings)
        except Exception as exc:
            err = classify(exc)
            if not err.retryable:
                raise
            delay = backoff(settings, self.request.retries + 1, err.retry_after)
            log.warning(
                "job %s: outcome not recorded (%s); retrying in %.1fs", job_id, err.code, delay
            )
            countdown = broker_countdown(settings.broker_url, delay)
            raise self.retry(countdown=countdown, max_retries=None) from None
        if decision.error is not None and decision.error.code == "UNKNOWN_JOB":
            refusal = poison.Refusal("UNKNOWN_JOB", "no such job in the ledger")
            poison.record(settings, refusal, task_name=self.name, message_id=str(job_id))
            return decision
        self.request.schedq_decision = decision
        if decision.action in ("retry", "wait"):
            countdown = broker_countdown(settings.broker_url, decision.countdown)
            raise self.retry(countdown=countdown, max_retries=None)
        return decision


def register_job_task(app: Celery, kind: JobKind) -> Task:
    """One named Celery task per job kind (Flower and metrics then show the kind by name)."""

    def run(self: JobTask, *args: Any, **kwargs: Any) -> None:
        self.run_job(args, kwargs)

    run.__name__ = kind.name
    run.__doc__ = f"Apply a '{kind.name}' job from the ledger, by id."
    task: Task = app.task(bind=True, base=JobTask, name=kind.task_name)(run)
    return task
