"""The README's configuration table and commands stay true to the code."""

from __future__ import annotations

from pathlib import Path

from shared.calendar_settings import CalendarSettings
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_every_setting_is_documented_and_no_stale_ones() -> None:
    documented = {
        line.split("`")[1] for line in README.splitlines() if line.startswith("| `SCHEDQ_")
    }
    expected = {f"SCHEDQ_{name.upper()}" for name in Settings.model_fields} | {
        f"SCHEDQ_CALENDAR_{name.upper()}" for name in CalendarSettings.model_fields
    }
    assert documented == expected


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "bash .ci/test" in README
    run = (REPO / ".ci" / "run").read_text()
    assert "exec bash .ci/test\n" in run
    assert "bash .ci/demo" in README
    assert "schedq demo" in (REPO / ".ci" / "demo").read_text()
