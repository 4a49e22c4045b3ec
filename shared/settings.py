"""One typed settings object, read from ``SCHEDQ_*`` environment variables and validated at start.

Every process (producer, worker, beat, exporter, CLI) calls :func:`get_settings`; a bad value
stops the process with one line naming the variable (see :func:`settings_or_exit`).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.domain.times import parse_hhmm


class Settings(BaseSettings):
    # hide_input_in_errors: a rejected value may be a secret (a key, a password in a URL).
    model_config = SettingsConfigDict(
        env_prefix="SCHEDQ_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/schedq"
    # The role workers, producers and the gateway connect as (their SCHEDQ_DATABASE_URL names
    # it); `schedq migrate`, run with the owner's URL, creates it and grants it what it needs
    # (shared.db.roles). Its password: none for trust/peer authentication; never a default.
    app_db_role: str = Field("schedq_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    app_db_password: SecretStr | None = None
    broker_url: str = "redis://127.0.0.1:6379/0"
    # Redis for shared state that is not the broker (the availability cache, the calendar
    # breaker's state). Unset: the broker's URL when the broker is Redis, else none (each
    # process then keeps that state to itself; docs/scaling.md).
    redis_url: str | None = None
    # RabbitMQ's consumer_timeout (rabbitmq.conf; 30 min by default): a message held unacked
    # longer is taken back and the channel closed. The hard time limit must stay below it.
    amqp_consumer_timeout_seconds: int = Field(1800, ge=60)

    schedule_queue: str = "schedule"
    calendar_queue: str = "calendar"
    dead_letter_queue: str = "dead_letter"

    # Retry policy for transient failures: full-jitter exponential backoff, capped.
    max_retries: int = Field(5, ge=0, le=50)
    retry_backoff_base: float = Field(1.0, gt=0)
    retry_backoff_cap: float = Field(300.0, gt=0)
    # Per-category attempt limits, e.g. SCHEDQ_RETRY_LIMITS='{"NETWORK": 8, "DATABASE": 10}';
    # a category not listed uses max_retries.
    # Held as sorted pairs so the frozen settings object stays hashable.
    retry_limits: tuple[tuple[str, int], ...] = ()
    # A job whose delivery never finishes (its worker died) this many times in a row is
    # quarantined as dead instead of looping forever.
    max_deliveries: int = Field(3, ge=1, le=100)
    # Predecessor jobs of the same doctor still pending: how long to wait before looking again.
    order_wait_seconds: float = Field(0.5, gt=0)

    visibility_timeout: int = Field(3600, ge=10)
    soft_time_limit: int = Field(60, ge=1)
    time_limit: int = Field(90, ge=2)
    max_message_bytes: int = Field(64 * 1024, ge=1024)
    # Input caps at submit: a job payload's canonical JSON, and the jobs of one batch.
    max_payload_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_batch_jobs: int = Field(1000, ge=1, le=100_000)
    worker_max_memory_per_child_kib: int = Field(512_000, ge=10_000)

    business_hours_start: str = "06:00"
    business_hours_end: str = "22:00"

    reconcile_after_seconds: int = Field(120, ge=1)
    # How often beat runs the reconciler, and how long past the hard time limit a job may stay
    # `running` before the reconciler decides its worker died and republishes it.
    reconcile_interval_seconds: float = Field(30.0, gt=0)
    reconcile_running_margin_seconds: int = Field(30, ge=1)
    # A standby beat asks for the lead this often; a leader checks it still leads as often.
    # It bounds a takeover after the leader dies (docs/scaling.md).
    beat_standby_poll_seconds: float = Field(2.0, gt=0, le=60)
    # How many worker nodes the deployment runs: a node warns at start when all of them
    # together could open more database connections than max_connections (docs/scaling.md).
    worker_nodes: int = Field(1, ge=1, le=10_000)

    # Retention (worker.reliability.retention, run by beat every retention_interval_seconds):
    # days after a job finished that its payload is kept, after a booking was rejected that its
    # patient reference is kept, and that poison-message records and dead letters are kept.
    retention_job_payload_days: int = Field(90, ge=1, le=3650)
    retention_rejected_patient_days: int = Field(7, ge=1, le=3650)
    retention_poison_days: int = Field(30, ge=1, le=3650)
    retention_dead_letter_days: int = Field(90, ge=1, le=3650)
    retention_interval_seconds: float = Field(3600.0, ge=60)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    flower_basic_auth: str | None = None
    # Port of a worker node's Prometheus endpoint (0 = none); `schedq worker --metrics-port`.
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_address: str = "127.0.0.1"
    # Fernet keys for data encrypted at rest (shared.crypto), comma-separated: the first
    # encrypts, every one decrypts (rotation: put the new key first, re-encrypt, drop the old).
    # No default: outside development/test a process that needs them refuses to run without.
    encryption_keys: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql:// or postgresql+psycopg:// URL")
        return value.replace("postgresql://", "postgresql+psycopg://", 1)

    @field_validator("broker_url")
    @classmethod
    def _redis_or_amqp(cls, value: str) -> str:
        if not value.startswith(
            ("redis://", "rediss://", "redis+socket://", "amqp://", "amqps://")
        ):
            raise ValueError(
                "must be a redis://, rediss://, redis+socket://, amqp:// or amqps:// URL"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value or None

    @property
    def broker_is_amqp(self) -> bool:
        return self.broker_url.startswith(("amqp://", "amqps://"))

    @property
    def state_redis_url(self) -> str | None:
        """Where shared state other than messages lives: SCHEDQ_REDIS_URL, or a Redis broker."""
        if self.redis_url:
            return self.redis_url
        if self.broker_is_amqp:
            return None
        return self.broker_url.replace("redis+socket://", "unix://", 1)

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _fernet_keys(cls, value: object) -> object:
        from shared.crypto import parse_keys

        return parse_keys(value)

    @field_validator("retry_limits", mode="before")
    @classmethod
    def _known_categories(cls, value: object) -> object:
        from shared.errors import Category

        pairs = sorted(value.items()) if isinstance(value, dict) else value
        for name, limit in pairs if isinstance(pairs, list | tuple) else ():
            if name not in Category.__members__:
                raise ValueError(f"unknown error category {name!r}")
            if not isinstance(limit, int) or not 0 <= limit <= 50:
                raise ValueError(f"retry limit for {name} must be an integer 0..50")
        return pairs

    @field_validator("business_hours_start", "business_hours_end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if parse_hhmm(value) is None:
            raise ValueError("must be HH:MM (00:00 to 24:00)")
        return value

    @model_validator(mode="after")
    def _limits_ordered(self) -> Settings:
        if self.soft_time_limit >= self.time_limit:
            raise ValueError("SCHEDQ_SOFT_TIME_LIMIT must be below SCHEDQ_TIME_LIMIT")
        if self.business_hours_start >= self.business_hours_end:
            raise ValueError("SCHEDQ_BUSINESS_HOURS_START must be before SCHEDQ_BUSINESS_HOURS_END")
        return self

    def retry_limit(self, category: str) -> int:
        return dict(self.retry_limits).get(category, self.max_retries)


class SettingsError(SystemExit):
    """Raised with a single human line; SystemExit so the process stops with code 2."""


def describe_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = first.get("loc") or ()
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:  # a rule across several settings names its variables in the message
        return f"schedq: invalid settings: {message}"
    return f"schedq: invalid setting SCHEDQ_{str(loc[0]).upper()}: {message}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        raise SettingsError(2) from None


def reset_settings_cache() -> None:
    get_settings.cache_clear()
