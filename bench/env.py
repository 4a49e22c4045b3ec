"""The benchmark's private servers: its own database(s) on the machine's PostgreSQL and its own
``redis-server`` on a free port, so nothing it does touches another run's data or queues.

Settings reach every process (this one, the workers it starts) through ``SCHEDQ_*`` variables.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from bench.urls import plain_url
from schedq.processes import free_port
from shared.crypto import generate_key
from shared.db.base import dispose_engines
from shared.db.migrate import upgrade_to_head
from shared.settings import get_settings, reset_settings_cache

ADMIN_PG = os.environ.get("SCHEDQ_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")

# A table the bare-Celery INSERT baseline writes to: one row per task, like a minimal job.
BASELINE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_rows (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


def _sa_url(name: str) -> str:
    base = ADMIN_PG.rsplit("/", 1)[0] + f"/{name}"
    return base.replace("postgresql://", "postgresql+psycopg://", 1)


class BenchEnv:
    """Create on enter, remove on exit: databases dropped, redis-server stopped by pid."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.run_id = secrets.token_hex(4)
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"schedq-bench-{self.run_id}-"))
        self.databases: list[str] = []
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.database_url = ""
        self.broker_url = ""

    def __enter__(self) -> BenchEnv:
        try:
            self.database_url = self.create_database("main")
            self._start_redis()
            self.use_database(self.database_url)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def create_database(self, label: str) -> str:
        name = f"schedq_bench_{self.run_id}_{label}"
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        url = _sa_url(name)
        upgrade_to_head(url)
        with psycopg.connect(plain_url(url), autocommit=True) as conn:
            conn.execute(BASELINE_TABLE)
        return url

    def use_database(self, url: str) -> None:
        """Point this process (and workers started from now on) at one of our databases."""
        os.environ.update(
            {
                "SCHEDQ_DATABASE_URL": url,
                "SCHEDQ_BROKER_URL": self.broker_url,
                "SCHEDQ_LOG_LEVEL": "INFO",
                # Bookings seal patient references (shared.patient_data): a key per bench run
                # unless one is given (encryption is part of what a booking costs).
                "SCHEDQ_ENCRYPTION_KEYS": os.environ.get("SCHEDQ_ENCRYPTION_KEYS")
                or generate_key(),
            }
        )
        reset_settings_cache()
        get_settings()

    def _start_redis(self) -> None:
        port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        log = (self.log_dir / "redis.log").open("ab")
        # No persistence: the broker is transport (the ledger is truth), and disk writes would
        # add noise unrelated to either system.
        self.redis_proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.broker_url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(self.broker_url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.redis_proc.poll() is not None:
                    raise RuntimeError("private redis-server did not start") from None
                time.sleep(0.1)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.broker_url)

    def close(self) -> None:
        dispose_engines()
        if self.redis_proc is not None and self.redis_proc.poll() is None:
            self.redis_proc.terminate()
            try:
                self.redis_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.redis_proc.kill()
                self.redis_proc.wait(5)
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.databases.clear()
