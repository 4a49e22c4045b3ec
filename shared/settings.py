"""One typed settings object, read from ``SCHEDQ_*`` environment variables and validated at start.

Every process (producer, worker, beat, exporter, CLI) calls :func:`get_settings`; a bad value
stops the process with one line naming the variable (see :func:`settings_or_exit`).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from functools import lru_cache
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from shared.domain.times import parse_hhmm


class Settings(BaseSettings):
    # An empty variable counts as unset (``SCHEDQ_MAX_RETRIES=`` keeps the default).
    # hide_input_in_errors: a rejected value may be a secret (a key, a password in a URL).
    model_config = SettingsConfigDict(
        env_prefix="SCHEDQ_",
        extra="ignore",
        frozen=True,
        env_ignore_empty=True,
        hide_input_in_errors=True,
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
    # auto: text lines for a person at a terminal, JSON lines when stderr is not a terminal.
    log_format: Literal["auto", "json", "text"] = "auto"
    flower_basic_auth: str | None = None
    # Port of a worker node's Prometheus endpoint (0 = none); `schedq worker --metrics-port`.
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_address: str = "127.0.0.1"
    # Fernet keys for data encrypted at rest (shared.crypto), comma-separated: the first
    # encrypts, every one decrypts (rotation: put the new key first, re-encrypt, drop the old).
    # No default: outside development/test a process that needs them refuses to run without.
    encryption_keys: Annotated[tuple[str, ...], NoDecode] = ()

    # The HTTP gateway (producers/gateway): caps on every request and a rate per client, in the
    # `limits` notation ("600/minute"; several separated by ';'), counted in the broker's Redis.
    api_max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    api_batch_max: int = Field(500, ge=1, le=10_000)
    api_page_max: int = Field(200, ge=1, le=5000)
    api_rate_limit: str = "1200/minute"

    @field_validator("api_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be a rate such as 600/minute or 20/second;1000/hour") from None
        return value

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

        if isinstance(value, list | tuple) and all(isinstance(p, list | tuple) for p in value):
            value = dict(value)  # the pairs this object holds (a copy of the settings)
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object, e.g. {"DATABASE": 10}')
        pairs = sorted(value.items())
        for name, limit in pairs:
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

    def __init__(self, line: str) -> None:
        super().__init__(2)
        self.line = line


def describe_error(exc: ValidationError, prefix: str = "SCHEDQ_") -> str:
    first = exc.errors()[0]
    loc = first.get("loc") or ()
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:  # a rule across several settings names its variables in the message
        return f"schedq: invalid settings: {message}"
    return f"schedq: invalid setting {prefix}{str(loc[0]).upper()}: {message}"


def _describe_source_error(exc: SourceError, prefix: str) -> str:
    # pydantic-settings could not decode a complex value (JSON) before validation.
    found = re.search(r'field "(\w+)"', str(exc))
    name = f"{prefix}{found.group(1).upper()}" if found else f"a {prefix}* variable"
    return f"schedq: invalid setting {name}: must be valid JSON"


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S], prefix: str = "SCHEDQ_") -> S:
    """``cls()`` from the environment; a bad value prints one line naming the variable, exit 2."""
    try:
        return cls()
    except ValidationError as exc:
        line = describe_error(exc, prefix)
    except SourceError as exc:
        line = _describe_source_error(exc, prefix)
    print(line, file=sys.stderr)
    raise SettingsError(line) from None


# SCHEDQ_ variables read outside the settings objects (by name or as a family).
OTHER_VARIABLES = ("SCHEDQ_SUBMITTER", "SCHEDQ_APP", "SCHEDQ_SERVICES")
OTHER_PREFIXES = ("SCHEDQ_SECRET_", "SCHEDQ_TEST_", "SCHEDQ_BENCH_", "SCHEDQ_FAULT_")


def known_variables() -> set[str]:
    """Every SCHEDQ_ variable a settings class defines (any class with a SCHEDQ_ prefix)."""
    import shared.calendar_settings  # noqa: F401  (its class must be known to be listed)

    names = set(OTHER_VARIABLES)
    pending: list[type[BaseSettings]] = [BaseSettings]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        prefix = str(cls.model_config.get("env_prefix") or "")
        if prefix.startswith("SCHEDQ_"):
            names |= {f"{prefix}{field.upper()}" for field in cls.model_fields}
    return names


def unknown_variable_warnings(environ: dict[str, str] | None = None) -> list[str]:
    """One warning per SCHEDQ_ variable no setting reads, with the closest known name."""
    env = os.environ if environ is None else environ
    known = known_variables()
    out = []
    for name in sorted(env):
        if not name.startswith("SCHEDQ_") or name in known or name.startswith(OTHER_PREFIXES):
            continue
        # Compared without the shared prefix, which would make every name look alike.
        tails = sorted(k.removeprefix("SCHEDQ_") for k in known)
        close = difflib.get_close_matches(name.removeprefix("SCHEDQ_"), tails, n=1, cutoff=0.6)
        hint = f"; did you mean SCHEDQ_{close[0]}?" if close else ""
        out.append(f"schedq: warning: {name} is not a schedq setting and is ignored{hint}")
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = load(Settings)
    # The calendar settings are checked at start too, so a bad one stops every process at once.
    from shared.calendar_settings import get_calendar_settings

    get_calendar_settings()
    for warning in unknown_variable_warnings():
        print(warning, file=sys.stderr)
    return settings


def reset_settings_cache() -> None:
    get_settings.cache_clear()
