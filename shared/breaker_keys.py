"""Where the calendar providers' circuit breakers keep their state in Redis.

Workers write it (through pybreaker's Redis storage, ``worker.calendar.breaker``); the exporter
reads it for ``schedq_breaker_state``. Both take the key layout from here, so it exists once.
"""

from __future__ import annotations

PREFIX = "schedq:breaker:"
# pybreaker names its keys "<namespace>:pybreaker:<field>"; the state field is "state".
_STATE_SUFFIX = ":pybreaker:state"


def namespace(provider: str) -> str:
    """The pybreaker namespace of one provider (``host:port``)."""
    return f"{PREFIX}{provider}"


def state_key_pattern() -> str:
    """A SCAN pattern for every provider's state key (a key prefix may stand before it)."""
    return f"*{PREFIX}*{_STATE_SUFFIX}"


def provider_of(state_key: str) -> str:
    """``host:port`` of a state key found with :func:`state_key_pattern`."""
    return state_key.split(PREFIX, 1)[1].removesuffix(_STATE_SUFFIX)
