"""JSON log lines: the producer's carry the job and correlation ids; job context is per thread."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from shared.logs import JobContextFilter, job_context, json_formatter
from tests.e2e.test_spine import plan


def test_producer_logs_the_accepted_job_with_its_correlation_id(
    database_url: str, redis_url: str, tmp_path: Path, uid: str
) -> None:
    payload = tmp_path / "plan.json"
    payload.write_text(json.dumps(plan(f"p-{uid}")))
    done = subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", "submit", "set_working_plan", "-f", str(payload),
         "--correlation-id", f"corr-{uid}", "--json"],
        env=os.environ.copy(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["id"]
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    accepted = [line for line in lines if line["message"] == "job accepted"]
    assert accepted and accepted[0]["job_id"] == job_id
    assert accepted[0]["correlation_id"] == f"corr-{uid}"
    assert accepted[0]["service"] == "producer" and accepted[0]["level"] == "INFO"


def test_job_fields_follow_the_thread_that_runs_the_job() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(json_formatter())
    handler.addFilter(JobContextFilter("worker"))
    logger = logging.getLogger(f"test.ops.{threading.get_ident()}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def run(job: str) -> None:
        with job_context(job_id=job, correlation_id=f"c-{job}", kind="k"):
            logger.info("working")
        logger.info("idle")

    threads = [threading.Thread(target=run, args=(j,)) for j in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parsed = [json.loads(r) for r in records]
    working = sorted(
        (p["job_id"], p["correlation_id"]) for p in parsed if p["message"] == "working"
    )
    assert working == [("a", "c-a"), ("b", "c-b")]
    assert all("job_id" not in p for p in parsed if p["message"] == "idle")
