"""Figure 4, scaling with history: booking throughput with many existing appointments against few.

Two private databases, identical but for the appointments table: ``history_small`` rows in one,
``history_large`` (1,000,000 at full size) in the other. Each is bulk-loaded with SQL
(``INSERT ... SELECT generate_series``): the same 1,000 doctors, one working plan each (the
calendar of ``bench.load``: every day 08:00-18:00 Europe/Berlin, 15-minute slots; its weekdays
stored as ``set_working_plan`` stores them), and the appointments, in those doctors' calendars.

Job kind: ``book_appointment``. Each job locks its doctor, loads the doctor's schedule two days
either side of the slot (``shared.schedule_reader``; the appointments part is
``active_appointments_sql``), checks the rules and inserts the appointment, which PostgreSQL
checks against the exclusion constraint ``ex_appointments_no_double_booking`` (a GiST search).
Both must stay index-bound as history grows; the figure EXPLAINs both on each database.

Layout: bookings start a week from today, on the first 15-minute slot of each half hour
(``load.book_requests``; run ``i`` takes booking numbers ``i * jobs`` onwards, the same in both
databases, so no job conflicts). The existing appointments take the second slot of each half
hour, one per doctor per day, 80% of each doctor's days before the first booked day (back into
the past) and 20% from it on: the booked days hold existing appointments in both databases, and
the conflict checks search among them. They are all ``booked`` (active), so every one of them is
in the exclusion constraint's partial index: the worst case (real past ones would be fulfilled).
Runs alternate between the databases (the workers and the producer are re-pointed each time).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from bench import load
from bench.context import Context
from bench.figures.throughput import drain_once
from bench.report import Figure, Row
from bench.urls import plain_url
from shared.db.schedule import ACTIVE_APPOINTMENT_STATUSES
from shared.schedule_reader import MARGIN, active_appointments_sql

KIND = "book_appointment"
DOCTORS = 1_000
PREFIX = "h"
PAST_SHARE = 0.8  # of each doctor's existing appointments, on days before the first booked day
BOOK_AFTER = timedelta(days=7)  # the first booked day, from today (local)

LOAD = (
    """
INSERT INTO doctors (id, time_zone)
SELECT %(prefix)s || '-' || d, %(zone)s FROM generate_series(0, %(doctors)s - 1) AS d
""",
    """
INSERT INTO working_plans (doctor_id, valid_from, slot_minutes, weekdays, job_id)
SELECT %(prefix)s || '-' || d, %(valid_from)s, %(slot_minutes)s, %(weekdays)s, 'bench-history'
FROM generate_series(0, %(doctors)s - 1) AS d
""",
    # Row i: doctor i % doctors, that doctor's (i / doctors)-th day from the first history day,
    # second slot of half-hour pair (i / doctors) % pairs; local wall time, then to an instant.
    """
INSERT INTO appointments (id, doctor_id, starts_at, ends_at, seat, status, patient_ref)
SELECT gen_random_uuid(), doctor_id, local AT TIME ZONE %(zone)s,
       (local + %(slot)s) AT TIME ZONE %(zone)s, 1, 'booked', 'bench:history/' || i
FROM (
    SELECT i, %(prefix)s || '-' || (i %% %(doctors)s) AS doctor_id,
           %(valid_from)s + i / %(doctors)s + %(day_start)s
               + ((i / %(doctors)s) %% %(pairs)s) * 2 * %(slot)s + %(slot)s AS local
    FROM generate_series(0, %(rows)s - 1) AS i
) AS h
""",
    "ANALYZE",
)

ACTIVE = ", ".join(f"'{s}'" for s in ACTIVE_APPOINTMENT_STATUSES)
# What the exclusion constraint searches for when a booking is inserted (seat 1).
EXCLUSION_PROBE = f"""
SELECT 1 FROM appointments
WHERE doctor_id = %(doctor)s AND seat = 1 AND status IN ({ACTIVE})
  AND tstzrange(starts_at, ends_at, '[)') && tstzrange(%(start)s, %(end)s, '[)')
