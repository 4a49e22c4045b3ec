"""Worker and beat logging: JSON lines, and the running job's ids on every line of that job.

Connecting to ``setup_logging`` makes Celery leave logging to us. The correlation id comes from
the message header the producer set (``shared.ledger.publish``); the job id is the task id.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery.signals import setup_logging, task_postrun, task_prerun

from shared.logs import bind_job, configure_logging, unbind_job
from shared.settings import get_settings

_tokens: dict[str, Any] = {}


class _NoTracebackForControlFlow(logging.Filter):
    """Celery logs a task that ended with ``Ignore`` (a per-doctor wait, a duplicate delivery)
    or an expected ``JobFailed`` (rejected or dead, already recorded) at INFO, yet passes the
    traceback in the record's ``data``, which the JSON formatter would print on every wait."""

    _QUIET = frozenset({"ignored", "raised expected"})

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        if isinstance(data, dict) and data.get("description") in self._QUIET:
            record.data = {k: v for k, v in data.items() if k != "traceback"}
        return True


@setup_logging.connect
def _json_logs(loglevel: Any = None, **_: Any) -> None:
    service = "beat" if "beat" in sys.argv else "worker"
    configure_logging(get_settings(), service, level=loglevel or None)
    logging.getLogger("celery.app.trace").addFilter(_NoTracebackForControlFlow())


@task_prerun.connect
def _bind(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    name = str(getattr(task, "name", "") or "")
    _tokens[task_id or ""] = bind_job(
        job_id=task_id,
        task_id=task_id,
        kind=name.rsplit(".", 1)[-1] or None,
        correlation_id=getattr(request, "schedq_correlation_id", None),
    )


@task_postrun.connect
def _unbind(task_id: str | None = None, **_: Any) -> None:
    unbind_job(_tokens.pop(task_id or "", None))
