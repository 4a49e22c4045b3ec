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
from tests import probe_kinds
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
    assert delta(before, after, "schedq_deliveries_total", kind=KIND, outcome="retry") == 1
    assert delta(before, after, "schedq_deliveries_total", kind=KIND, outcome="succeeded") == 1
    # The job is counted once, by its final status; the retry is not a job.
    assert delta(before, after, "schedq_jobs_total", kind=KIND, outcome="succeeded") == 1
    assert delta(before, after, "schedq_job_latency_seconds_count", kind=KIND) == 1


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
    # Task arguments in Flower are the job id only: the message's argsrepr, which the producer
    # builds from the argument list (shared/ledger/publish.py), so a list's repr.
    assert shown["args"] == f"['{view.id}']"
    assert "flower_events_total" in httpx.get(f"{flower}/metrics", timeout=10).text


AUTH = ("operator", "s3cret")


def flower_task(flower: str, task_id: str, final: bool = True) -> dict[str, Any] | None:
    found = httpx.get(f"{flower}/api/task/info/{task_id}", auth=AUTH, timeout=10)
    if found.status_code != 200:
        return None
    task: dict[str, Any] = found.json()
    return task if not final or task.get("state") in ("SUCCESS", "FAILURE") else None


def test_flower_states_follow_the_ledger(node: Node, flower: str, uid: str) -> None:
    """Succeeded, rejected, retried then succeeded, dead, and a job that waited for the one
    before it (per-doctor order): Flower's state of each job's task matches the ledger."""
    probe_kinds.install()
    assert wait_until(
        lambda: node.proc.name in httpx.get(f"{flower}/api/workers", auth=AUTH, timeout=15).json(),
        timeout=20,
    )
    ok = node.client.submit(KIND, plan(f"fs-{uid}"))
    rejected = node.client.submit(KIND, plan(f"fr-{uid}", start="17:00", end="09:00"))
    flaky = {"doctor_id": f"ft-{uid}", "fail_with": "network", "fail_times": 1}
    retried = node.client.submit("test_touch", flaky)
    dead = node.client.submit("test_touch", {"doctor_id": f"fd-{uid}", "fail_with": "unexpected"})
    # An earlier job of a doctor parked on a queue nobody consumes: the next one waits for it.
    waits_before = node.scrape()
    slow = Client(Settings(schedule_queue=f"nowhere-{uid}")).submit(
        "test_touch", {"doctor_id": f"fw-{uid}"}
    )
    waiting = node.client.submit("test_touch", {"doctor_id": f"fw-{uid}"})
    assert wait_until(
        lambda: (
            delta(waits_before, node.scrape(), "schedq_job_waits_total", kind="test_touch") >= 2
        ),
        timeout=20,
    ), node.proc.log()
    task_name = get_kind("test_touch").task_name
    publish(producer_app(node.client.settings), [Envelope(slow.id, task_name, node.queue, "c")])
    expected = {
        ok.id: ("succeeded", "SUCCESS"),
        rejected.id: ("rejected", "FAILURE"),
        retried.id: ("succeeded", "SUCCESS"),
        dead.id: ("dead", "FAILURE"),
        slow.id: ("succeeded", "SUCCESS"),
        waiting.id: ("succeeded", "SUCCESS"),
    }
    for job_id, (status, _) in expected.items():
        assert node.client.wait(job_id, timeout=30).status == status, node.proc.log()
    for job_id, (_, state) in expected.items():
        assert wait_until(lambda j=job_id: flower_task(flower, j), timeout=20), job_id
        shown = flower_task(flower, job_id)
        assert shown is not None and shown["state"] == state, (job_id, shown)
    rejected_task = flower_task(flower, rejected.id)
    dead_task = flower_task(flower, dead.id)
    assert rejected_task is not None and dead_task is not None
    # The error code only: no message, details or payload.
    assert "rejected VALIDATION_FAILED" in rejected_task["exception"]
    assert "dead UNEXPECTED_ERROR" in dead_task["exception"]
    assert f"fr-{uid}" not in rejected_task["exception"] + str(rejected_task.get("traceback"))
    # A real retry shows as one; a wait for an earlier job of the doctor does not.
    retried_task = flower_task(flower, retried.id)
    waiting_task = flower_task(flower, waiting.id)
    assert retried_task is not None and retried_task["retries"] == 1
    assert waiting_task is not None and waiting_task["retries"] == 0
    assert node.client.get_job(waiting.id).attempts == 1
    # The dead job's notice did not rename its task.
    assert dead_task["name"] == get_kind("test_touch").task_name
