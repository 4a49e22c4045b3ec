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
        api = _gateway(stack, env, data_dir)
        return _workload(Client(submitter="demo"), doctors, keep_seconds, api)
    return 0


def _gateway(stack: ExitStack, env: dict[str, str], data_dir: Path) -> str | None:
    """Start the HTTP gateway (``schedq api``) and print its addresses; None if it failed."""
    port = free_port()
    gateway = spawn(
        ["schedq.cli.main", "api", "--port", str(port)], env, data_dir / "gateway.log"
    )
    stack.callback(stop, gateway)
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/livez"):
        console.print(f"[yellow]the API did not answer; see {data_dir}/gateway.log[/]")
        return None
    console.print(f"API: {url}/v1/jobs  (FHIR: {url}/fhir/r4/metadata)")
    console.print(f"OpenAPI: {url}/openapi.json  (interactive: {url}/docs)")
    return url


def _submit_over_http(api: str, run: str, plans: list[dict[str, object]]) -> list[str]:
    """The valid plans through the gateway, as an upstream system would (a fresh API client)."""
    import httpx

    from producers.gateway.clients import create_client

    token = create_client(f"demo-{run}", "submitter", ["set_working_plan"], [], actor="demo")
    console.print(f"API client demo-{run} (submitter); its token for curl: {token}")
    answer = httpx.post(
        f"{api}/v1/jobs:batch",
        json={"jobs": [{"kind": "set_working_plan", "payload": p} for p in plans]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer.raise_for_status()
    return [str(job["id"]) for job in answer.json()["jobs"]]


def _workload(client: object, doctors: int, keep_seconds: float, api: str | None = None) -> int:
    from producers.client import Client, JobRequest

    assert isinstance(client, Client)
    rng = random.Random(20261128)
    run = f"{int(time.time())}"
    labels: dict[str, str] = {}
    refused: list[tuple[str, SchedqError]] = []
    requests: list[tuple[str, JobRequest]] = []
    plans = [valid_plan(f"dr-{run}-{i:02d}", rng) for i in range(doctors)]
    if api is not None:
        for job_id in _submit_over_http(api, run, plans):
            labels[job_id] = "valid weekly plan (over HTTP)"
    else:
        requests += [("valid weekly plan", JobRequest("set_working_plan", p)) for p in plans]
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
    _keep_up(keep_seconds)
    return 0 if counts["queued"] + counts["running"] == 0 else 1


def _keep_up(seconds: float) -> None:
    """Leave the servers running so Flower and the metrics can be opened, or say how to."""
    if not seconds:
        console.print(
            "stopping the servers; to open Flower and the metrics first, run the demo with "
            "--keep-seconds 600 (bash .ci/demo --keep-seconds 600), or --keep until Ctrl-C"
        )
        return
    if seconds == float("inf"):
        console.print("servers stay up until Ctrl-C ...")
    else:
        console.print(f"keeping servers up for {seconds:g}s (Ctrl-C stops them sooner) ...")
    try:
        time.sleep(min(seconds, 10 * 365 * 86400))
    except KeyboardInterrupt:
        console.print("stopping the servers")


def _codes(err: dict[str, object]) -> str:
    """The error code, and the rule codes behind a validation failure."""
    details = err.get("details") or {}
    violations = details.get("violations", []) if isinstance(details, dict) else []
    codes = sorted({str(v["code"]) for v in violations})
    return str(err.get("code", "")) + (f" [{', '.join(codes)}]" if codes else "")
