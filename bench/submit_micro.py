"""Producer micro-benchmark: ``python -m bench.submit_micro [--jobs N] [--profile]``.

Times ``Client.submit`` one by one and ``Client.submit_many`` in batches of ``load.BATCH``
against the same-process Celery baselines of figure 2 (``apply_async`` one by one, kombu
``Producer.batch``), on the harness's private database and Redis, and prints jobs/s and wall and
CPU milliseconds per job. With ``--profile`` it also prints cProfile's top functions (CPU timer)
for each schedq path.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import uuid
from collections.abc import Callable

from bench.env import BenchEnv


def _measure(label: str, n: int, fn: Callable[[], None], profile: bool) -> None:
    prof = cProfile.Profile(time.process_time) if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    fn()
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(
        f"{label}: {n / wall:.0f} jobs/s, {1000 * wall / n:.3f} ms/job wall, "
        f"{1000 * cpu / n:.3f} ms/job CPU"
    )
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.submit_micro")
    p.add_argument("--jobs", type=int, default=2000)
    p.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    p.add_argument("--only", choices=("one", "batch"), help="measure one path only")
    args = p.parse_args()
    n = args.jobs
    with BenchEnv() as env:
        # Imported once the environment points at the private servers: bench.baseline
        # configures its Celery app (broker URL included) at import.
        from bench import baseline, load
        from producers.client import Client

        broker = env.redis()
        task = baseline.app.tasks[baseline.NOOP]

        def one(tag: str) -> Callable[[], None]:
            client = Client(submitter=tag)
            reqs = list(load.requests(tag, n, doctors=n))

            def run() -> None:
                for r in reqs:
                    client.submit(r.kind, r.payload)

            return run

        def batch(tag: str) -> Callable[[], None]:
            client = Client(submitter=tag)
            reqs = list(load.requests(tag, n, doctors=n))

            def run() -> None:
                for i in range(0, n, load.BATCH):
                    client.submit_many(reqs[i : i + load.BATCH])

            return run

        def celery_one() -> None:
            for _ in range(n):
                task.apply_async((str(uuid.uuid4()),), queue="schedule")

        # Warm imports, pools and statement caches on both sides.
        one(f"warm-{env.run_id}")()
        celery_one()
        broker.delete("schedule")
        if args.only != "batch":
            _measure("schedq submit one by one", n, one(f"one-{env.run_id}"), args.profile)
            broker.delete("schedule")
            _measure("Celery apply_async one by one", n, celery_one, False)
            broker.delete("schedule")
        if args.only != "one":
            _measure("schedq submit_many", n, batch(f"batch-{env.run_id}"), args.profile)
            broker.delete("schedule")
            _measure("kombu Producer.batch", n, lambda: load.fill_baseline(baseline.NOOP, n), False)
            broker.delete("schedule")


if __name__ == "__main__":
    main()
