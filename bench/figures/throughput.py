"""Figure 1, throughput: N jobs drained by the README topology, against bare Celery.

Two ceilings: the hardened no-op (Celery with schedq's configuration: prefetch 1, late acks,
task events, INFO logs, time limits) and Celery as shipped (its defaults, no events, WARNING
logs; ``bench.ceiling_app``). The ceiling figure shows what each setting between them costs.

Each run fills the queue with the worker stopped, starts the node, and times the drain from the
first message taken to the last one acked (``bench.nodes.drain_window``). The systems take
turns within each run, starting with a different one each run, so drift hits all of them.
RSS of every process is read just before the node stops (figure 6 reuses it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from bench import baseline, load, pgcpu
from bench.context import Context
from bench.nodes import BASELINE_APP, CEILING_APP, SCHEDQ_APP, Node, drain_window
from bench.report import Figure, Row
from producers.client import Client, JobRequest
from shared.settings import get_settings

SYSTEMS = ("schedq", "noop", "insert", "default")


@dataclass(frozen=True)
class NoopConfig:
    """A Celery no-op worker: ``bench.ceiling_app`` features, ``-E`` or not, and a log level."""

    label: str
    features: str
    events: bool
    loglevel: str


CELERY_DEFAULTS = NoopConfig(
    "Celery defaults (prefetch 4, early ack, no events, WARNING logs)", "", False, "WARNING"
)


@dataclass(frozen=True)
class Drain:
    rate: float  # jobs per second
    rss_kib: dict[str, list[int]]  # main process and pool children, just before stopping
    worker_cpu_ms: float  # per job, worker processes (main + children)
    pg_cpu_ms: float  # per job, PostgreSQL backends of the bench database


def drain_once(
    ctx: Context,
    system: str,
    tag: str,
    jobs: int,
    requests: Iterable[JobRequest] | None = None,
    config: NoopConfig | None = None,
) -> Drain:
    """Fill, start, drain, measure.

    ``requests`` are the schedq jobs (``jobs`` of them); by default ``set_working_plan`` jobs
    for a fresh set of doctors per call. ``system == "ceiling"`` runs the no-op ``config``
    (``"default"`` is the ceiling app with Celery's defaults).
    """
    env = ctx.env
    url = get_settings().database_url
    if system == "default":
        system, config = "ceiling", CELERY_DEFAULTS
    if system == "schedq":
        if requests is None:
            requests = load.requests(tag, jobs, ctx.size.doctors)
        load.submit_all(Client(submitter=tag), requests)
        start = partial(Node, SCHEDQ_APP)
    elif system == "ceiling":
        if config is None:
            raise ValueError("the ceiling system needs a NoopConfig")
        load.fill_baseline(baseline.NOOP, jobs)
        start = partial(
            Node,
            CEILING_APP,
            env={"BENCH_CEILING": config.features},
            events=config.events,
            loglevel=config.loglevel,
        )
    else:
        load.fill_baseline(baseline.NOOP if system == "noop" else baseline.INSERT, jobs)
        start = partial(Node, BASELINE_APP)
    pg_before = pgcpu.backends(url)
    node = start(log_dir=env.log_dir, name=tag)
    try:
        seconds, worker_cpu = drain_window(env.redis(), jobs, node, ctx.size.timeout)
        rss = node.rss_kib()
        pg_cpu = pgcpu.used_since(url, pg_before)
    finally:
        node.stop()
    if system == "schedq":
        done = load.count_status(tag, "succeeded")
        if done != jobs:
            raise RuntimeError(f"{tag}: {done} of {jobs} jobs succeeded (see {node.log_path})")
    return Drain(jobs / seconds, rss, 1000 * worker_cpu / jobs, 1000 * pg_cpu / jobs)


def run(ctx: Context) -> Figure:
    fig = Figure("throughput", ctx.command("throughput"))
    rates: dict[str, list[float]] = {s: [] for s in SYSTEMS}
    rss: dict[str, list[dict[str, list[int]]]] = {s: [] for s in SYSTEMS}
    cpu: dict[str, list[float]] = {s: [] for s in SYSTEMS}
    pg: dict[str, list[float]] = {s: [] for s in SYSTEMS}
    for i in range(ctx.runs):
        k = i % len(SYSTEMS)
        order = SYSTEMS[k:] + SYSTEMS[:k]
        for system in order:
            d = drain_once(ctx, system, f"tp{i}-{system}-{ctx.env.run_id}", ctx.size.jobs)
            rates[system].append(d.rate)
            rss[system].append(d.rss_kib)
            cpu[system].append(d.worker_cpu_ms)
            pg[system].append(d.pg_cpu_ms)
            print(
                f"  throughput run {i + 1}: {system} {d.rate:.0f} jobs/s, CPU/job worker "
                f"{d.worker_cpu_ms:.2f} ms + PostgreSQL {d.pg_cpu_ms:.2f} ms",
                flush=True,
            )
    fig.rows.append(
        Row.compare(
            f"{ctx.size.jobs} set_working_plan jobs drained",
            "jobs/s",
            rates["schedq"],
            "hardened no-op",
            rates["noop"],
            (">=", 1.0),
        )
    )
    fig.rows.append(
        Row.compare(
            "same, against Celery as shipped",
            "jobs/s",
            rates["schedq"],
            "Celery default no-op",
            rates["default"],
            (">=", 0.5),
        )
    )
    fig.rows.append(
        Row.compare(
            "same, against a one-INSERT task",
            "jobs/s",
            rates["schedq"],
            "Celery 1-INSERT",
            rates["insert"],
        )
    )
    fig.rows.append(
        Row.compare(
            "1-INSERT task vs no-op (reference)",
            "jobs/s",
            rates["insert"],
            "hardened no-op",
            rates["noop"],
        )
    )
    fig.rows.append(
        Row.compare(
            "hardened no-op vs Celery as shipped (reference)",
            "jobs/s",
            rates["noop"],
            "Celery default no-op",
            rates["default"],
        )
    )
    total = {s: [a + b for a, b in zip(cpu[s], pg[s], strict=True)] for s in SYSTEMS}
    for system, name in (
        ("noop", "hardened no-op"),
        ("insert", "Celery 1-INSERT"),
        ("default", "Celery default no-op"),
    ):
        fig.rows.append(
            Row.compare(
                "CPU per job: worker processes + PostgreSQL backends",
                "ms",
                total["schedq"],
                name,
                total[system],
            )
        )
    fig.rows.append(
        Row.compare(
            "  of which worker processes", "ms", cpu["schedq"], "hardened no-op", cpu["noop"]
        )
    )
    fig.notes.append(
        "CPU per job is read from /proc (utime+stime) over the drain window: the node's main "
        "process and pool children, and the PostgreSQL backends of the bench database. It is "
        "far less noisy than jobs/s on a shared machine and shows where the gap comes from."
    )
    fig.notes.append(
        "Topology: one node `celery worker -Q schedule,calendar -c 2 -P prefork -E "
        "--loglevel INFO` per system (schedq: `-A bench.schedq_app` = worker.app; baselines: "
        "`-A bench.baseline`), same celery_config (JSON, acks_late, prefetch 1, events on). "
        "schedq's worker batches its task events (worker.runtime.task_events); the hardened "
        "no-op uses Celery's own event flush. Celery as shipped: `-A bench.ceiling_app` with "
        "no -E and --loglevel WARNING."
    )
    fig.raw = {"rates": rates, "rss_kib": rss, "worker_cpu_ms": cpu, "pg_cpu_ms": pg}
    ctx.shared["throughput"] = {"rates": rates, "rss_kib": rss}
    return fig
