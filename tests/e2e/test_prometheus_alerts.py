"""A real Prometheus server scrapes a real worker node and the exporter, evaluates the project's
alert rules, and every Grafana panel's query returns data.

Prometheus (Debian's package, installed by .ci/bootstrap) runs on a free port with a temporary
storage directory, scraping and evaluating every second. The rules are docs/ops/prometheus/
alerts.yml with ONE change, in a test copy: ``SchedqDoctorBlocked`` fires after 3 s instead of
2 min (``> 3``, ``for: 2s``), so the test need not hold a doctor blocked for minutes. The other
alerts are the shipped rules unchanged.

The third scrape target is a real gateway process (``schedq api``): availability is asked of it
over HTTP, and its /metrics carries the availability cache's counter and its request metrics.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import tests.calendar_env  # noqa: F401  (small breaker, short timeouts, for the workers)
from producers.client import Client
from schedq.processes import free_port, spawn, stop, wait_for_http
from shared.settings import Settings
from tests import probe_kinds
from tests.calendar_servers import FeedServer, Route
from tests.calendar_support import make_doctor
from tests.conftest import wait_until
from tests.e2e.test_spine import plan
from tests.gateway_support import ApiUser, GatewayProcess, make_user
from tests.workers import WorkerProcess

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "docs" / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "docs" / "ops" / "grafana" / "dashboards" / "schedq.json"


@dataclass
class Stack:
    prometheus: str
    node: WorkerProcess
    client: Client
    queue: str
    calendar_queue: str
    gateway: GatewayProcess
    reader: ApiUser


def rules_copy(tmp: Path) -> Path:
    """The shipped rules with the blocked-doctor threshold shortened (see the module doc)."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == "SchedqDoctorBlocked":
                assert "> 120" in rule["expr"]
                rule["expr"] = rule["expr"].replace("> 120", "> 3")
                rule["for"] = "2s"
    path = tmp / "alerts.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


