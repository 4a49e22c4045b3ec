"""Figure 6, memory: worker RSS per process after N jobs against a Celery no-op worker's (with
schedq's hardened configuration, and with Celery's defaults), and RSS of one long-lived schedq
worker across an endurance run.

Per-process RSS comes from figure 1's nodes (read just before each node stops, after it drained
N jobs) when figure 1 ran in this invocation, otherwise from fresh drains. The endurance run is
one node fed in ten equal chunks; children's RSS is sampled after each chunk has drained.
"""

from __future__ import annotations

import statistics

from bench import load
from bench.context import Context
from bench.figures.throughput import drain_once
from bench.nodes import SCHEDQ_APP, Node, drain_window
from bench.report import Figure, Row
from producers.client import Client

CHUNKS = 10


def _per_process(ctx: Context) -> dict[str, list[dict[str, list[int]]]]:
    known = ctx.shared.get("throughput")
    if known:
        return {s: known["rss_kib"][s] for s in ("schedq", "noop", "default")}
    out: dict[str, list[dict[str, list[int]]]] = {"schedq": [], "noop": [], "default": []}
    for i in range(ctx.runs):
        for system in out:
            tag = f"mem{i}-{system}-{ctx.env.run_id}"
            out[system].append(drain_once(ctx, system, tag, ctx.size.jobs).rss_kib)
    return out


def _mib(kib: list[int]) -> float:
    return statistics.mean(kib) / 1024 if kib else float("nan")


def endurance(ctx: Context) -> list[float]:
    """Mean pool-child RSS (MiB) after each chunk of one long-lived node's work."""
    tag = f"endure-{ctx.env.run_id}"
    chunk = max(1, ctx.size.endurance_jobs // CHUNKS)
    client = Client(submitter=tag)
    node = Node(SCHEDQ_APP, ctx.env.log_dir, tag)
    samples = []
    try:
        node.wait_ready()
        for i in range(CHUNKS):
            load.fill_schedq(client, f"{tag}-{i}", chunk, ctx.size.doctors)
            drain_window(ctx.env.redis(), chunk, node, ctx.size.timeout)
            samples.append(_mib(node.rss_kib()["children"]))
            print(
                f"  endurance: {(i + 1) * chunk} jobs, children {samples[-1]:.1f} MiB", flush=True
            )
    finally:
        node.stop()
    return samples


def run(ctx: Context) -> Figure:
    fig = Figure("memory", ctx.command("memory"))
    rss = _per_process(ctx)
    child = {s: [_mib(r["children"]) for r in runs] for s, runs in rss.items()}
    main = {s: [_mib(r["main"]) for r in runs] for s, runs in rss.items()}
    fig.rows.append(
        Row.compare(
            f"RSS per pool child after {ctx.size.jobs:,} jobs",
            "MiB",
            child["schedq"],
            "Celery no-op child",
            child["noop"],
            ("<=", 1.2),
        )
    )
    fig.rows.append(
        Row.compare(
            "same, against Celery as shipped",
            "MiB",
            child["schedq"],
            "Celery default no-op child",
            child["default"],
        )
    )
    fig.rows.append(
        Row.compare(
            "RSS of the worker's main process",
            "MiB",
            main["schedq"],
            "Celery no-op main",
            main["noop"],
        )
    )
    samples = endurance(ctx)
    fig.rows.append(
        Row.compare(
            f"endurance: child RSS after {ctx.size.endurance_jobs:,} jobs vs after the first tenth",
            "MiB",
            [samples[-1]],
            "same node, first tenth",
            [samples[0]],
            ("<=", 1.05),
        )
    )
    fig.notes.append(
        f"Endurance run: ONE long-lived node, {ctx.size.endurance_jobs:,} jobs (the issue asks "
        "for 100,000: `--size full`; tiny and small run fewer), so its row is a single run; "
        "'no growth' is read as <= 5% over the run. Child RSS per chunk: "
        + ", ".join(f"{s:.1f}" for s in samples)
        + " MiB."
    )
    fig.raw = {"rss_kib": rss, "endurance_child_mib": samples}
    return fig
