"""TEST-ONLY job kinds that misbehave on demand: crash their worker, sleep, fail N times.

Enabled only when ``SCHEDQ_TEST_HOOKS=1`` outside production (a production worker refuses to
start with it), by ``worker.app`` and by test processes that submit these kinds. Fault tests
use them to prove crash-loop quarantine, retry limits and shutdown behaviour with real workers.
Each successful run touches the doctor like a real change: version bump plus one audit row,
so tests can count effects per job from the schedule and audit tables.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Literal

from pydantic import Field

from shared.db.uow import UnitOfWork
from shared.jobs import JobKind, register
from shared.payloads import Payload
from worker.context import JobContext
from worker.handlers import HANDLERS
from worker.services import audit, doctors

Failure = Literal["network", "http503", "http429", "http403", "unexpected"]


class ProbePayload(Payload):
    doctor_id: str = Field(min_length=1, max_length=64)
    seconds: float = Field(0.0, ge=0, le=60)
    fail_with: Failure | None = None
    # Fail while the attempt number is <= fail_times (0 with fail_with set: fail forever).
    fail_times: int = Field(0, ge=0, le=100)


def _doctor(payload: Payload) -> str | None:
    return getattr(payload, "doctor_id", None)


def _raise(kind: Failure) -> None:
    import httpx  # deferred like the calendar services that really raise these (worker.handlers)

    request = httpx.Request("GET", "http://provider.test/calendar")
    if kind == "network":
        raise ConnectionResetError("connection reset by provider.test")
    if kind == "unexpected":
        raise RuntimeError("a bug in a handler")
    status = {"http503": 503, "http429": 429, "http403": 403}[kind]
    headers = {"Retry-After": "1"} if status == 429 else {}
    response = httpx.Response(status, headers=headers, request=request)
    raise httpx.HTTPStatusError(str(status), request=request, response=response)


def touch(uow: UnitOfWork, ctx: JobContext, payload: ProbePayload) -> dict[str, Any]:
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
    return {"schedule_version": version, "attempt": ctx.attempt}


def crash(uow: UnitOfWork, ctx: JobContext, payload: ProbePayload) -> dict[str, Any]:
    """Kill the process running the job, every time: the worker-loss path, not an exception."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def enable() -> None:
    for name, handler in (("test_touch", touch), ("test_crash", crash)):
        register(JobKind(name, ProbePayload, "schedule", _doctor))
        HANDLERS[name] = handler
