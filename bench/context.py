"""What every figure gets: the private servers, the size preset, the run count, and what
earlier figures of the same invocation measured (the latency figure reuses the max rate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.env import BenchEnv


@dataclass(frozen=True)
class Size:
    name: str
    jobs: int  # throughput and memory: jobs drained per run
    doctors: int  # distinct doctors the jobs round-robin over
    submit_one: int  # submit figure: jobs submitted one by one
    submit_batch: int  # submit figure: jobs submitted in batches
    latency_seconds: float  # latency figure: how long the paced load runs
    history_small: int  # history figure: appointments in the "small" database
    history_large: int  # history figure: appointments in the "large" database
    history_jobs: int  # history figure: jobs drained per run
    ics_events: int  # calendar figure
    endurance_jobs: int  # memory figure: jobs through one long-lived worker
    timeout: float  # a drain that takes longer than this is a failure
    ceiling_jobs: int  # ceiling figure: no-op tasks per configuration and run
    hotkey_jobs: int  # hot-key figure: jobs on one doctor, and again spread over many
    hotkey_doctors: int  # hot-key figure: how many doctors the spread load covers


SIZES = {
    "tiny": Size("tiny", 200, 50, 40, 400, 3, 100, 1_000, 100, 200, 400, 120, 200, 200, 50),
    "small": Size(
        "small",
        5_000,
        500,
        500,
        5_000,
        10,
        1_000,
        100_000,
        1_000,
        2_000,
        10_000,
        600,
        3_000,
        3_000,
        1_000,
    ),
    # Every figure in at most 15 minutes on 2 cores (python -m bench --size standard).
    "standard": Size(
        "standard",
        2_000,
        1_000,
        500,
        5_000,
        10,
        1_000,
        20_000,
        500,
        2_000,
        5_000,
        600,
        1_500,
        1_500,
        1_000,
    ),
    # The issue-sized runs.
    "full": Size(
        "full",
        20_000,
        2_000,
        2_000,
        20_000,
        15,
        1_000,
        1_000_000,
        3_000,
        10_000,
        100_000,
        1800,
        10_000,
        20_000,
        1_000,
    ),
}


@dataclass
class Context:
    env: BenchEnv
    size: Size
    runs: int
    shared: dict[str, Any] = field(default_factory=dict)

    def command(self, figure: str) -> str:
        return f"python -m bench {figure} --size {self.size.name} --runs {self.runs}"
