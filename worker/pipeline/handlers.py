"""Which service function applies which job kind: the worker half of ``shared.kinds``.

A service binds itself beside its definition with ``@handles(kinds.SET_WORKING_PLAN)``; nothing
here names a kind. ``worker.pipeline.services`` imports every service module so that their
bindings exist before a job runs. Tests bind their own probe kinds with :func:`bind`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from shared.db.uow import UnitOfWork
from shared.kinds import KINDS, JobKind
from worker.pipeline.context import Applied, JobContext

Handler = Callable[[UnitOfWork, JobContext, Any], Applied]
H = TypeVar("H", bound=Handler)

_BOUND: dict[str, Handler] = {}
# Read-only view for tests and docs: kind name -> handler.
BOUND: Mapping[str, Handler] = MappingProxyType(_BOUND)


def bind(kind: JobKind, handler: Handler) -> None:
    """Make ``handler`` apply jobs of ``kind``; a kind has exactly one handler."""
    if KINDS.get(kind.name) != kind:
        raise ValueError(f"job kind {kind.name!r} is not registered in shared.kinds")
    current = _BOUND.get(kind.name)
    if current is not None and current is not handler:
        raise ValueError(f"job kind {kind.name!r} already has a handler: {current.__qualname__}")
    _BOUND[kind.name] = handler


def handles(kind: JobKind) -> Callable[[H], H]:
    """Decorator form of :func:`bind`, written on the service function itself."""

    def decorate(handler: H) -> H:
        bind(kind, handler)
        return handler

    return decorate


def handler_for(kind_name: str) -> Handler | None:
    return _BOUND.get(kind_name)