def prometheus_config(tmp: Path, targets: dict[str, int]) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_copy(tmp))],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                # The exporter pings the workers for up to a second at each scrape.
                **({"scrape_interval": "2s", "scrape_timeout": "2s"} if "exporter" in job else {}),
            }
            for job, port in targets.items()
        ],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def stack(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: run .ci/bootstrap (apt-get install prometheus)"
    tmp = tmp_path_factory.mktemp("prom-e2e")
    queue, calendar_queue = f"prom-{uuid.uuid4().hex[:8]}", f"promcal-{uuid.uuid4().hex[:8]}"
    queues = {"SCHEDQ_SCHEDULE_QUEUE": queue, "SCHEDQ_CALENDAR_QUEUE": calendar_queue}
    worker_port, exporter_port, prom_port = (free_port() for _ in range(3))
    (tmp / "multiproc").mkdir()
    node = WorkerProcess(
        tmp,
        "prom",
        queues=f"{queue},{calendar_queue}",
        concurrency=2,
        env={
            **queues,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "multiproc"),
            "SCHEDQ_METRICS_PORT": str(worker_port),
        },
    )
    exporter = spawn(
        ["schedq.cli.main", "exporter", "--port", str(exporter_port)], queues, tmp / "exp.log"
    )
    gateway = GatewayProcess(tmp, env=queues)
    config = prometheus_config(
        tmp,
        {
            "schedq-workers": worker_port,
            "schedq-exporter": exporter_port,
            "schedq-gateway": gateway.port,
        },
    )
    prom = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=(tmp / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        node.wait_ready()
        base = f"http://127.0.0.1:{prom_port}"
        assert wait_for_http(f"{base}/-/ready", timeout=30), (tmp / "prometheus.log").read_text()
        reader = make_user("reader", doctors=["pg-*"])
        client = Client(Settings(schedule_queue=queue))
        yield Stack(base, node, client, queue, calendar_queue, gateway, reader)
    finally:
        stop(prom)
        stop(exporter)
        gateway.stop()
        node.stop()


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


def query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def firing(stack: Stack, alert: str, **labels: str) -> bool:
    alerts = httpx.get(f"{stack.prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return any(
        a["labels"].get("alertname") == alert
        and a["state"] == "firing"
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in alerts
    )


@dataclass(frozen=True)
class Troubles:
    dead_id: str
    provider: str


@pytest.fixture(scope="module")
def troubles(stack: Stack, feeds: FeedServer) -> Troubles:
    """The three troubles the alerts must see, caused once per module whichever test runs first
    (the panel test needs their series too): a first dead letter, a blocked doctor, an open
    breaker. Before the first dead letter, its series is already scraped at zero."""
    probe_kinds.install()
    tag = secrets.token_hex(4)
    # Every target up, and the dead-letter series already scraped at zero (created at start).
    assert wait_until(lambda: len(query(stack, "up == 1")) == 3, timeout=30), query(stack, "up")
    zero = 'schedq_dead_letters_total{kind="test_touch",code="UNEXPECTED_ERROR"} == 0'
    assert wait_until(lambda: query(stack, zero), timeout=30), stack.node.log()
    assert not firing(stack, "SchedqDeadLettersGrowing", kind="test_touch")

    # 1. The first dead letter.
    dead = stack.client.submit("test_touch", {"doctor_id": f"pd-{tag}", "fail_with": "unexpected"})
    # 2. A blocked doctor: the earlier job sits on a queue nobody consumes.
    parked = Client(Settings(schedule_queue=f"nowhere-{tag}"))
    parked.submit("test_touch", {"doctor_id": f"pb-{tag}"})
    stack.client.submit("test_touch", {"doctor_id": f"pb-{tag}"})
    # 3. An open breaker: a feed that answers 500 until the breaker (fail_max 3) opens.
    path = f"/prom-{tag}.ics"
    feeds.routes[path] = Route(status=500)
    doctor = make_doctor(f"pc-{tag}")
    calendar = Client(Settings(calendar_queue=stack.calendar_queue))
    link = {"doctor_id": doctor, "kind": "ics", "url": feeds.url(path)}
    linked = calendar.wait(calendar.submit("link_calendar", link).id, timeout=30)
    assert linked.status == "succeeded", stack.node.log()
    link_id = str(linked.result["link_id"])  # type: ignore[index]
    calendar.submit("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    provider = feeds.url(path).split("//", 1)[1].split("/", 1)[0]
    assert stack.client.wait(dead.id, timeout=30).status == "dead"
    return Troubles(dead.id, provider)


def test_first_dead_letter_blocked_doctor_and_open_breaker_fire(
    stack: Stack, troubles: Troubles
) -> None:
    expected = [
        ("SchedqDeadLettersGrowing", {"kind": "test_touch", "code": "UNEXPECTED_ERROR"}),
        ("SchedqDoctorBlocked", {"queue": stack.queue}),
        ("SchedqBreakerOpened", {"provider": troubles.provider}),
    ]
    for alert, labels in expected:
        assert wait_until(lambda a=alert, want=labels: firing(stack, a, **want), timeout=60), (
            alert,
            httpx.get(f"{stack.prometheus}/api/v1/alerts", timeout=10).json(),
            stack.node.log(),
        )


def panel_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def test_every_grafana_panel_query_returns_data(
    stack: Stack, troubles: Troubles, uid: str
) -> None:
    # troubles: the dead-letter, blocked-doctor and breaker panels show its series.
    probe_kinds.install()
    # Work that each panel shows: a success, a rejection, a retry, and availability served.
    doctor = f"pg-{uid}"
    ok = stack.client.submit("set_working_plan", plan(doctor))
    bad = stack.client.submit("set_working_plan", plan(f"pgb-{uid}", start="17:00", end="09:00"))
    flaky = {"doctor_id": f"pgr-{uid}", "fail_with": "network", "fail_times": 1}
    retried = stack.client.submit("test_touch", flaky)
    for job_id, status in ((ok.id, "succeeded"), (bad.id, "rejected"), (retried.id, "succeeded")):
        assert stack.client.wait(job_id, timeout=30).status == status, stack.node.log()
    start = date.today() + timedelta(days=7)
    window = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    for _ in range(2):  # a miss, then a hit, both asked of the gateway
        answer = httpx.get(
            f"{stack.gateway.url}/v1/doctors/{doctor}/availability",
            params=window,
            headers=stack.reader.headers,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    time.sleep(3)  # a few scrapes of the counters after the work
    missing: list[str] = []
    for title, expr in panel_exprs():
        grafana = expr.replace("$__rate_interval", "2m").replace("$__range", "10m")
        if not wait_until(lambda e=grafana: query(stack, e), timeout=20, interval=1):
            missing.append(f"{title}: {expr}")
    assert not missing, missing
