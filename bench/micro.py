"""Executor micro-benchmark: ``python -m bench.micro [--jobs N] [--profile]``.

Calls ``worker.pipeline.executor.run_delivery`` for N queued jobs in this one process, with no
Celery
and no broker, and prints wall and CPU milliseconds per job plus the SQL statements and commits
per job. CPU per job is far less noisy than throughput on a shared machine, so it is what the
optimisation commits quote next to their throughput ratio.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import time
import uuid
from typing import Any

from sqlalchemy import event

from bench import load
from bench.env import BenchEnv
from producers.client import Client


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.micro")
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    p.add_argument("--doctors", type=int, default=500, help="doctors the jobs round-robin over")
    args = p.parse_args()
    with BenchEnv() as env:
        from shared.db.base import get_engine
        from shared.settings import get_settings
        from worker.pipeline.executor import run_delivery

        tag = f"micro-{env.run_id}"
        client = Client(submitter=tag)
        reqs = list(load.requests(tag, args.jobs, args.doctors))
        ids = []
        for i in range(0, args.jobs, load.BATCH):
            ids += [uuid.UUID(v.id) for v in client.submit_many(reqs[i : i + load.BATCH])]
        env.redis().delete("schedule")  # no worker here: the messages are not needed
        counts: collections.Counter[str] = collections.Counter()

        def statement(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
            counts[sql.split()[0].upper()] += 1

        def commit(_c: Any) -> None:
            counts["COMMIT"] += 1

        engine = get_engine()
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
        settings = get_settings()
        prof = cProfile.Profile(time.process_time) if args.profile else None  # CPU only
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        for job_id in ids:
            decision = run_delivery(job_id, settings)
            if decision.action != "succeeded":
                raise RuntimeError(f"job {job_id}: {decision}")
        if prof:
            prof.disable()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = args.jobs
    per_job = ", ".join(f"{k} {v / n:g}" for k, v in sorted(counts.items()))
    print(f"{n} deliveries: {1000 * wall / n:.2f} ms/job wall, {1000 * cpu / n:.2f} ms/job CPU")
    print(f"per job: {per_job}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
