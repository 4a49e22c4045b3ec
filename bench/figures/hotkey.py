"""The hot-key figure: N jobs on one doctor against N jobs spread over many doctors.

All work on one doctor is serialised (the doctor's advisory lock, then per-doctor order), so a
hot key runs one job at a time however many pool children there are, while the other child
waits on the lock. Spread load has no such wait; what it may cost instead is per-doctor state
(a doctor row and a plan per doctor, the ordering check over more keys). The figure shows both,
as rates and as CPU per job (worker processes and PostgreSQL backends), measured side by side.
"""

from __future__ import annotations

from bench import load
from bench.context import Context
from bench.figures.throughput import drain_once
from bench.report import Figure, Row


def run(ctx: Context) -> Figure:
    fig = Figure("hotkey", ctx.command("hotkey"))
    jobs, doctors = ctx.size.hotkey_jobs, ctx.size.hotkey_doctors
    shapes = {"hot": 1, "spread": doctors}
    rates: dict[str, list[float]] = {s: [] for s in shapes}
    cpu: dict[str, list[float]] = {s: [] for s in shapes}
    for i in range(ctx.runs):
        order = list(shapes) if i % 2 == 0 else list(reversed(shapes))
        for shape in order:
            tag = f"hk{i}-{shape}-{ctx.env.run_id}"
            reqs = load.requests(tag, jobs, shapes[shape])
            d = drain_once(ctx, "schedq", tag, jobs, requests=reqs)
            rates[shape].append(d.rate)
            cpu[shape].append(d.worker_cpu_ms + d.pg_cpu_ms)
            print(
                f"  hotkey run {i + 1}: {shape} {d.rate:.0f} jobs/s, CPU/job "
                f"{d.worker_cpu_ms + d.pg_cpu_ms:.2f} ms",
                flush=True,
            )
    fig.rows.append(
        Row.compare(
            f"{jobs} jobs spread over {doctors} doctors",
            "jobs/s",
            rates["spread"],
            "all on one doctor",
            rates["hot"],
        )
    )
    fig.rows.append(
        Row.compare(
            "CPU per job, spread (worker + PostgreSQL): spread load costs nothing extra",
            "ms",
            cpu["spread"],
            "all on one doctor",
            cpu["hot"],
            ("<=", 1.05),
        )
    )
    fig.notes.append(
        f"set_working_plan jobs submitted in batches before the node starts; hot: every job on "
        f"one doctor, spread: round-robin over {doctors} doctors; README topology (-c 2)."
    )
    fig.raw = {"rates": rates, "cpu_ms": cpu}
    return fig
