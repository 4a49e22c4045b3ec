"""TEST-ONLY job kinds that misbehave on demand: crash their worker, sleep, fail N times.

They live with the tests and are registered by them through the same public API as the
product's kinds: :func:`install` registers each ``JobKind`` (``shared.kinds.register``) and binds
its handler (``worker.pipeline.handlers.bind``) in the process that calls it. Test processes
that submit these kinds call it; the workers tests start run ``tests.worker_app``, which
calls it before the worker's tasks are registered. No production process ever imports this
module. Fault tests use them to prove crash-loop quarantine, retry limits and shutdown
behaviour with real workers. Each successful run touches the doctor like a real change: version
bump plus one audit row, so tests can count effects per job from the schedule and audit tables.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Literal

from pydantic import Field

from shared.db.uow import UnitOfWork
from shared.kinds import JobKind, by_doctor, register
from shared.payloads import Payload
from worker.pipeline.context import Applied, JobContext
from worker.pipeline.handlers import bind
from worker.scheduling import audit, doctors

Failure = Literal["network", "http503", "http429", "http403", "unexpected"]


class ProbePayload(Payload):
    doctor_id: str = Field(min_length=1, max_length=64)
    seconds: float = Field(0.0, ge=0, le=60)
    fail_with: Failure | None = None
    # Fail while the attempt number is <= fail_times (0 with fail_with set: fail forever).
    fail_times: int = Field(0, ge=0, le=100)


def _raise(kind: Failure) -> None:
    import httpx  # deferred, like the calendar services that really raise these

    request = httpx.Request("GET", "http://provider.test/calendar")
    if kind == "network":
        raise ConnectionResetError("connection reset by provider.test")
    if kind == "unexpected":
        raise RuntimeError("a bug in a handler")
    status = {"http503": 503, "http429": 429, "http403": 403}[kind]
    headers = {"Retry-After": "1"} if status == 429 else {}
    response = httpx.Response(status, headers=headers, request=request)
    raise httpx.HTTPStatusError(str(status), request=request, response=response)


def touch(uow: UnitOfWork, ctx: JobContext, payload: ProbePayload) -> Applied:
    if payload.seconds:
        time.sleep(payload.seconds)
    if payload.fail_with and (payload.fail_times == 0 or ctx.attempt <= payload.fail_times):
        _raise(payload.fail_with)
    doctors.ensure_locked(uow, payload.doctor_id, "UTC")
    version = doctors.bump_version(uow, payload.doctor_id)
    audit.record(
        uow,
        ctx,
        entity="probe",
        entity_id=payload.doctor_id,
        action="touched",
        before=None,
        after={"attempt": ctx.attempt},
    )
    return Applied({"schedule_version": version, "attempt": ctx.attempt})


def crash(uow: UnitOfWork, ctx: JobContext, payload: ProbePayload) -> Applied:
    """Kill the process running the job, every time: the worker-loss path, not an exception."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def install() -> None:
    """Register the probe kinds and their handlers in this process (idempotent)."""
    bind(register(JobKind("test_touch", ProbePayload, "schedule", by_doctor)), touch)
    bind(register(JobKind("test_crash", ProbePayload, "schedule", by_doctor)), crash)
