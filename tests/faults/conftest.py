"""Fault-suite fixtures: a private broker per test, real workers and beat, ledger audits.

With SCHEDQ_TEST_BROKER=redis (default) every test gets its own ``redis-server`` on a free port
(it may flush, stop or restart it). With SCHEDQ_TEST_BROKER=amqp it gets queues of its own on
the machine's RabbitMQ (a per-test name prefix; wiping purges them, stopping and starting is
``rabbitmqctl stop_app``/``start_app`` on the shared server). Tests use ``rig.broker`` only.
Short limits are set through SCHEDQ_* variables that the workers it starts inherit. The
database is the run's private one from ``tests/conftest.py`` except where a test restarts
PostgreSQL (it then starts the embedded one). Figures each test measured are printed and, when
SCHEDQ_FAULT_REPORT names a file, appended to it as JSON lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from producers.client import Client, JobRequest
from schedq.embedded import redis_server_binary
from schedq.processes import free_port, spawn, stop
from shared.db.jobs import AuditEntry, Job
from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.settings import Settings, get_settings, reset_settings_cache
from tests import probe_kinds
from tests.conftest import AMQP_URL, RUN, TEST_BROKER, delete_amqp_queues, queue_names
from tests.workers import WorkerProcess

probe_kinds.install()

# Short limits so worker deaths are noticed in seconds (production defaults are minutes).
FAULT_ENV = {
    "SCHEDQ_SOFT_TIME_LIMIT": "3",
    "SCHEDQ_TIME_LIMIT": "4",
    "SCHEDQ_RECONCILE_RUNNING_MARGIN_SECONDS": "1",
    "SCHEDQ_RECONCILE_INTERVAL_SECONDS": "1",
    "SCHEDQ_RECONCILE_AFTER_SECONDS": "30",
    "SCHEDQ_VISIBILITY_TIMEOUT": "600",
    "SCHEDQ_MAX_DELIVERIES": "3",
}


class RedisServer:
    """A private redis-server on a free port: ours to flush, stop and restart."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        log = (self.dir / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = self.client()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def client(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(self.url, socket_connect_timeout=1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def env(self) -> dict[str, str]:
        return {"SCHEDQ_BROKER_URL": self.url}

    def wipe(self) -> None:
        """Every message gone, queued or held by a worker (the unacked hash too)."""
        self.client().flushall()

    def push_raw(self, queue: str, raw: str) -> None:
        self.client().lpush(queue, raw)

    def close(self) -> None:
        self.stop()


class RabbitBroker:
    """The machine's RabbitMQ with queues private to one test (RUN and uid in their names)."""

    def __init__(self, prefix: str) -> None:
        self.url = AMQP_URL
        self.queues = queue_names(prefix)

    def env(self) -> dict[str, str]:
        return {"SCHEDQ_BROKER_URL": self.url, **self.queues}

    def _names(self) -> list[str]:
        names = list(self.queues.values())
        return [*names, f"{self.queues['SCHEDQ_DEAD_LETTER_QUEUE']}.poison"]

    def wipe(self) -> None:
        """Every ready message gone (RabbitMQ redelivers unacked ones itself: never lost)."""
        from kombu import Connection

        with Connection(self.url, connect_timeout=5) as conn:
            for name in self.queues.values():
                channel = conn.channel()
                with contextlib.suppress(Exception):
                    channel.queue_purge(name)
                with contextlib.suppress(Exception):
                    channel.close()

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        done = subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
        if done.returncode != 0:  # the node itself went down: start the machine's server again
            subprocess.run(["rabbitmq-server", "-detached"], check=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120
        )

    def push_raw(self, queue: str, raw: str) -> None:
        from kombu import Connection

        with Connection(self.url, connect_timeout=5) as conn:
            conn.default_channel.basic_publish(
                conn.default_channel.prepare_message(raw.encode()),
                exchange=queue,
                routing_key=queue,
            )

    def close(self) -> None:
        delete_amqp_queues(self._names())


