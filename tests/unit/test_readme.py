"""The README's configuration table and commands stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

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


def _documented(heading: str) -> set[str]:
    """Metric names in the first column of the README table under ``heading``."""
    section = README.split(heading, 1)[1].split("\n### ", 1)[0]
    return {
        line.split("`")[1]
        for line in section.splitlines()
        if line.startswith("| `schedq_") or line.startswith("| `celery_")
    }


def _sample_name(family: Any) -> str:
    return f"{family.name}_total" if family.type == "counter" else family.name


def test_worker_metric_table_lists_exactly_the_registered_metrics() -> None:
    import shared.availability_cache
    import worker.calendar.metrics
    import worker.runtime.metrics

    registry = CollectorRegistry()
    modules = (worker.runtime.metrics, worker.calendar.metrics, shared.availability_cache)
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                registry.register(value)
    registered = {_sample_name(f) for f in registry.collect()}
    assert _documented("### Metrics from workers") == registered


def test_exporter_table_lists_exactly_the_exporter_families() -> None:
    from schedq.ops import exporter

    # Every family is built per scrape with _gauge("<name>", ...): read the names from the code.
    source = Path(exporter.__file__).read_text()
    families = set(re.findall(r'_gauge\(\s*"([a-z_]+)"', source))
    assert families and _documented("### Gauges from `schedq exporter`") == families
