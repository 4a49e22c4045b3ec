"""A real gateway (``schedq api`` under uvicorn, probe kinds known) on a free port, and API
clients for tests."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from producers.gateway.clients import create_client
from schedq.processes import free_port, spawn, stop, wait_for_http


class GatewayProcess:
    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"gateway-{self.port}.log"
        self.proc: subprocess.Popen[bytes] = spawn(
            ["tests.gateway_app", "api", "--host", "127.0.0.1", "--port", str(self.port)],
            {"SCHEDQ_LOG_FORMAT": "json", **(env or {})},
            self.log_path,
        )
        if not wait_for_http(f"{self.url}/livez", timeout=30):
            self.stop()
            raise RuntimeError(f"gateway did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int | None:
        return stop(self.proc, 10)


@dataclass(frozen=True)
class ApiUser:
    name: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(
    role: str, kinds: list[str] | None = None, doctors: list[str] | None = None, tag: str = ""
) -> ApiUser:
    name = f"{role}-{tag or secrets.token_hex(4)}"
    token = create_client(name, role, kinds or [], doctors or [], actor="tests")
    return ApiUser(name, role, token)


def http(base_url: str, user: ApiUser | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=user.headers if user else {}, timeout=30)


def working_plan(doctor: str) -> dict[str, object]:
    return {
        "doctor_id": doctor,
        "time_zone": "Europe/Berlin",
        "valid_from": "2026-12-01",
        "slot_minutes": 15,
        "weekdays": {"mon": [{"start": "08:00", "end": "12:00"}]},
    }


def plan_job(doctor: str) -> dict[str, object]:
    return {"kind": "set_working_plan", "payload": working_plan(doctor)}


def count_rows(table: str, column: str, value: str) -> int:
    """Rows of ``table`` whose ``column`` text contains ``value`` (what a request may write)."""
    from sqlalchemy import text

    from shared.db.uow import UnitOfWork

    with UnitOfWork() as uow:
        return int(
            uow.session.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column}::text LIKE :v"),
                {"v": f"%{value}%"},
            ).scalar_one()
        )


def wait_terminal(client: httpx.Client, job_id: str, timeout: float = 30) -> dict[str, object]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        if body["status"] in ("succeeded", "rejected", "dead") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)
