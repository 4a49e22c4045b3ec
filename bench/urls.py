"""URL helpers kept free of heavy imports (the bare-Celery baseline imports this)."""

from __future__ import annotations


def plain_url(sa_url: str) -> str:
    """The libpq form of a SQLAlchemy URL (the INSERT baseline talks to psycopg directly)."""
    return sa_url.replace("postgresql+psycopg://", "postgresql://", 1)
