"""Medians, ranges and ratios: the only arithmetic the report needs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    values: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.low == self.high:
            return fmt(self.median)
        return f"{fmt(self.median)} [{fmt(self.low)}-{fmt(self.high)}]"


def fmt(value: float) -> str:
    """Three significant digits at most, never scientific notation for our ranges."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def spread(values: Sequence[float]) -> Spread:
    vals = tuple(float(v) for v in values)
    if not vals:
        nan = float("nan")
        return Spread(nan, nan, nan, ())
    return Spread(statistics.median(vals), min(vals), max(vals), vals)


def ratios(ours: Sequence[float], theirs: Sequence[float]) -> Spread:
    """Per-run ratios (each run's figures were measured side by side), then their spread."""
    return spread([a / b if b else float("nan") for a, b in zip(ours, theirs, strict=True)])


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values) + 0.4999))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])
