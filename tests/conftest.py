"""Test fixtures on real servers: a private PostgreSQL database and a private Redis db per run.

The machine's PostgreSQL (SCHEDQ_TEST_PG_ADMIN) and Redis (SCHEDQ_TEST_REDIS) are shared by
every run, so each run creates its own database ``schedq_test_<random>`` and claims a free Redis
logical db (a NX key in db 0 marks the claim). Environment variables are set at import so every
process a test starts (workers, CLI) reads the same settings.

One setting picks the broker: ``SCHEDQ_TEST_BROKER=redis`` (default: the run's Redis db) or
``amqp`` (the machine's RabbitMQ, SCHEDQ_TEST_AMQP). RabbitMQ's management plugin is not enabled
here, so a run gets no vhost of its own: its queues carry the run's prefix instead, and are
deleted at the end. Redis stays the availability cache and breaker store (SCHEDQ_REDIS_URL).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import redis as redis_lib

# The run-wide calendar settings (loopback allowed, short timeouts), set before any module reads
# settings: a test module that imports worker.app at collection (tests/unit/test_kinds.py) builds
# the cached calendar settings, so they must already be in the environment then, whatever
# directories the run was given.
import tests.calendar_env  # noqa: F401

RUN = secrets.token_hex(4)
ADMIN_PG = os.environ.get("SCHEDQ_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("SCHEDQ_TEST_REDIS", "redis://127.0.0.1:6379")
# A database made and migrated by the caller (.ci/mutation runs many pytest sessions, one per
# mutant, against one database): used as it is, never created or dropped here.
GIVEN_DB = os.environ.get("SCHEDQ_TEST_DB_NAME")
DB_NAME = GIVEN_DB or f"schedq_test_{RUN}"
DB_URL = ADMIN_PG.rsplit("/", 1)[0] + f"/{DB_NAME}"


def _claim_redis_db() -> int:
    """Claim one of db 1..15 for this run.

    The claim records this process's pid; a claim whose process is gone (a killed run) is
    taken over, and every claim also expires after an hour.
    """
    mine = f"{RUN}:{os.getpid()}"
    try:
        admin = redis_lib.Redis.from_url(f"{REDIS_BASE}/0", socket_connect_timeout=2)
        for n in range(1, 16):
            key = f"schedq:test-claim:{n}"
            if admin.set(key, mine, nx=True, ex=3600):
                return n
            holder = (admin.get(key) or b"").decode()
            pid = holder.rpartition(":")[2]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                admin.delete(key)
                if admin.set(key, mine, nx=True, ex=3600):
                    return n
    except redis_lib.RedisError:
        return 15  # no Redis: tests that need it will fail loudly on connect
    raise RuntimeError("all Redis test dbs 1..15 are claimed by other runs")


def _release_redis_db(n: int) -> None:
    try:
        admin = redis_lib.Redis.from_url(f"{REDIS_BASE}/0", socket_connect_timeout=2)
        if admin.get(f"schedq:test-claim:{n}") == f"{RUN}:{os.getpid()}".encode():
            admin.delete(f"schedq:test-claim:{n}")
    except redis_lib.RedisError:
        pass


if os.environ.get("SCHEDQ_TEST_REDIS_DB"):
    REDIS_DB = int(os.environ["SCHEDQ_TEST_REDIS_DB"])
else:
    REDIS_DB = _claim_redis_db()
    # Released when this test process ends, whether or not a test used Redis.
    atexit.register(_release_redis_db, REDIS_DB)
os.environ["SCHEDQ_TEST_REDIS_DB"] = str(REDIS_DB)  # xdist-free: child processes inherit
REDIS_URL = f"{REDIS_BASE}/{REDIS_DB}"
TEST_BROKER = os.environ.get("SCHEDQ_TEST_BROKER", "redis")
if TEST_BROKER not in ("redis", "amqp"):
    raise RuntimeError("SCHEDQ_TEST_BROKER must be redis or amqp")
AMQP_URL = os.environ.get("SCHEDQ_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
BROKER_URL = AMQP_URL if TEST_BROKER == "amqp" else REDIS_URL


def queue_names(prefix: str) -> dict[str, str]:
    """SCHEDQ_*_QUEUE for queues of their own (RabbitMQ is shared by every run on the machine)."""
    return {
        "SCHEDQ_SCHEDULE_QUEUE": f"{prefix}schedule",
        "SCHEDQ_CALENDAR_QUEUE": f"{prefix}calendar",
        "SCHEDQ_DEAD_LETTER_QUEUE": f"{prefix}dead_letter",
    }


def delete_amqp_queues(names: list[str]) -> None:
    """Delete queues (and their exchanges) a run or a test declared; missing ones are fine."""
    from kombu import Connection

    with Connection(AMQP_URL, connect_timeout=5) as conn:
        for name in names:
            for delete in ("queue_delete", "exchange_delete"):
                channel = conn.channel()
                try:
                    getattr(channel, delete)(name)
                except Exception:
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        channel.close()


AMQP_QUEUES = queue_names(f"t{RUN}-") if TEST_BROKER == "amqp" else {}
_RUN_QUEUES: list[str] = [*AMQP_QUEUES.values()]
if AMQP_QUEUES:
    _RUN_QUEUES.append(f"{AMQP_QUEUES['SCHEDQ_DEAD_LETTER_QUEUE']}.poison")
    atexit.register(delete_amqp_queues, _RUN_QUEUES)


def run_queue(name: str) -> str:
    """A queue name of this run's own, deleted at its end on RabbitMQ (shared by every run)."""
    queue = f"t{RUN}-{name}"
    _RUN_QUEUES.append(queue)
    return queue


