"""What a new user sees in the first hour (issue 16.6), with the real CLI and a real worker:
the attempt history in `schedq job`, local times in `availability`, a rising ICS SEQUENCE,
`health live --worker` for a worker started without `--hostname`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from producers.client import Client
from tests import probe_kinds
from tests.doc_examples import example
from tests.workers import WorkerProcess

probe_kinds.install()
ONE_CHILD = ("--pool", "prefork", "--concurrency", "1")  # main refuses solo (no time limit)


def schedq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_job_shows_the_attempt_history(worker: WorkerProcess, uid: str) -> None:
    client = Client()
    payload = {"doctor_id": f"h-{uid}", "fail_with": "network", "fail_times": 2}
    view = client.wait(client.submit("test_touch", payload).id, timeout=60)
    assert view.status == "succeeded", worker.log()
    shown = schedq("job", view.id)
    assert shown.returncode == 0, shown.stderr
    history = [line for line in shown.stdout.splitlines() if "NETWORK_ERROR" in line]
    assert len(history) == 2 and "history" in history[0]
    assert "#1 " in history[0] and "#2 " in history[1] and "next try" in history[0]


def _sequence(doctor: str) -> int:
    feed = schedq("ics", doctor)
    assert feed.returncode == 0, feed.stderr
    found = re.findall(r"^SEQUENCE:(\d+)", feed.stdout, re.M)
    assert len(found) == 1, feed.stdout
    return int(found[0])


def test_ics_sequence_rises_with_each_change_and_slots_are_local(
    worker: WorkerProcess, uid: str
) -> None:
    client = Client()
    appointment = uuid.uuid4()
    doctor = f"dr-{uid}"
    plan = client.wait(client.submit("set_working_plan", example("set_working_plan", uid)).id)
    assert plan.status == "succeeded", plan.error

    free = schedq("availability", doctor, "--from", "2026-12-07", "--to", "2026-12-08")
    assert free.returncode == 0, free.stderr
    # Berlin in December is UTC+1: the first slot is 08:00 local, printed with its offset.
    assert "2026-12-07 08:00+01:00" in free.stdout and "07:00+00:00" not in free.stdout

    seen = []
    for kind in ("book_appointment", "reschedule_appointment", "cancel_appointment"):
        job = client.submit(kind, example(kind, uid, appointment))
        done = client.wait(job.id)
        assert done.status == "succeeded", done.error
        seen.append(_sequence(doctor))
    assert seen == [0, 1, 2]


def test_health_live_finds_a_worker_started_without_hostname(
    worker: WorkerProcess, uid: str, tmp_path: Path
) -> None:
    # Its own queue, so this worker takes no other test's jobs.
    env = {"SCHEDQ_SCHEDULE_QUEUE": f"live_{uid}", "SCHEDQ_CALENDAR_QUEUE": f"live_cal_{uid}"}
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedq.cli.main", "worker", "--queues", f"live_{uid}", *ONE_CHILD],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        answered = None
        for _ in range(20):
            answered = schedq("health", "live", "--worker", "schedule", "--timeout", "2", env=env)
            if answered.returncode == 0:
                break
        assert answered is not None and answered.returncode == 0, (
            answered and answered.stdout,
            (tmp_path / "worker.log").read_text()[-3000:],
        )
        assert f"consumes live_{uid}" in answered.stdout
        other = schedq("health", "live", "--worker", "nobody", "--timeout", "1", env=env)
        assert other.returncode == 1 and "FAIL" in other.stdout
    finally:
        from schedq.processes import stop

        stop(proc, 20)
        log.close()
