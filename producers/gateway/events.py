"""``/v1/events``: Server-Sent Events of the calling client's job outcomes, from the ledger.

Each event is one job reaching a terminal status (succeeded, rejected, dead), read from the
``jobs`` table (not from Redis), so an upstream system learns of a rejection without polling
each job. The event id is ``<finished_at in microseconds>-<seq>``; a client reconnecting with
``Last-Event-ID`` gets every outcome after it.

``finished_at`` is the finishing transaction's start time, and that transaction may commit up
to the job time limit later, so rows can appear "in the past". Each poll therefore looks back
by that much and skips what this stream has sent. A resumed stream sends what follows the given
id in (finished_at, seq) order; an outcome that committed late *behind* that id while no stream
was open is not sent, so a client that must see every outcome checks
``GET /v1/jobs?since=...`` after reconnecting.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from producers.gateway.auth import allow, current_settings, roles_note
from producers.gateway.clients import Principal
from producers.gateway.problems import problem_responses
from shared.ledger.connection import connection
from shared.settings import Settings

router = APIRouter(prefix="/v1", tags=["events"])
ANY_ROLE = allow("submitter", "reader", "operator")
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# A stream ends after this long; EventSource clients reconnect with Last-Event-ID.
STREAM_SECONDS = 3600.0

_OUTCOMES = """
    SELECT id, seq, kind, status, correlation_id, finished_at, error_code, error_category,
           error_severity, error_message, error_details, result
    FROM jobs
    WHERE submitter = %(who)s AND finished_at > %(after)s
    ORDER BY finished_at, seq
    LIMIT 500
"""


def event_id(finished_at: datetime, seq: int) -> str:
    return f"{int(finished_at.timestamp() * 1_000_000)}-{seq}"


def parse_event_id(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    micros, _, seq = text.partition("-")
    if not (micros.isdigit() and seq.isdigit() and len(micros) < 20 and len(seq) <= 19):
        return None
    return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), int(seq)


def _outcomes(settings: Settings, who: str, after: datetime) -> list[dict[str, Any]]:
    with connection(settings.database_url) as conn:
        cur = conn.execute(_OUTCOMES, {"who": who, "after": after})
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _frame(row: dict[str, Any]) -> str:
    error = None
    if row["error_code"]:
        error = {
            "code": row["error_code"],
            "category": row["error_category"],
            "severity": row["error_severity"],
            "message": row["error_message"],
            "details": row["error_details"] or {},
        }
    data = {
        "id": str(row["id"]),
        "kind": row["kind"],
        "status": row["status"],
        "correlation_id": row["correlation_id"],
        "finished_at": row["finished_at"].isoformat(),
        "error": error,
        "result": row["result"],
    }
    ident = event_id(row["finished_at"], row["seq"])
    return f"id: {ident}\nevent: job\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _stream(
    request: Request, settings: Settings, who: str, resume: tuple[datetime, int] | None
) -> AsyncIterator[str]:
    lookback = timedelta(seconds=settings.time_limit + settings.reconcile_running_margin_seconds)
    # A fresh stream starts now: history is what GET /v1/jobs is for.
    cursor = resume[0] if resume else datetime.now(UTC)
    sent: dict[str, datetime] = {}
    loop = asyncio.get_running_loop()
    started = last_write = loop.time()
    yield "retry: 2000\n\n"
    while loop.time() - started < STREAM_SECONDS:
        if await request.is_disconnected():
            return
        rows = await run_in_threadpool(_outcomes, settings, who, cursor - lookback)
        for row in rows:
            key = str(row["id"])
            if key in sent:
                continue
            if resume and (row["finished_at"], row["seq"]) <= resume:
                continue  # sent on the stream the client resumes
            sent[key] = row["finished_at"]
            cursor = max(cursor, row["finished_at"])
            last_write = loop.time()
            yield _frame(row)
        horizon = cursor - lookback
        for key in [k for k, at in sent.items() if at < horizon]:
            del sent[key]
        if loop.time() - last_write > KEEPALIVE_SECONDS:
            last_write = loop.time()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/events",
    summary="Server-Sent Events: outcomes of the calling client's jobs",
    description=(
        "`text/event-stream`, one `job` event per job reaching succeeded, rejected or dead. "
        "Resume with `Last-Event-ID` (at least once). "
        + roles_note("submitter", "reader", "operator")
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 429),
    },
)
async def events(
    request: Request,
    who: Annotated[Principal, Depends(ANY_ROLE)],
    settings: Annotated[Settings, Depends(current_settings)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse:
    resume = parse_event_id(last_event_id)
    return StreamingResponse(
        _stream(request, settings, who.name, resume),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
