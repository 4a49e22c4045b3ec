"""The task adapter: parse the message, run one delivery, turn the decision into Celery terms.

Tasks never hold domain logic. A message whose argument is not a job id, or that names a job
the ledger does not know, is recorded as poison and dropped (acked) rather than raised, so a
bad message can never take a worker down. (The consumer screens arguments before dispatch;
the check here is the second line.) When the outcome itself cannot be recorded (database
down), the message is retried with backoff; the ledger still says queued/running, so the
reconciler would republish it even if that retry were lost.

What Flower (Celery's task events) shows follows the ledger, which stays the truth:
- succeeded: the task returns (SUCCESS);
- rejected or dead: the outcome is committed first, then :class:`JobFailed` is raised with the
  status and error code only (FAILURE; ``acks_on_failure_or_timeout`` acks the message once and
  ``throws`` keeps the worker from logging it as a crash);
- retry: Celery's retry (RETRY, then the next delivery's state);
- wait (an earlier job of the same doctor is pending): the same message is published again
  with a countdown and this delivery ends with ``Ignore``: acked, no task event, no retry count,
  so Flower keeps showing the job's one task as started until a real outcome;
- noop (a duplicate delivery of a finished job): ``Ignore`` too, so the finished state stays.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore, Reject

from shared.celery_config import broker_countdown
from shared.kinds import JobKind
from shared.settings import get_settings
from worker.pipeline.error_map import classify
from worker.pipeline.executor import Decision, backoff, run_delivery
from worker.reliability import poison

log = logging.getLogger("schedq.tasks")

# A header on the retry sent when a delivery's outcome could not be recorded (database down):
# the delivery it starts then knows its predecessor ended in a live worker, not in a crash, and
# does not count it towards WORKER_LOST / crash-loop quarantine. A redelivery after a real crash
# is the original message (or the reconciler's), which never carries it.
UNRECORDED_END = "schedq_unrecorded_end"


class JobFailed(Exception):
    """A job the ledger recorded as rejected or dead, raised so Celery reports FAILURE.

    Its text is the status and the error code, never a message, details or payload: Flower
    shows it to operators.
    """

    def __init__(self, summary: str) -> None:
        super().__init__(summary)

    @classmethod
    def of(cls, decision: Decision) -> JobFailed:
        code = decision.error.code if decision.error is not None else "UNKNOWN"
        return cls(f"{decision.action} {code}")


class JobTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    # Expected failures: FAILURE state and event, logged without a traceback.
    throws = (JobFailed,)
    # Retries are scheduled by the executor's policy; Celery's own counter must never stop them.
    max_retries = None
    typing = False  # we validate the arguments ourselves and drop bad ones cleanly
    # Set per task by register_job_task: the kind whose queue a retry or a wait goes back to.
    schedq_kind: JobKind | None = None

    def signature_from_request(
        self,
        request: Any = None,
        args: Any = None,
        kwargs: Any = None,
        queue: Any = None,
        **extra_options: Any,
    ) -> Any:
        """Every message published again (Celery's retry and the order wait both build it
        here) names the kind's own queue. Celery keeps only the delivery's exchange and routing
        key; on RabbitMQ's quorum queues its native delayed delivery then routes a countdown by
        the *default* queue, so a calendar job's retry landed in the schedule queue and a
        calendar-only worker never saw it again."""
        if queue is None and self.schedq_kind is not None:
            queue = self.schedq_kind.queue(get_settings())
        return super().signature_from_request(request, args, kwargs, queue, **extra_options)

    def run_job(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Decision | None:
        settings = get_settings()
        refusal = poison.check_arguments(list(args), kwargs)
        if refusal is not None:
            poison.record(settings, refusal, task_name=self.name, message_id=self.request.id)
            return None
        job_id = uuid.UUID(str(args[0]))
        try:
            ended = bool(getattr(self.request, UNRECORDED_END, False))
            decision = run_delivery(job_id, settings, previous_ended=ended)
        except Exception as exc:
            err = classify(exc)
            if not err.retryable:
                raise
            delay = backoff(settings, self.request.retries + 1, err.retry_after)
            log.warning(
                "job %s: outcome not recorded (%s); retrying in %.1fs", job_id, err.code, delay
            )
            countdown = broker_countdown(settings.broker_url, delay)
            raise self.retry(
                countdown=countdown,
                max_retries=None,
                headers={UNRECORDED_END: True},
            ) from None
        if decision.error is not None and decision.error.code == "UNKNOWN_JOB":
            refusal = poison.Refusal("UNKNOWN_JOB", "no such job in the ledger")
            poison.record(settings, refusal, task_name=self.name, message_id=str(job_id))
            return decision
        self.request.schedq_decision = decision
        if decision.action == "retry":
            countdown = broker_countdown(settings.broker_url, decision.countdown)
            raise self.retry(countdown=countdown, max_retries=None)
        if decision.action == "wait":
            self._deliver_again(broker_countdown(settings.broker_url, decision.countdown))
        if decision.action in ("rejected", "dead"):
            raise JobFailed.of(decision)
        if decision.action == "noop":
            raise Ignore()
        return decision

    def _deliver_again(self, countdown: float | None) -> None:
        """Publish this message again (same task id, queue, headers and retry count), then end
        this delivery without a task event. Waiting is not failing: nothing is counted."""
        again = self.signature_from_request(countdown=countdown, retries=self.request.retries)
        try:
            again.apply_async()
        except Exception as exc:
            # As Celery's retry does: the ledger keeps the job queued, the reconciler resends it.
            raise Reject(exc, requeue=False) from None
        raise Ignore()


def register_job_task(app: Celery, kind: JobKind) -> Task:
    """One named Celery task per job kind (Flower and metrics then show the kind by name)."""

    def run(self: JobTask, *args: Any, **kwargs: Any) -> None:
        self.run_job(args, kwargs)

    run.__name__ = kind.name
    run.__doc__ = f"Apply a '{kind.name}' job from the ledger, by id."
    task: Task = app.task(bind=True, base=JobTask, name=kind.task_name, schedq_kind=kind)(run)
    return task
