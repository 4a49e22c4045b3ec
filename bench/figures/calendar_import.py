"""schedq's own ICS import, timed: the feed served over HTTP from 127.0.0.1 with an ETag, one
first sync, one unchanged re-sync and one re-sync of a changed feed (one event moved, every
DTSTAMP renewed, as many servers do on each request), each through the real ``sync_calendar``
service in one transaction (what a worker runs, without the broker in the way)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared.calendar_settings import reset_calendar_settings_cache
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.kinds import get_kind
from shared.payloads import parse_payload
from worker.pipeline import services  # noqa: F401  (binds the handlers)
from worker.pipeline.context import JobContext
from worker.pipeline.handlers import handler_for


@dataclass
class ImportTimes:
    first: float
    resync: float
    resync_requests: int
    rows: int
    changed: float  # re-sync after one event moved and every DTSTAMP was renewed
    reused: int  # series the changed re-sync took from the first sync instead of expanding
    expanded: int  # series the changed re-sync expanded


def changed_feed(data: bytes) -> bytes:
    """The same feed as served a day later: the first event moved by an hour, every DTSTAMP
    renewed."""
    text = data.decode()
    stamp = text.split("DTSTAMP:", 1)[1].split("\r\n", 1)[0]
    text = text.replace(f"DTSTAMP:{stamp}", "DTSTAMP:20261231T235959Z")
    for prop in ("DTSTART:", "DTEND:"):  # the feed's first event is a single one
        value = text.split(prop, 1)[1].split("\r\n", 1)[0]
        later = datetime.strptime(value, "%Y%m%dT%H%M%SZ") + timedelta(hours=1)
        text = text.replace(prop + value, prop + later.strftime("%Y%m%dT%H%M%SZ"), 1)
    return text.encode()


@contextmanager
def _serve(body: list[bytes]) -> Iterator[tuple[str, list[int]]]:
    """Serve ``body[0]`` (the caller may replace it) with an ETag of its content."""
    hits: list[int] = []

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(1)
            data = body[0]
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.ics", hits
    finally:
        server.shutdown()
        server.server_close()


def _run(kind: str, payload: dict[str, object]) -> dict[str, object]:
    parsed = parse_payload(get_kind(kind).payload, payload)
    ctx = JobContext(uuid.uuid4(), kind, "bench", "bench", 1)
    handler = handler_for(kind)
    assert handler is not None, kind
    with UnitOfWork() as uow:
        result = handler(uow, ctx, parsed).result
        uow.commit()
    return result


def time_import(data: bytes, horizon_days: int) -> ImportTimes:
    """First sync and unchanged re-sync of ``data`` for a fresh doctor (UTC zone)."""
    os.environ["SCHEDQ_CALENDAR_HORIZON_DAYS"] = str(horizon_days)
    os.environ["SCHEDQ_CALENDAR_MAX_RESPONSE_BYTES"] = str(max(len(data) * 2, 5 * 1024 * 1024))
    # The feed server is on loopback: allowed explicitly, as an operator would. The bench
    # measures import speed, so the per-link instance cap is lifted for its large feeds.
    os.environ["SCHEDQ_CALENDAR_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    os.environ["SCHEDQ_CALENDAR_MAX_BUSY_ROWS_PER_LINK"] = str(10**6)
    reset_calendar_settings_cache()
    doctor = f"bench-ics-{uuid.uuid4().hex[:8]}"
    with UnitOfWork() as uow:
        uow.session.add(Doctor(id=doctor, time_zone="UTC"))
        uow.commit()
    served = [data]
    with _serve(served) as (url, hits):
        link = _run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url})
        sync = {"doctor_id": doctor, "link_id": link["link_id"]}
        t0 = time.perf_counter()
        first = _run("sync_calendar", sync)
        t1 = time.perf_counter()
        before = len(hits)
        second = _run("sync_calendar", sync)
        t2 = time.perf_counter()
        resync_requests = len(hits) - before
        served[0] = changed_feed(data)
        t3 = time.perf_counter()
        third = _run("sync_calendar", sync)
        t4 = time.perf_counter()
    changes = first.get("changes")
    rows = int(changes.get("inserted", 0)) if isinstance(changes, dict) else 0
    assert second.get("fetched") == "not_modified", second
    assert third.get("fetched") == "changed" and third.get("changes") == {
        "inserted": 0, "updated": 1, "deleted": 0,
    }, third  # fmt: skip
    series = third["series"]
    assert isinstance(series, dict)
    return ImportTimes(
        t1 - t0, t2 - t1, resync_requests, rows, t4 - t3, series["reused"], series["expanded"]
    )
