from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import reset_settings_cache


@pytest.fixture
def all_day_hours(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Business hours 00:00-24:00, for plans that work through the night (DST hours, 24:00)."""
    monkeypatch.setenv("SCHEDQ_BUSINESS_HOURS_START", "00:00")
    monkeypatch.setenv("SCHEDQ_BUSINESS_HOURS_END", "24:00")
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()
