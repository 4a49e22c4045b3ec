"""Metrics, JSON logs and Flower, observed from a real worker node running real jobs.

The node consumes a queue of its own (``SCHEDQ_SCHEDULE_QUEUE``), so no other worker of the run
takes these jobs and the counters move by exactly what this module sends.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from producers.client import Client
from schedq.processes import free_port, spawn, stop, wait_for_http
from shared.kinds import get_kind
from shared.ledger.publish import Envelope, producer_app, publish
from shared.settings import Settings, get_settings
from tests.conftest import run_queue, wait_until
from tests.e2e.test_spine import plan
from tests.workers import WorkerProcess

KIND = "set_working_plan"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Node:
    def __init__(self, proc: WorkerProcess, queue: str, port: int) -> None:
        self.proc, self.queue, self.port = proc, queue, port
        self.client = Client(Settings(schedule_queue=queue), submitter="ops-e2e")

    def scrape(self) -> Samples:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }


@pytest.fixture(scope="module")
def node(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    queue = run_queue(f"ops-{uuid.uuid4().hex[:8]}")
    tmp = tmp_path_factory.mktemp("ops-node")
    port = free_port()
    env = {
        "SCHEDQ_SCHEDULE_QUEUE": queue,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
        "SCHEDQ_METRICS_PORT": str(port),
        # libpq passes this to every session: a job blocked on a lock fails fast (retryable).
        "PGOPTIONS": "-c lock_timeout=1000",
    }
    (tmp / "prom").mkdir()
    proc = WorkerProcess(tmp, "ops", queues=queue, concurrency=2, env=env)
    proc.wait_ready()
    assert wait_for_http(f"http://127.0.0.1:{port}/metrics"), proc.log()
    yield Node(proc, queue, port)
    proc.stop()


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_move_with_real_jobs(node: Node, uid: str) -> None:
    before = node.scrape()
    good = node.client.submit(KIND, plan(f"m-{uid}"))
    bad = node.client.submit(KIND, plan(f"mb-{uid}", start="17:00", end="09:00"))
    assert node.client.wait(good.id).status == "succeeded", node.proc.log()
    assert node.client.wait(bad.id).status == "rejected"
    after = node.scrape()
    for outcome in ("succeeded", "rejected"):
        assert delta(before, after, "schedq_jobs_total", kind=KIND, outcome=outcome) == 1
    assert delta(before, after, "schedq_job_duration_seconds_count", kind=KIND) == 2
    assert delta(before, after, "schedq_job_duration_seconds_sum", kind=KIND) > 0
    code = "SHIFT_END_NOT_AFTER_START"
    assert delta(before, after, "schedq_validation_failures_total", code=code) == 1


def test_crash_looping_job_counts_as_dead_letter(node: Node, uid: str) -> None:
    # Recorded for a queue nobody consumes, then marked as having killed its worker 5 times.
    parked = Client(Settings(schedule_queue=run_queue(f"nowhere-{uid}"))).submit(
        KIND, plan(f"k-{uid}")
    )
    with psycopg.connect(get_settings().database_url.replace("+psycopg", "")) as conn:
        conn.execute("UPDATE jobs SET unfinished_deliveries = 5 WHERE id = %s", (parked.id,))
    before = node.scrape()
    kind = get_kind(KIND)
    publish(
        producer_app(node.client.settings), [Envelope(parked.id, kind.task_name, node.queue, "c")]
    )
    assert node.client.wait(parked.id).status == "dead"
    after = node.scrape()
    assert delta(before, after, "schedq_jobs_total", kind=KIND, outcome="dead") == 1
    code = "WORKER_CRASH_LOOP"
    assert delta(before, after, "schedq_dead_letters_total", kind=KIND, code=code) == 1


def test_lock_timeout_counts_a_retry_by_category(node: Node, uid: str) -> None:
    doctor = f"r-{uid}"
    before = node.scrape()
    # Hold the doctor's advisory lock so the first delivery hits the lock timeout.
    with psycopg.connect(get_settings().database_url.replace("+psycopg", "")) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (doctor,))
        view = node.client.submit(KIND, plan(doctor))
        assert wait_until(
            lambda: (
                delta(
                    before,
                    node.scrape(),
                    "schedq_job_retries_total",
                    kind=KIND,
                    category="DATABASE",
                )
                == 1
            ),
            timeout=20,
        ), node.proc.log()
    assert node.client.wait(view.id, timeout=30).status == "succeeded"
    after = node.scrape()
    assert delta(before, after, "schedq_jobs_total", kind=KIND, outcome="retry") == 1
    assert delta(before, after, "schedq_jobs_total", kind=KIND, outcome="succeeded") == 1


def job_log_lines(node: Node, job_id: str) -> list[dict[str, Any]]:
    lines = []
    for raw in node.proc.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            record = json.loads(raw)
            if record.get("job_id") == job_id:
                lines.append(record)
    return lines


def test_log_lines_of_a_job_carry_its_correlation_id(node: Node, uid: str) -> None:
    view = node.client.submit(KIND, plan(f"l-{uid}"), correlation_id=f"corr-{uid}")
    assert node.client.wait(view.id).status == "succeeded"
    assert wait_until(lambda: job_log_lines(node, view.id), timeout=10), node.proc.log()
    lines = job_log_lines(node, view.id)
    assert all(line["correlation_id"] == f"corr-{uid}" for line in lines)
    assert all(line["kind"] == KIND and line["task_id"] == view.id for line in lines)
    assert {"time", "level", "logger", "message", "service"} <= set(lines[0])


@pytest.fixture
def flower(node: Node, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc: subprocess.Popen[bytes] = spawn(
        ["schedq.cli.main", "flower", "--port", str(port)],
        # Production, where Flower must demand a login (and test hooks are refused).
        {
            "SCHEDQ_FLOWER_BASIC_AUTH": "operator:s3cret",
            "SCHEDQ_ENV": "production",
        },
        tmp_path / "flower.log",
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/healthcheck", timeout=30), (
            tmp_path / "flower.log"
        ).read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_flower_requires_auth_and_sees_worker_and_finished_task(
    node: Node, flower: str, uid: str
) -> None:
    assert httpx.get(f"{flower}/api/workers", timeout=10).status_code == 401
    auth = ("operator", "s3cret")
    assert wait_until(
        lambda: (
            node.proc.name
            in httpx.get(f"{flower}/api/workers?refresh=1", auth=auth, timeout=15).json()
        ),
        timeout=20,
    )
    view = node.client.submit(KIND, plan(f"f-{uid}"))
    assert node.client.wait(view.id).status == "succeeded"

    def task() -> dict[str, Any] | None:
        tasks = httpx.get(f"{flower}/api/tasks", auth=auth, timeout=10).json()
        found = tasks.get(view.id)
        return found if found and found.get("state") == "SUCCESS" else None

    assert wait_until(task, timeout=20)
    shown = task()
    assert shown is not None and shown["name"] == get_kind(KIND).task_name
    # Task arguments in Flower are the job id only.
    assert shown["args"] in (f"['{view.id}']", f"('{view.id}',)")
    assert "flower_events_total" in httpx.get(f"{flower}/metrics", timeout=10).text
