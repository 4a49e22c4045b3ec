"""Who is calling, and may they: bearer authentication, roles per endpoint, rate per client.

Every endpoint but the probes and /metrics depends on :func:`allow` with the roles it admits
(its OpenAPI description says which). The client's name is put on the request state for the
access log. Roles:

- ``submitter``: submits jobs of its kinds about doctors matching its patterns; reads its own
  jobs, and availability of its doctors.
- ``reader``: reads jobs and availability of its doctors.
- ``operator``: reads every job, handles dead letters.
- ``admin``: everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from producers.gateway.clients import Principal, authenticate
from producers.gateway.ratelimit import check_rate
from shared.errors import Violation, error
from shared.settings import Settings, get_settings

_bearer = HTTPBearer(auto_error=False, description="A token from `schedq clients create`.")


async def current_settings() -> Settings:
    # async: pure and cheap, so FastAPI runs it on the loop, not in a worker thread.
    return get_settings()


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[Settings, Depends(current_settings)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise error("AUTH_REQUIRED")
    who = authenticate(settings.database_url, credentials.credentials)
    if who is None:
        raise error("AUTH_INVALID")
    request.state.client_name = who.name
    check_rate(settings, who.name, cost=1)
    return who


def allow(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (admin always)."""
    admitted = {*roles, "admin"}

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in admitted:
            raise error("FORBIDDEN_ROLE", role=who.role)
        return who

    return check


def out_of_scope(code: str, path: str, message: str) -> Exception:
    return error(
        "FORBIDDEN_SCOPE", details={"violations": [Violation(code, path, message).as_dict()]}
    )


def require_doctor(who: Principal, doctor_id: str, path: str) -> None:
    if not who.covers_doctor(doctor_id):
        raise out_of_scope("DOCTOR_NOT_ALLOWED", path, "This doctor is outside your scope.")


def roles_note(*roles: str) -> str:
    return "Roles: " + ", ".join([*roles, "admin"]) + "."
