"""Alert rules and the Grafana dashboard: promtool runs the rule tests, and every schedq metric
they name is one the code really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "docs" / "ops" / "prometheus"
DASHBOARD = REPO / "docs" / "ops" / "grafana" / "dashboards" / "schedq.json"
METRIC = re.compile(r"\b(schedq_[a-z_]+)")
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def promtool() -> str:
    found = shutil.which("promtool")
    # .ci/bootstrap installs Debian's prometheus package, which ships promtool.
    assert found, "promtool missing: run .ci/bootstrap (apt-get install prometheus)"
    return found


def exported_metrics() -> set[str]:
    """Names defined in the code: worker counters, exporter gauges, the availability cache."""
    names: set[str] = set()
    sources = [p for part in ("shared", "worker", "schedq") for p in (REPO / part).rglob("*.py")]
    for source in sources:
        text = source.read_text()
        names |= set(re.findall(r'"(schedq_[a-z_]+)"', text))
    return names


def base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_promtool_checks_config_and_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "config", str(PROM / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_fires_every_alert() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yml"],
        cwd=PROM,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((PROM / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"] for t in tests for case in t["alert_rule_test"] if case.get("exp_alerts")
    }
    assert fired == alerts


def _exprs() -> list[str]:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return exprs


@pytest.mark.parametrize("expr", _exprs())
def test_rules_and_dashboard_name_only_real_metrics(expr: str) -> None:
    known = exported_metrics()
    for name in METRIC.findall(expr):
        assert base_name(name) in known or name in known, f"{name} is not exported by schedq"


def test_dashboard_is_provisioned_from_the_repo() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "schedq-overview"
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("throughput", "failure rate", "p95", "queue depth", "dead letters"):
        assert topic in titles
    provider = yaml.safe_load(
        (REPO / "docs/ops/grafana/provisioning/dashboards/schedq.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