"""


def history_days(rows: int) -> tuple[int, int]:
    """(days of history per doctor, how many of them before the first booked day)."""
    days = -(-rows // DOCTORS)
    return days, int(days * PAST_SHARE)


def _database(ctx: Context, label: str, rows: int, day0: date) -> tuple[str, float]:
    url = ctx.env.create_database(label)
    past = history_days(rows)[1]
    plan = load.calendar_plan(f"{PREFIX}-0", day0 - timedelta(days=past))
    params = {
        "prefix": PREFIX,
        "doctors": DOCTORS,
        "rows": rows,
        "zone": load.CALENDAR_ZONE,
        "valid_from": plan.valid_from,
        "slot_minutes": plan.slot_minutes,
        "weekdays": Jsonb(plan.stored_weekdays()),
        "day_start": load.DAY_START,
        "slot": load.SLOT,
        "pairs": load.PAIRS_PER_DAY,
    }
    t0 = time.perf_counter()
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        for stmt in LOAD:
            conn.execute(stmt, params)
    return url, time.perf_counter() - t0


def _plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """Scan nodes, rows and buffers of an EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) plan."""
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Scan" in node["Node Type"]:
            scans.append(f"{node['Node Type']} {node.get('Index Name', node.get('Relation Name'))}")
        for child in node.get("Plans", []):
            walk(child)

    top = plan["Plan"]
    walk(top)
    return {
        "scans": scans,
        "rows": top["Actual Rows"],
        "buffers": top["Shared Hit Blocks"] + top["Shared Read Blocks"],
        "ms": plan["Execution Time"],
    }


def explain(url: str, day0: date) -> dict[str, dict[str, Any]]:
    """EXPLAIN ANALYZE the two conflict checks of doctor 0's first booking."""
    start = datetime.combine(day0, load.DAY_START, ZoneInfo(load.CALENDAR_ZONE))
    end = start + load.SLOT
    doctor = f"{PREFIX}-0"
    queries = {
        "window": active_appointments_sql(doctor, start - MARGIN, end + MARGIN),
        "exclusion": (EXCLUSION_PROBE, {"doctor": doctor, "start": start, "end": end}),
    }
    out = {}
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        for name, (sql, params) in queries.items():
            # Run once first: a fresh backend's first GiST scan reads catalog pages (btree_gist's
            # support functions) that EXPLAIN counts as the scan's buffers.
            conn.execute(sql, params).fetchall()
            row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()
            assert row is not None
            out[name] = _plan_summary(row[0][0])
    return out


def run(ctx: Context) -> Figure:
    fig = Figure("history", ctx.command("history"))
    small, large = ctx.size.history_small, ctx.size.history_large
    jobs = ctx.size.history_jobs
    day0 = datetime.now(ZoneInfo(load.CALENDAR_ZONE)).date() + BOOK_AFTER
    dbs = {}
    for label, rows in (("small", small), ("large", large)):
        dbs[label], seconds = _database(ctx, f"h{label}", rows, day0)
        print(f"  history: {rows} appointments loaded in {seconds:.0f}s", flush=True)
        fig.raw[f"load_seconds_{label}"] = seconds
    rates: dict[str, list[float]] = {"small": [], "large": []}
    cpu: dict[str, list[float]] = {"small": [], "large": []}
    pg: dict[str, list[float]] = {"small": [], "large": []}
    try:
        for i in range(ctx.runs):
            for label in ("small", "large") if i % 2 == 0 else ("large", "small"):
                ctx.env.use_database(dbs[label])
                tag = f"hist{i}-{label}-{ctx.env.run_id}"
                reqs = load.book_requests(PREFIX, DOCTORS, jobs, i * jobs, day0)
                d = drain_once(ctx, "schedq", tag, jobs, reqs)
                rates[label].append(d.rate)
                cpu[label].append(d.worker_cpu_ms + d.pg_cpu_ms)
                pg[label].append(d.pg_cpu_ms)
                print(
                    f"  history run {i + 1}: {label} {d.rate:.0f} jobs/s, CPU/job worker "
                    f"{d.worker_cpu_ms:.2f} ms + PostgreSQL {d.pg_cpu_ms:.2f} ms",
                    flush=True,
                )
    finally:
        ctx.env.use_database(ctx.env.database_url)
    plans = {label: explain(url, day0) for label, url in dbs.items()}
    fig.rows.append(
        Row.compare(
            f"{jobs} {KIND} jobs, {large:,} vs {small:,} appointments",
            "jobs/s",
            rates["large"],
            f"schedq with {small:,} appointments",
            rates["small"],
            (">=", 0.9),
        )
    )
    fig.rows.append(
        Row.compare(
            "CPU per job: worker processes + PostgreSQL backends",
            "ms",
            cpu["large"],
            f"schedq with {small:,} appointments",
            cpu["small"],
        )
    )
    fig.rows.append(
        Row.compare(
            "  of which PostgreSQL backends",
            "ms",
            pg["large"],
            f"schedq with {small:,} appointments",
            pg["small"],
        )
    )
    days, past = history_days(large)
    fig.notes.append(
        f"Job kind {KIND}, {DOCTORS:,} doctors; the large database holds {days:,} days of "
        f"appointments per doctor, one a day, {past:,} of those days before the first booked day "
        f"({day0.isoformat()}), all active. Both conflict checks of a booking, EXPLAIN ANALYZE "
        "after the runs (large / small database): "
        + "; ".join(
            f"{name}: {_describe(plans['large'][name])} / {_describe(plans['small'][name])}"
            for name in ("window", "exclusion")
        )
        + "."
    )
    fig.raw.update(rates=rates, cpu_ms=cpu, pg_cpu_ms=pg)
    fig.raw["explain"] = plans
    return fig


def _describe(summary: dict[str, Any]) -> str:
    return (
        f"{', '.join(summary['scans'])}, {summary['rows']} rows, {summary['buffers']} buffers, "
        f"{summary['ms']:.2f} ms"
    )
