"""``schedq stats`` against ledger rows with known timings (its own job kind, so isolated)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert
from typer.testing import CliRunner

from schedq.cli.main import app
from schedq.ops.stats import parse_window
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork


def percentile_cont(values: list[float], p: float) -> float:
    ordered = sorted(values)
    pos = p * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@pytest.fixture
def kind(database_url: str, uid: str) -> Iterator[str]:
    name = f"stats-{uid}"
    now = datetime.now(UTC)
    rows = []
    # (status, seconds from submit to finish, minutes ago it finished)
    plan = [("succeeded", float(s), 5) for s in range(1, 11)]
    plan += [("dead", 30.0, 10), ("dead", 40.0, 10), ("rejected", 0.5, 1), ("succeeded", 99.0, 120)]
    for status, seconds, ago in plan:
        finished = now - timedelta(minutes=ago)
        rows.append(
            {
                "id": uuid.uuid4(),
                "kind": name,
                "queue": "schedule",
                "payload": {},
                "payload_hash": "x",
                "status": status,
                "correlation_id": "stats",
                "submitter": "test",
                "created_at": finished - timedelta(seconds=seconds),
                "started_at": finished - timedelta(seconds=seconds / 2),
                "finished_at": finished,
            }
        )
    with UnitOfWork() as uow:
        uow.session.execute(insert(Job), rows)
        uow.commit()
    yield name
    with UnitOfWork() as uow:
        uow.session.execute(delete(Job).where(Job.kind == name))
        uow.commit()


def test_stats_json_per_kind_over_the_window(kind: str) -> None:
    result = CliRunner().invoke(app, ["stats", "--window", "1h", "--json"])
    assert result.exit_code == 0, result.output
    mine = [k for k in json.loads(result.output)["kinds"] if k["kind"] == kind]
    assert len(mine) == 1
    row = mine[0]
    # The job that finished two hours ago is outside the window.
    assert (row["finished"], row["succeeded"], row["dead"], row["rejected"]) == (13, 10, 2, 1)
    assert row["failure_rate"] == round(2 / 12, 4)
    assert row["per_minute"] == round(13 / 60, 3)
    latencies = [float(s) for s in range(1, 11)] + [30.0, 40.0, 0.5]
    for p, field in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
        assert row[field] == pytest.approx(percentile_cont(latencies, p), abs=0.01)
    assert row["run_p50"] == pytest.approx(percentile_cont(latencies, 0.5) / 2, abs=0.01)


def test_stats_table_and_bad_window(kind: str) -> None:
    shown = CliRunner().invoke(app, ["stats", "--window", "30m"])
    assert shown.exit_code == 0 and kind in shown.output
    assert CliRunner().invoke(app, ["stats", "--window", "an hour"]).exit_code == 2
    assert parse_window("90s") == timedelta(seconds=90)
    assert parse_window("7d") == timedelta(days=7)
