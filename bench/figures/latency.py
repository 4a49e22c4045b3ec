"""Figure 3, latency: submit-to-committed P50/P95/P99 at half of each system's measured maximum
drain rate, schedq against a Celery no-op task twice: with schedq's hardened configuration
(``bench.baseline``) and with Celery's defaults (``bench.ceiling_app``, nothing added).

The producer sends at a fixed pace (open loop: a late send does not delay the next one's
schedule) and stamps each job just before ``Client.submit`` / ``apply_async``; the worker's
``task_postrun`` probe (``bench.probe``) stamps it after the task returned (for schedq: after
the job's transaction committed). Same machine, same clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import cast

from bench import baseline, load
from bench.context import Context
from bench.figures.throughput import CELERY_DEFAULTS, drain_once
from bench.nodes import BASELINE_APP, CEILING_APP, SCHEDQ_APP, Node
from bench.probe import DONE_KEY
from bench.report import Figure, Row
from bench.stats import percentile
from producers.client import Client

QS = (50, 95, 99)
SYSTEMS = ("schedq", "noop", "default")
BASELINES = {"noop": "hardened no-op", "default": "Celery default no-op"}


def _max_rates(ctx: Context) -> dict[str, float]:
    """Reuse figure 1's medians when it ran in this invocation, else measure a short drain."""
    import statistics

    known = ctx.shared.get("throughput")
    if known:
        return {s: statistics.median(known["rates"][s]) for s in SYSTEMS}
    jobs = min(ctx.size.jobs, 2000)
    tag = ctx.env.run_id
    return {s: drain_once(ctx, s, f"lat-max-{s}-{tag}", jobs).rate for s in SYSTEMS}


def _paced(send: Callable[[int], str], rate: float, seconds: float) -> dict[str, float]:
    count = max(1, int(rate * seconds))
    sent: dict[str, float] = {}
    start = time.time()
    for i in range(count):
        delay = start + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        stamp = time.time()
        sent[send(i)] = stamp
    return sent


def _one(ctx: Context, system: str, rate: float, tag: str) -> list[float]:
    env = ctx.env
    broker = env.redis()
    broker.delete(DONE_KEY)
    probe = {"SCHEDQ_BENCH_PROBE": "1"}
    if system == "schedq":
        node = Node(SCHEDQ_APP, env.log_dir, tag, env=probe)
        client = Client(submitter=tag)
        reqs = list(load.requests(tag, int(rate * ctx.size.latency_seconds) + 1, ctx.size.doctors))

        def send(i: int) -> str:
            return client.submit(reqs[i].kind, reqs[i].payload).id
    else:
        if system == "noop":
            node = Node(BASELINE_APP, env.log_dir, tag, env=probe)
        else:  # Celery as shipped: no task events, WARNING logs, prefetch 4, early acks
            config = CELERY_DEFAULTS
            node = Node(
                CEILING_APP, env.log_dir, tag, env={**probe, "BENCH_CEILING": config.features},
                events=config.events, loglevel=config.loglevel,
            )  # fmt: skip
        task = baseline.app.tasks[baseline.NOOP]

        def send(i: int) -> str:
            job_id = str(uuid.uuid4())
            task.apply_async((job_id,), task_id=job_id, queue="schedule")
            return job_id

    try:
        node.wait_ready()
        sent = _paced(send, rate, ctx.size.latency_seconds)
        deadline = time.monotonic() + ctx.size.timeout
        while cast(int, broker.llen(DONE_KEY)) < len(sent):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{tag}: not all jobs finished:\n{node.log()}")
            time.sleep(0.1)
    finally:
        node.stop()
    done = {}
    for item in cast(list[bytes], broker.lrange(DONE_KEY, 0, -1)):
        job_id, stamp = (item.decode() if isinstance(item, bytes) else item).split()
        done[job_id] = float(stamp)
    return sorted(done[j] - t for j, t in sent.items())


def run(ctx: Context) -> Figure:
    fig = Figure("latency", ctx.command("latency"))
    rates = _max_rates(ctx)
    got: dict[str, dict[int, list[float]]] = {s: {q: [] for q in QS} for s in rates}
    for i in range(ctx.runs):
        k = i % len(SYSTEMS)
        for system in SYSTEMS[k:] + SYSTEMS[:k]:
            lat = _one(ctx, system, rates[system] / 2, f"lat{i}-{system}-{ctx.env.run_id}")
            for q in QS:
                got[system][q].append(percentile(lat, q) * 1000)
            p = ", ".join(f"P{q} {got[system][q][-1]:.1f} ms" for q in QS)
            print(f"  latency run {i + 1}: {system} {len(lat)} jobs, {p}", flush=True)
    for base, name in BASELINES.items():
        for q in QS:
            fig.rows.append(
                Row.compare(
                    f"P{q} submit-to-committed at half max rate",
                    "ms",
                    got["schedq"][q],
                    name,
                    got[base][q],
                    ("<=", 3.0) if q == 99 and base == "noop" else None,
                )
            )
    offered = ", ".join(f"{s} {rates[s] / 2:.0f} jobs/s" for s in SYSTEMS)
    fig.notes.append(
        f"Offered load: {offered} (half of each one's median drain rate) for "
        f"{ctx.size.latency_seconds:g} s per run; producer in this process (`Client.submit` / "
        "`apply_async` one by one)."
    )
    fig.raw = {"offered_rate": {s: r / 2 for s, r in rates.items()}, "ms": got}
    return fig