os.environ.update(
    {
        "SCHEDQ_ENV": "test",
        "SCHEDQ_DATABASE_URL": DB_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        "SCHEDQ_BROKER_URL": BROKER_URL,
        "SCHEDQ_REDIS_URL": REDIS_URL,
        **AMQP_QUEUES,
        "SCHEDQ_RETRY_BACKOFF_BASE": "0.2",
        "SCHEDQ_RETRY_BACKOFF_CAP": "2",
        "SCHEDQ_ORDER_WAIT_SECONDS": "0.2",
        "SCHEDQ_LOG_LEVEL": "INFO",
        # Roles are cluster-wide: the application role `schedq migrate` creates is this run's
        # own (tests/security/test_database_roles.py drops it).
        "SCHEDQ_APP_DB_ROLE": f"{DB_NAME}_app",
        # A fresh key per run (there is no default key); workers the tests start inherit it.
        "SCHEDQ_ENCRYPTION_KEYS": os.environ.get("SCHEDQ_TEST_ENCRYPTION_KEYS")
        or base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated, private database for this run; dropped at the end."""
    from shared.db.migrate import upgrade_to_head
    from shared.settings import get_settings, reset_settings_cache

    if not GIVEN_DB:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    reset_settings_cache()
    url = get_settings().database_url
    upgrade_to_head(url)
    yield url
    from shared.db.base import dispose_engines

    dispose_engines()
    if not GIVEN_DB:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The run's Redis db (the broker too unless SCHEDQ_TEST_BROKER=amqp)."""
    client = redis_lib.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def host_twelve_hours_west(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's own zone at UTC-12 (POSIX form: no tz file needed), restored afterwards.

    Product code must name its zones: anything that falls back to the host's zone
    (``astimezone(None)``, ``datetime.now()``) gets another day or instant here than on a UTC
    host, which is where the suite usually runs.
    """
    monkeypatch.setenv("TZ", "<-12>+12")
    time.tzset()
    assert time.timezone == 12 * 3600  # the host zone really changed
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def uid() -> str:
    """A short unique id so tests sharing the run's database never see each other's rows."""
    return secrets.token_hex(4)


def wait_until(predicate: object, timeout: float = 30.0, interval: float = 0.1) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
