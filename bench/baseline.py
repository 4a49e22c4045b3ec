"""The Celery ceiling: a tiny Celery app with schedq's own broker and serialisation settings.

``bench.noop`` does nothing; ``bench.insert_row`` does the naive minimum a job system must do,
one INSERT and one commit on a per-process connection. Both consume the same queues with the
same worker topology as schedq, so the only difference measured is schedq's own work.
"""

from __future__ import annotations

import os

import psycopg
from celery import Celery

from bench.probe import install
from bench.urls import plain_url
from shared.celery_config import celery_config
from shared.settings import get_settings

app = Celery("bench-baseline")
app.conf.update(celery_config(get_settings()))
# Celery's own consumer: schedq's screening consumer (``worker.runtime.consumer``, which loads the
# ledger's SQLAlchemy models into the main process and so into every pool child) is schedq's
# work, not the baseline's.
app.conf.worker_consumer = "celery.worker.consumer:Consumer"
install(app)

NOOP = "bench.noop"
INSERT = "bench.insert_row"

_conn: tuple[int, psycopg.Connection] | None = None


def _connection() -> psycopg.Connection:
    global _conn
    if _conn is None or _conn[0] != os.getpid():
        _conn = (os.getpid(), psycopg.connect(plain_url(get_settings().database_url)))
    return _conn[1]


@app.task(name=NOOP, acks_late=True, ignore_result=True)
def noop(job_id: str) -> None:
    return None


@app.task(name=INSERT, acks_late=True, ignore_result=True)
def insert_row(job_id: str) -> None:
    conn = _connection()
    conn.execute("INSERT INTO bench_rows (job_id) VALUES (%s)", (job_id,))
    conn.commit()
