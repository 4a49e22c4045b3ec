"""``schedq stats``: throughput, failure rate and latency percentiles per job kind, from the ledger.

For operators without Prometheus. Only jobs that finished inside the window count. Latency is
submit to the commit of the outcome (what an upstream system waits; ``finished_at`` is written
with ``clock_timestamp()``, not the transaction's start, which can precede a lock wait); run
time is first start to finish (includes retry back-offs). Failure rate is dead / (dead +
succeeded), the same ratio the alert uses; rejections (the job was wrong, not the system) are
shown apart.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from shared.db.base import get_engine

_WINDOW = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

_SQL = text(
    """
    SELECT kind,
           count(*) AS finished,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'dead') AS dead,
           percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
               ORDER BY EXTRACT(EPOCH FROM finished_at - created_at)) AS latency,
           percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
               ORDER BY EXTRACT(EPOCH FROM finished_at - coalesce(started_at, created_at))) AS run
    FROM jobs
    WHERE finished_at >= now() - :window
    GROUP BY kind
    ORDER BY kind
    """
)


def parse_window(value: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d``."""
    match = _WINDOW.match(value.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window must look like 30s, 15m, 1h or 7d (got {value!r})")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class KindStats:
    kind: str
    finished: int
    succeeded: int
    rejected: int
    dead: int
    per_minute: float
    failure_rate: float
    rejected_rate: float
    latency_p50: float
    latency_p95: float
    latency_p99: float
    run_p50: float
    run_p95: float
    run_p99: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def job_stats(database_url: str, window: timedelta) -> list[KindStats]:
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(_SQL, {"window": window}).all()
    minutes = window.total_seconds() / 60
    out = []
    for kind, finished, ok, rejected, dead, latency, run in rows:
        out.append(
            KindStats(
                kind=kind,
                finished=finished,
                succeeded=ok,
                rejected=rejected,
                dead=dead,
                per_minute=round(finished / minutes, 3),
                failure_rate=round(dead / (dead + ok), 4) if dead + ok else 0.0,
                rejected_rate=round(rejected / finished, 4),
                latency_p50=round(float(latency[0]), 3),
                latency_p95=round(float(latency[1]), 3),
                latency_p99=round(float(latency[2]), 3),
                run_p50=round(float(run[0]), 3),
                run_p95=round(float(run[1]), 3),
                run_p99=round(float(run[2]), 3),
            )
        )
    return out
