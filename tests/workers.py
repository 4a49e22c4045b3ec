"""Start and stop real ``celery worker`` processes for end-to-end and fault tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from schedq.processes import celery_worker_args, spawn, stop
from shared.ledger.publish import producer_app
from shared.settings import get_settings


class WorkerProcess:
    """One worker node (main process plus its pool children), stopped by process group."""

    def __init__(
        self,
        log_dir: Path,
        name: str,
        queues: str | None = None,
        concurrency: int = 2,
        pool: str = "prefork",
        env: Mapping[str, str] | None = None,
        host: str = "localhost",
    ) -> None:
        self.name = f"{name}-{os.getpid()}@{host}"
        self.log_path = log_dir / f"{name}.log"
        if queues is None:  # this run's queue names (per-run prefixed on RabbitMQ)
            settings = get_settings()
            queues = f"{settings.schedule_queue},{settings.calendar_queue}"
        self.proc: subprocess.Popen[bytes] = spawn(
            celery_worker_args(queues, concurrency, self.name, pool, app="tests.worker_app"),
            dict(env or {}),
            self.log_path,
        )

    def wait_ready(self, timeout: float = 45.0) -> None:
        app = producer_app(get_settings())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            # A connection of its own per ping: a pooled one may be dead after a test restarted
            # the broker, and a ping does not reconnect.
            try:
                with app.connection_for_write() as conn:
                    replies = app.control.ping(
                        destination=[self.name], timeout=0.5, connection=conn
                    )
            except OSError:
                replies = []
                time.sleep(0.5)
            if replies:
                return
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log(self) -> str:
        """The tail of the log, for assertion messages."""
        return self.log_text()[-4000:]

    def stop(self, timeout: float = 20.0) -> int | None:
        return stop(self.proc, timeout)
