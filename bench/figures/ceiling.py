"""The ceiling's decomposition: Celery's no-op as shipped, then schedq's hardening one setting at
a time, so what each guarantee costs is a figure of its own.

Every configuration drains the same ``ceiling_jobs`` no-op tasks with the README topology
(prefork, 2 children); they take turns within a run, starting with a different one each run.
Each row's ratio is against Celery's defaults measured in the same run.
"""

from __future__ import annotations

from bench.context import Context
from bench.figures.throughput import CELERY_DEFAULTS, NoopConfig, drain_once
from bench.report import Figure, Row

HARDENED = "acks_late,limits"
CONFIGS = (
    CELERY_DEFAULTS,
    NoopConfig("+ prefetch 1 + acks_late", "acks_late", False, "WARNING"),
    NoopConfig("+ task events (-E)", "acks_late", True, "WARNING"),
    NoopConfig("+ INFO logs", "acks_late", True, "INFO"),
    NoopConfig("+ time limits: schedq's hardened configuration", HARDENED, True, "INFO"),
    NoopConfig(
        "hardened, task events batched (worker.runtime.task_events)",
        f"{HARDENED},batched_events",
        True,
        "INFO",
    ),
    NoopConfig("hardened without task events", HARDENED, False, "INFO"),
)


def run(ctx: Context) -> Figure:
    fig = Figure("ceiling", ctx.command("ceiling"))
    jobs = ctx.size.ceiling_jobs
    rates: dict[str, list[float]] = {c.label: [] for c in CONFIGS}
    cpu: dict[str, list[float]] = {c.label: [] for c in CONFIGS}
    for i in range(ctx.runs):
        k = i % len(CONFIGS)
        for n, config in enumerate(CONFIGS[k:] + CONFIGS[:k]):
            tag = f"ceil{i}-{n}-{ctx.env.run_id}"
            d = drain_once(ctx, "ceiling", tag, jobs, config=config)
            rates[config.label].append(d.rate)
            cpu[config.label].append(d.worker_cpu_ms)
            print(
                f"  ceiling run {i + 1}: {config.label}: {d.rate:.0f} tasks/s, "
                f"worker CPU {d.worker_cpu_ms:.2f} ms/task",
                flush=True,
            )
    base = CELERY_DEFAULTS.label
    for config in CONFIGS:
        fig.rows.append(
            Row.compare(
                config.label, "tasks/s", rates[config.label], "Celery defaults", rates[base]
            )
        )
    for config in CONFIGS:
        fig.rows.append(
            Row.compare(
                f"worker CPU per task: {config.label}",
                "ms",
                cpu[config.label],
                "Celery defaults",
                cpu[base],
            )
        )
    fig.notes.append(
        f"{jobs} no-op tasks per drain, published with kombu Producer.batch before the node "
        "starts; `-A bench.ceiling_app` (Celery's defaults plus what BENCH_CEILING names), "
        "`-c 2 -P prefork`, `-E` where the row says task events. With early acks (Celery's "
        "default) the drain ends when the last message is taken, up to 8 tasks early."
    )
    fig.raw = {"rates": rates, "worker_cpu_ms": cpu}
    return fig
