"""Figure 2, submit rate: how fast producers can hand jobs over, no worker running.

- schedq ``Client.submit`` one by one (one transaction, commit, then one publish, per job)
  against Celery ``apply_async`` one by one (one publish per message);
- schedq ``Client.submit_many`` in batches (one multi-row INSERT + commit, then the publish)
  against kombu ``Producer.batch`` (kombu >= 5.7: publishes inside the context are buffered and
  sent to Redis as one pipeline per batch) around Celery ``apply_async(producer=...)``.

Both sides use the same batch size and the same Celery settings; schedq's ledger keeps
PostgreSQL's default durable commit (``synchronous_commit = on``). Queues are emptied and the
figure's ledger rows removed after every step, so later figures start clean.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial

from bench import baseline, load
from bench.context import Context
from bench.nodes import QUEUE
from bench.report import Figure, Row
from producers.client import Client


def _schedq_one(tag: str, n: int) -> float:
    client = Client(submitter=tag)
    reqs = list(load.requests(tag, n, doctors=n))
    t0 = time.perf_counter()
    for req in reqs:
        client.submit(req.kind, req.payload)
    return n / (time.perf_counter() - t0)


def _schedq_batch(tag: str, n: int) -> float:
    client = Client(submitter=tag)
    reqs = list(load.requests(tag, n, doctors=n))
    t0 = time.perf_counter()
    for i in range(0, n, load.BATCH):
        client.submit_many(reqs[i : i + load.BATCH])
    return n / (time.perf_counter() - t0)


def _celery_one(n: int) -> float:
    task = baseline.app.tasks[baseline.NOOP]
    ids = [str(uuid.uuid4()) for _ in range(n)]
    t0 = time.perf_counter()
    for job_id in ids:
        task.apply_async((job_id,), queue="schedule")
    return n / (time.perf_counter() - t0)


def _kombu_batch(n: int) -> float:
    t0 = time.perf_counter()
    load.fill_baseline(baseline.NOOP, n)
    return n / (time.perf_counter() - t0)


def run(ctx: Context) -> Figure:
    fig = Figure("submit", ctx.command("submit"))
    one, batch = ctx.size.submit_one, ctx.size.submit_batch
    r: dict[str, list[float]] = {"s1": [], "c1": [], "sb": [], "kb": []}
    broker = ctx.env.redis()
    # Warm both paths (imports, connection pools) so run 1 is not a cold-start outlier.
    _schedq_one(f"warm-{ctx.env.run_id}", 20)
    _celery_one(20)
    for i in range(ctx.runs):
        tag = f"sub{i}-{ctx.env.run_id}"
        steps: list[tuple[str, Callable[[], float]]] = [
            ("s1", partial(_schedq_one, tag + "-one", one)),
            ("c1", partial(_celery_one, one)),
            ("sb", partial(_schedq_batch, tag + "-batch", batch)),
            ("kb", partial(_kombu_batch, batch)),
        ]
        for key, step in steps:
            r[key].append(step())
            broker.delete(QUEUE)
        for suffix in ("-one", "-batch"):
            load.forget_jobs(tag + suffix)
        print(f"  submit run {i + 1}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in r.items()))
    load.forget_jobs(f"warm-{ctx.env.run_id}")
    fig.rows.append(
        Row.compare(
            f"{one} jobs submitted one by one",
            "jobs/s",
            r["s1"],
            "Celery apply_async",
            r["c1"],
            (">=", 0.8),
        )
    )
    fig.rows.append(
        Row.compare(
            f"{batch} jobs in batches of {load.BATCH}",
            "jobs/s",
            r["sb"],
            "kombu Producer.batch",
            r["kb"],
            (">=", 1.0),
        )
    )
    fig.notes.append(
        "Batch baseline: one Celery producer, `with producer.batch(max_size=500):` around "
        "`apply_async(producer=producer)` (kombu 5.7 Producer.batch; the Redis transport "
        "pipelines each batch). schedq: `Client.submit_many(500 requests)` per batch."
    )
    fig.raw = r
    return fig
