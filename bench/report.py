"""Figure results, and the JSON file and markdown table they are written to."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bench.stats import Spread, ratios, spread

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    metric: str
    unit: str
    ours: Spread
    base_name: str = ""
    base: Spread | None = None
    target: tuple[Literal[">=", "<="], float] | None = None
    ratio: Spread | None = None

    @classmethod
    def compare(
        cls,
        metric: str,
        unit: str,
        ours: list[float],
        base_name: str,
        base: list[float],
        target: tuple[Literal[">=", "<="], float] | None = None,
    ) -> Row:
        return cls(metric, unit, spread(ours), base_name, spread(base), target, ratios(ours, base))

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ratio is None or math.isnan(self.ratio.median):
            return None
        op, value = self.target
        return self.ratio.median >= value if op == ">=" else self.ratio.median <= value

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": self.unit,
            "schedq": self.ours.to_json(),
            "baseline": self.base_name,
            "baseline_value": self.base.to_json() if self.base else None,
            "ratio": self.ratio.to_json() if self.ratio else None,
            "target": f"{self.target[0]} {self.target[1]:g}x" if self.target else None,
            "met": self.met,
        }


@dataclass
class Figure:
    name: str
    command: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        rows = [r.to_json() for r in self.rows]
        return {"command": self.command, "rows": rows, "notes": self.notes, "raw": self.raw}


def source() -> dict[str, Any]:
    """The commit the figures were measured at, and whether the tree had uncommitted changes:
    README cites every figure with its date and commit."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pg = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except OSError:
        pg = ""
    import celery
    import kombu

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "postgres_client": pg,
    }


def _source_line(src: dict[str, Any] | None) -> str:
    if not src or not src.get("commit"):
        return "Commit: unknown (not run from a git checkout)."
    dirty = " with uncommitted changes" if src.get("dirty") else ""
    return f"Commit: `{src['commit']}`{dirty}."


def _cell(s: Spread | None) -> str:
    return s.text() if s is not None else ""


def markdown(meta: dict[str, Any], figures: list[Figure]) -> str:
    m = meta["machine"]
    out = [
        f"# schedq benchmarks, {meta['date']}",
        "",
        _source_line(meta.get("source")),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average at start "
        f"{m['load_average_at_start'][0]:.2f}; Python {m['python']}, Celery {m['celery']}, "
        f"kombu {m['kombu']}. Worker nodes: `-P {meta['topology']['pool']} "
        f"-c {meta['topology']['concurrency']}`. "
        f"Size `{meta['size']}`, {meta['runs']} runs per figure: "
        "median [min-max]; every ratio is schedq / baseline of the same run.",
        "",
        "| figure | measurement | schedq | baseline | baseline value | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fig in figures:
        for row in fig.rows:
            met = {True: "yes", False: "**no**", None: ""}[row.met]
            target = f"{row.target[0]} {row.target[1]:g}x" if row.target else ""
            out.append(
                f"| {fig.name} | {row.metric} ({row.unit}) | {_cell(row.ours)} | "
                f"{row.base_name} | {_cell(row.base)} | {_cell(row.ratio)} | "
                f"{target} | {met} |"
            )
    out += ["", "## Commands and notes", ""]
    for fig in figures:
        out.append(f"- **{fig.name}**: `{fig.command}`")
        out += [f"  - {note}" for note in fig.notes]
    return "\n".join(out) + "\n"


def write(
    meta: dict[str, Any], figures: list[Figure], stem: str | None = None, folder: Path | None = None
) -> Path:
    folder = folder or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or datetime.now(UTC).strftime("%Y-%m-%dT%H%M")
    data = {**meta, "figures": {f.name: f.to_json() for f in figures}}
    (folder / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    path = folder / f"{stem}.md"
    path.write_text(markdown(meta, figures))
    return path