Broker = RedisServer | RabbitBroker


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[Settings]:
    """Set SCHEDQ_* for this process and every process it starts, through pytest's monkeypatch:
    undone when the block ends, even if a test fails inside it."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        reset_settings_cache()
        try:
            yield get_settings()
        finally:
            patch.undo()
            reset_settings_cache()


@dataclass
class Figures:
    submitted: int
    succeeded: int
    rejected: int
    dead: int
    pending: int
    duplicates: int  # succeeded jobs with audit rows != 1 plus others with audit rows != 0
    schedule_mismatches: int  # doctors whose version != number of their succeeded jobs


@dataclass
class FaultRig:
    """One private broker plus the worker and beat processes a test starts on it."""

    log_dir: Path
    broker: Broker
    settings: Settings
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(
        self, name: str, concurrency: int = 2, host: str = "localhost", **env: str
    ) -> WorkerProcess:
        node = WorkerProcess(self.log_dir, name, concurrency=concurrency, env=env, host=host)
        self.workers.append(node)
        node.wait_ready()
        return node

    def beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        # The tests' app (probe kinds installed) with schedq's scheduler, as `schedq beat` runs.
        schedule = str(self.log_dir / f"{name}.db")
        args = ["celery", "-A", "tests.worker_app", "beat", "-s", schedule, "--loglevel", "INFO"]
        proc = spawn(args, {}, self.log_dir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def client(self) -> Client:
        return Client(self.settings, submitter="faults")

    def submit_touches(self, prefix: str, count: int, doctors: int, **extra: Any) -> list[str]:
        reqs = [
            JobRequest("test_touch", {"doctor_id": f"{prefix}-{i % doctors}", **extra})
            for i in range(count)
        ]
        ids: list[str] = []
        for start in range(0, len(reqs), 500):
            ids += [v.id for v in self.client().submit_many(reqs[start : start + 500])]
        return ids

    def close(self) -> None:
        for node in self.workers:
            node.stop(timeout=10)
        for proc in self.procs:
            stop(proc, timeout=10)
        self.broker.close()


@pytest.fixture
def rig(database_url: str, tmp_path: Path, uid: str) -> Iterator[FaultRig]:
    broker: Broker = (
        RabbitBroker(f"t{RUN}-{uid}-") if TEST_BROKER == "amqp" else RedisServer(tmp_path)
    )
    with environment({**FAULT_ENV, **broker.env()}) as settings:
        rig = FaultRig(tmp_path, broker, settings)
        try:
            yield rig
        finally:
            rig.close()


def statuses(ids: list[str]) -> dict[str, str]:
    keys = [uuid.UUID(i) for i in ids]
    with UnitOfWork() as uow:
        rows = uow.session.execute(select(Job.id, Job.status).where(Job.id.in_(keys))).all()
    return {str(r.id): r.status for r in rows}


def wait_terminal(ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        seen = statuses(ids)
        if all(s in ("succeeded", "rejected", "dead") for s in seen.values()) or (
            time.monotonic() > deadline
        ):
            return seen
        time.sleep(0.5)


def audit(ids: list[str], doctor_prefix: str | None = None) -> Figures:
    """Count outcomes and effects from the ledger, audit log and doctors table."""
    seen = statuses(ids)
    keys = [uuid.UUID(i) for i in ids]
    with UnitOfWork() as uow:
        per_job = dict(
            uow.session.execute(
                select(AuditEntry.job_id, func.count())
                .where(AuditEntry.job_id.in_(keys))
                .group_by(AuditEntry.job_id)
            ).all()
        )
        mismatches = 0
        if doctor_prefix is not None:
            succeeded = dict(
                uow.session.execute(
                    select(Job.order_key, func.count())
                    .where(Job.id.in_(keys), Job.status == "succeeded")
                    .group_by(Job.order_key)
                ).all()
            )
            versions = dict(
                uow.session.execute(
                    select(Doctor.id, Doctor.schedule_version).where(
                        Doctor.id.like(f"{doctor_prefix}-%")
                    )
                ).all()
            )
            names = set(succeeded) | set(versions)
            mismatches = sum(versions.get(d, 0) != succeeded.get(d, 0) for d in names)
    duplicates = sum(
        per_job.get(uuid.UUID(i), 0) != (1 if seen.get(i) == "succeeded" else 0) for i in ids
    )
    values = list(seen.values())
    return Figures(
        submitted=len(ids),
        succeeded=values.count("succeeded"),
        rejected=values.count("rejected"),
        dead=values.count("dead"),
        pending=sum(s in ("queued", "running") for s in values) + len(ids) - len(seen),
        duplicates=duplicates,
        schedule_mismatches=mismatches,
    )


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A test puts its figures here; they are printed and saved with the test's runtime."""
    figures: dict[str, Any] = {}
    started = time.monotonic()
    yield figures
    figures["seconds"] = round(time.monotonic() - started, 1)
    line = json.dumps({"test": request.node.name, **figures}, default=str)
    print(f"\nFAULT FIGURES {line}")
    path = os.environ.get("SCHEDQ_FAULT_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
