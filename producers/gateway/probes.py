"""``/livez``, ``/readyz`` and ``/metrics``: no token needed, nothing about jobs or patients."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from producers.gateway.auth import current_settings
from producers.gateway.middleware import REGISTRY
from producers.gateway.problems import problem_responses
from shared.db.migrate import at_head
from shared.errors import error
from shared.settings import Settings

router = APIRouter(tags=["probes"])


class Status(BaseModel):
    status: str


@router.get("/livez", response_model=Status, summary="The process serves requests")
def livez() -> Status:
    return Status(status="ok")


@router.get(
    "/readyz",
    response_model=Status,
    summary="PostgreSQL (schema at head) and the broker's Redis answer",
    responses=problem_responses(503),
)
def readyz(settings: Annotated[Settings, Depends(current_settings)]) -> Status:
    try:
        if not at_head(settings.database_url):
            raise error("NOT_READY", reason="the database schema is not at the newest migration")
    except SQLAlchemyError:
        raise error("NOT_READY", reason="the database is unavailable") from None
    if settings.broker_url.startswith(("redis://", "rediss://")):
        try:
            redis.Redis.from_url(settings.broker_url, socket_timeout=2).ping()
        except redis.RedisError:
            raise error("NOT_READY", reason="the broker is unavailable") from None
    return Status(status="ready")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics: requests and latency by route template and status",
)
def metrics() -> PlainTextResponse:
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
