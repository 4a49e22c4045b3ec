"""Figure 4, scaling with history: throughput with many existing appointments against few.

Two private databases, identical but for the appointments table: ``history_small`` rows in one,
``history_large`` (1,000,000 at full size) in the other, bulk-loaded with one
``INSERT ... SELECT generate_series`` each, spread over the same 1,000 doctors the jobs touch.
Runs alternate between the databases (the workers and the producer are re-pointed each time).

Job kind: ``set_working_plan`` (the only kind on this branch). It locks the doctor row, upserts
the plan and audits; it does not read appointments, so this figure shows what history costs the
shared path (ledger, doctor rows, FK targets, cache pressure). HOOK: once ``book_appointment``
lands, set ``KIND`` below to it and build its payloads in ``load.requests``; its conflict check
and the exclusion constraint are what must stay index-bound as history grows.
"""

from __future__ import annotations

import time

import psycopg

from bench.context import Context
from bench.figures.throughput import drain_once
from bench.report import Figure, Row
from bench.urls import plain_url

KIND = "set_working_plan"
DOCTORS = 1_000
PREFIX = "h"

LOAD = """
INSERT INTO doctors (id, time_zone)
SELECT %(prefix)s || '-' || d, 'Europe/Berlin' FROM generate_series(0, %(doctors)s - 1) AS d;
INSERT INTO appointments (id, doctor_id, starts_at, ends_at, seat, status, patient_ref)
SELECT gen_random_uuid(),
       %(prefix)s || '-' || (i %% %(doctors)s),
       timestamptz '2020-01-06 08:00+00' + (i / %(doctors)s) * interval '30 minutes',
       timestamptz '2020-01-06 08:20+00' + (i / %(doctors)s) * interval '30 minutes',
       1, 'booked', 'patient-' || i
FROM generate_series(0, %(rows)s - 1) AS i;
ANALYZE;
"""


def _database(ctx: Context, label: str, rows: int) -> tuple[str, float]:
    url = ctx.env.create_database(label)
    t0 = time.perf_counter()
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        for stmt in LOAD.split(";"):
            if stmt.strip():
                conn.execute(stmt, {"prefix": PREFIX, "doctors": DOCTORS, "rows": rows})
    return url, time.perf_counter() - t0


def run(ctx: Context) -> Figure:
    fig = Figure("history", ctx.command("history"))
    small, large = ctx.size.history_small, ctx.size.history_large
    dbs = {}
    for label, rows in (("small", small), ("large", large)):
        dbs[label], seconds = _database(ctx, f"h{label}", rows)
        print(f"  history: {rows} appointments loaded in {seconds:.0f}s", flush=True)
        fig.raw[f"load_seconds_{label}"] = seconds
    rates: dict[str, list[float]] = {"small": [], "large": []}
    try:
        for i in range(ctx.runs):
            for label in ("small", "large") if i % 2 == 0 else ("large", "small"):
                ctx.env.use_database(dbs[label])
                tag = f"hist{i}-{label}-{ctx.env.run_id}"
                rate = drain_once(
                    ctx, "schedq", tag, ctx.size.history_jobs, doctors=(PREFIX, DOCTORS)
                ).rate
                rates[label].append(rate)
                print(f"  history run {i + 1}: {label} {rate:.0f} jobs/s", flush=True)
    finally:
        ctx.env.use_database(ctx.env.database_url)
    fig.rows.append(
        Row.compare(
            f"{ctx.size.history_jobs} {KIND} jobs, {large:,} vs {small:,} appointments",
            "jobs/s",
            rates["large"],
            f"schedq with {small:,} appointments",
            rates["small"],
            (">=", 0.9),
        )
    )
    fig.notes.append(
        f"Job kind {KIND}: it does not read appointments, so this measures the shared path "
        "only; re-run with book_appointment once it lands (hook in bench/figures/history.py)."
    )
    fig.raw["rates"] = rates
    return fig
