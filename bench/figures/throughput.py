"""Figure 1, throughput: N jobs drained by the README topology, against bare Celery.

Each run fills the queue with the worker stopped, starts the node, and times the drain from the
first message taken to the last one acked (``bench.nodes.drain_window``). The three systems take
turns within each run, starting with a different one each run, so drift hits all of them.
RSS of every process is read just before the node stops (figure 6 reuses it).
"""

from __future__ import annotations

from bench import baseline, load
from bench.context import Context
from bench.nodes import BASELINE_APP, SCHEDQ_APP, Node, drain_window
from bench.report import Figure, Row
from producers.client import Client

SYSTEMS = ("schedq", "noop", "insert")


def drain_once(
    ctx: Context, system: str, tag: str, jobs: int, doctors: tuple[str, int] | None = None
) -> tuple[float, dict[str, list[int]]]:
    """Fill, start, drain, measure; returns (jobs per second, RSS in KiB).

    ``doctors`` is (id prefix, how many); by default a fresh set of doctors per call.
    """
    env = ctx.env
    if system == "schedq":
        prefix, count = doctors or (tag, ctx.size.doctors)
        load.fill_schedq(Client(submitter=tag), prefix, jobs, count)
        node = Node(SCHEDQ_APP, env.log_dir, tag)
    else:
        task = baseline.NOOP if system == "noop" else baseline.INSERT
        load.fill_baseline(task, jobs)
        node = Node(BASELINE_APP, env.log_dir, tag)
    try:
        seconds = drain_window(env.redis(), jobs, node, ctx.size.timeout)
        rss = node.rss_kib()
    finally:
        node.stop()
    if system == "schedq":
        done = load.count_status(tag, "succeeded")
        if done != jobs:
            raise RuntimeError(f"{tag}: {done} of {jobs} jobs succeeded (see {node.log_path})")
    return jobs / seconds, rss


def run(ctx: Context) -> Figure:
    fig = Figure("throughput", ctx.command("throughput"))
    rates: dict[str, list[float]] = {s: [] for s in SYSTEMS}
    rss: dict[str, list[dict[str, list[int]]]] = {s: [] for s in SYSTEMS}
    for i in range(ctx.runs):
        order = SYSTEMS[i % 3 :] + SYSTEMS[: i % 3]
        for system in order:
            rate, mem = drain_once(ctx, system, f"tp{i}-{system}-{ctx.env.run_id}", ctx.size.jobs)
            rates[system].append(rate)
            rss[system].append(mem)
            print(f"  throughput run {i + 1}: {system} {rate:.0f} jobs/s", flush=True)
    fig.rows.append(
        Row.compare(
            f"{ctx.size.jobs} set_working_plan jobs drained",
            "jobs/s",
            rates["schedq"],
            "Celery no-op",
            rates["noop"],
            (">=", 0.8),
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
            "Celery no-op",
            rates["noop"],
        )
    )
    fig.notes.append(
        "Topology: one node `celery worker -Q schedule,calendar -c 2 -P prefork -E "
        "--loglevel INFO` per system (schedq: `-A bench.schedq_app` = worker.app; baselines: "
        "`-A bench.baseline`), same celery_config (JSON, acks_late, prefetch 1, events on)."
    )
    fig.raw = {"rates": rates, "rss_kib": rss}
    ctx.shared["throughput"] = {"rates": rates, "rss_kib": rss}
    return fig
