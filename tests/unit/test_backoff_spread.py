"""Backoff delays are spread over the whole of [0, ceiling] (full jitter), not only bounded.

Without jitter (``delay = ceiling``) every retry of a failed burst fires at the same moment:
a thundering herd. Bounds alone cannot see that; the distribution can. The samples are drawn
from a seeded generator, so the statistics below are the same on every run.
"""

from __future__ import annotations

import random

import pytest
from scipy import stats

from shared.settings import Settings
from worker.pipeline.executor import backoff

SAMPLES = 4000
SETTINGS = Settings(retry_backoff_base=0.5, retry_backoff_cap=30)


def _delays(attempt: int, retry_after: float | None = None, seed: int = 19) -> list[float]:
    random.seed(seed)  # backoff draws from the module generator; pytest-randomly reseeds it too
    return [backoff(SETTINGS, attempt, retry_after) for _ in range(SAMPLES)]


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 0.5), (2, 1.0), (4, 4.0), (7, 30.0), (60, 30.0)],  # 0.5 * 2^(attempt-1), capped at 30
)
def test_delays_are_uniform_over_zero_to_the_ceiling(attempt: int, ceiling: float) -> None:
    delays = _delays(attempt)
    assert all(0 <= d <= ceiling for d in delays)
    # Kolmogorov-Smirnov against uniform(0, ceiling): a constant, a narrower range or a
    # shifted one gives p ~ 0; a uniform sample of this size stays far above 0.001.
    assert stats.kstest(delays, stats.uniform(loc=0, scale=ceiling).cdf).pvalue > 0.001
    # And every tenth of the range is used, from the very bottom to the very top.
    tenths = {min(int(d / ceiling * 10), 9) for d in delays}
    assert tenths == set(range(10))
    assert min(delays) < ceiling * 0.01 and max(delays) > ceiling * 0.99


def test_delays_differ_between_retries_of_one_attempt() -> None:
    assert len(set(_delays(3))) == SAMPLES


def test_retry_after_is_a_floor_capped_at_the_cap() -> None:
    # Retry-After 2 s with a ceiling of 4 s: uniform over [0, 4], raised to at least 2.
    delays = _delays(4, retry_after=2.0)
    assert min(delays) == 2.0 and max(delays) <= 4.0
    share_at_floor = sum(d == 2.0 for d in delays) / SAMPLES
    assert 0.45 < share_at_floor < 0.55  # the half of uniform(0, 4) that falls below 2
    above = [d for d in delays if d > 2.0]
    assert stats.kstest(above, stats.uniform(loc=2, scale=2).cdf).pvalue > 0.001
    # An hour's Retry-After is held to the cap, not obeyed.
    assert set(_delays(1, retry_after=3600.0)) == {30.0}
