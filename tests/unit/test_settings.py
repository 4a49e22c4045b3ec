"""Settings are validated at start; a bad one stops the process with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from shared.settings import Settings, describe_error


def test_defaults_are_valid_and_postgres_url_is_normalised() -> None:
    s = Settings(database_url="postgresql://u@h/db")
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.soft_time_limit < s.time_limit


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("database_url", "sqlite:///x.db", "SCHEDQ_DATABASE_URL"),
        ("broker_url", "memory://", "SCHEDQ_BROKER_URL"),
        ("max_retries", "many", "SCHEDQ_MAX_RETRIES"),
        ("business_hours_start", "8:00", "SCHEDQ_BUSINESS_HOURS_START"),
        ("log_level", "LOUD", "SCHEDQ_LOG_LEVEL"),
    ],
)
def test_bad_value_names_the_variable(field: str, value: str, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**{field: value})
    line = describe_error(info.value)
    assert line.startswith(f"schedq: invalid setting {needle}: ")
    assert "\n" not in line


def test_cross_field_rule_names_both_variables() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(soft_time_limit=100, time_limit=90)
    line = describe_error(info.value)
    assert "SCHEDQ_SOFT_TIME_LIMIT" in line and "SCHEDQ_TIME_LIMIT" in line


def test_process_stops_with_one_line_and_exit_code_2() -> None:
    env = {**os.environ, "SCHEDQ_MAX_RETRIES": "lots"}
    proc = subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", "job", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("schedq: invalid setting SCHEDQ_MAX_RETRIES")


def test_unknown_variables_warn_with_the_closest_known_name() -> None:
    from shared.settings import unknown_variable_warnings

    env = {
        "SCHEDQ_MAX_RETIRES": "3",  # a typo
        "SCHEDQ_CALENDAR_HTTP_TIMOUT": "5",  # a typo of a calendar setting
        "SCHEDQ_ZZZ": "1",  # nothing close
        "SCHEDQ_MAX_RETRIES": "3",  # known
        "SCHEDQ_SECRET_DR1_CALDAV": "x",  # a family read by name
        "PATH": "/bin",
    }
    warnings = unknown_variable_warnings(env)
    assert len(warnings) == 3
    assert "did you mean SCHEDQ_CALENDAR_HTTP_TIMEOUT?" in warnings[0]
    assert "SCHEDQ_MAX_RETIRES" in warnings[1] and "did you mean SCHEDQ_MAX_RETRIES?" in warnings[1]
    assert "SCHEDQ_ZZZ" in warnings[2] and "did you mean" not in warnings[2]


def test_an_empty_variable_is_unset_and_retry_limits_must_be_an_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCHEDQ_MAX_RETRIES", "")
    monkeypatch.setenv("SCHEDQ_RETRY_LIMITS", '{"DATABASE": 7}')
    settings = Settings()
    assert settings.max_retries == 5 and settings.retry_limit("DATABASE") == 7
    monkeypatch.setenv("SCHEDQ_RETRY_LIMITS", "[1]")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert describe_error(info.value).startswith("schedq: invalid setting SCHEDQ_RETRY_LIMITS")
