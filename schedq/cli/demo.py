"""``schedq demo``: the whole spine on real servers, started and stopped by schedq itself."""

from __future__ import annotations

import os
import random
import time
from contextlib import ExitStack
from pathlib import Path

from rich.table import Table

from schedq.cli.output import console
from schedq.cli.workload import invalid_plans, shape_errors, valid_plan
from schedq.ops.metrics_dir import prepare as prepare_metrics_dir
from schedq.processes import celery_worker_args, free_port, spawn, stop, wait_for_http
from shared.errors import SchedqError


def _servers(stack: ExitStack, data_dir: Path) -> dict[str, str]:
    if os.environ.get("SCHEDQ_DATABASE_URL") and os.environ.get("SCHEDQ_BROKER_URL"):
        console.print("using the servers named by SCHEDQ_DATABASE_URL and SCHEDQ_BROKER_URL")
        return {}
    from schedq.embedded import EmbeddedServers

    console.print(f"starting embedded PostgreSQL and Redis in {data_dir}/ ...")
    servers = stack.enter_context(EmbeddedServers(data_dir))
    return {"SCHEDQ_DATABASE_URL": servers.database_url, "SCHEDQ_BROKER_URL": servers.broker_url}


def run_demo(data_dir: Path, doctors: int, flower_port: int, keep_seconds: float) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        env = _servers(stack, data_dir)
        os.environ.update(env)
        from shared.settings import reset_settings_cache

        reset_settings_cache()
        from producers.client import Client
        from shared.db.migrate import upgrade_to_head
        from shared.settings import get_settings

        settings = get_settings()
        upgrade_to_head(settings.database_url)
        metrics_port, exporter_port = free_port(), free_port()
        worker_env = {
            **env,
            "PROMETHEUS_MULTIPROC_DIR": str(prepare_metrics_dir(data_dir / "metrics", False)),
            "SCHEDQ_METRICS_PORT": str(metrics_port),
        }
        worker = spawn(
            celery_worker_args(
                f"{settings.schedule_queue},{settings.calendar_queue}", 2, "demo@%h"
            ),
            worker_env,
            data_dir / "worker.log",
        )
        stack.callback(stop, worker)
        exporter = spawn(
            ["schedq.cli.main", "exporter", "--port", str(exporter_port)],
            env,
            data_dir / "exporter.log",
        )
        stack.callback(stop, exporter)
        port = flower_port or free_port()
        flower = spawn(
            ["celery", "-A", "worker.app", "flower", f"--port={port}", "--address=127.0.0.1"],
            env,
            data_dir / "flower.log",
        )
        stack.callback(stop, flower)
        if wait_for_http(f"http://127.0.0.1:{port}/healthcheck"):
            console.print(f"Flower: http://127.0.0.1:{port}/  (worker log: {data_dir}/worker.log)")
        else:
            console.print(f"[yellow]Flower did not answer; see {data_dir}/flower.log[/]")
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        note = "" if wait_for_http(metrics_url) else f" (not answering; see {data_dir}/worker.log)"
        console.print(f"Prometheus: worker metrics {metrics_url}{note}")
        # Each exporter scrape pings the workers (about a second), so it is not awaited here.
        console.print(f"Prometheus: global gauges http://127.0.0.1:{exporter_port}/metrics")
        return _workload(Client(submitter="demo"), doctors, keep_seconds)
    return 0


def _workload(client: object, doctors: int, keep_seconds: float) -> int:
    from producers.client import Client, JobRequest

    assert isinstance(client, Client)
    rng = random.Random(20261128)
    run = f"{int(time.time())}"
    labels: dict[str, str] = {}
    refused: list[tuple[str, SchedqError]] = []
    requests: list[tuple[str, JobRequest]] = []
    for i in range(doctors):
        doc = f"dr-{run}-{i:02d}"
        requests.append(("valid weekly plan", JobRequest("set_working_plan", valid_plan(doc, rng))))
    bad_doc = f"dr-{run}-bad"
    requests += [(label, JobRequest("set_working_plan", p)) for label, p in invalid_plans(bad_doc)]
    views = client.submit_many(r for _, r in requests)
    labels.update({v.id: label for v, (label, _) in zip(views, requests, strict=True)})
    # The same idempotency key twice: one job.
    again = valid_plan(f"dr-{run}-00", rng)
    first = client.submit("set_working_plan", again, idempotency_key=f"demo-{run}")
    second = client.submit("set_working_plan", again, idempotency_key=f"demo-{run}")
    labels[first.id] = "idempotent resubmission (submitted twice, one job)"
    assert first.id == second.id
    for label, payload in shape_errors(bad_doc):
        try:
            client.submit("set_working_plan", payload)
        except SchedqError as refusal:
            refused.append((label, refusal))
    console.print(f"submitted {len(labels)} jobs; waiting for the worker ...")
    finals = [client.wait(job_id, timeout=90) for job_id in labels]
    table = Table(title="schedq demo: job outcomes")
    for col in ("job", "case", "status", "code", "message"):
        table.add_column(col)
    for view in finals:
        err = view.error or {}
        table.add_row(
            view.id[:8], labels[view.id], view.status, _codes(err), err.get("message", "")
        )
    for label, refused_err in refused:
        table.add_row(
            "-", label, "refused at submit", _codes(refused_err.as_dict()), refused_err.message
        )
    console.print(table)
    counts = {
        s: sum(1 for v in finals if v.status == s)
        for s in ("succeeded", "rejected", "dead", "queued", "running")
    }
    console.print(
        f"summary: submitted={len(finals)} succeeded={counts['succeeded']} "
        f"rejected={counts['rejected']} dead={counts['dead']} "
        f"unfinished={counts['queued'] + counts['running']} refused_at_submit={len(refused)}"
    )
    if keep_seconds:
        console.print(f"keeping servers up for {keep_seconds:g}s ...")
        time.sleep(keep_seconds)
    return 0 if counts["queued"] + counts["running"] == 0 else 1


def _codes(err: dict[str, object]) -> str:
    """The error code, and the rule codes behind a validation failure."""
    details = err.get("details") or {}
    violations = details.get("violations", []) if isinstance(details, dict) else []
    codes = sorted({str(v["code"]) for v in violations})
    return str(err.get("code", "")) + (f" [{', '.join(codes)}]" if codes else "")
