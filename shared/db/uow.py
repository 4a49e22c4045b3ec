"""The unit of work: one transaction per use, rolled back unless ``commit()`` is called."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from sqlalchemy import CursorResult, Engine
from sqlalchemy.orm import Session

from shared.db.base import get_engine


class UnitOfWork:
    """``with UnitOfWork() as uow: ...; uow.commit()``.

    Callbacks registered with :meth:`after_commit` run only once the commit has succeeded;
    that is where follow-up messages are published, never before.
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._after_commit: list[Callable[[], object]] = []
        self.session: Session

    def __enter__(self) -> Self:
        self.session = Session(self._engine or get_engine(), expire_on_commit=False)
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def sql(self, statement: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        """Run driver-level SQL (psycopg ``%(name)s`` parameters) in this unit's transaction.

        For the statements every job runs: it skips SQLAlchemy's statement building, cache
        key and compilation, which cost more CPU than the round trip itself. Pending ORM
        changes are flushed first, as the ORM's own queries would (autoflush).
        """
        self.session.flush()
        return self.session.connection().exec_driver_sql(statement, params or {})

    def commit(self) -> None:
        self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], object]) -> None:
        self._after_commit.append(callback)
