"""API clients: create, list, revoke and rotate them, and authenticate a bearer token.

A token is ``sq_<key_id>_<secret>``. The ``key_id`` finds the row; the whole token is checked
against the stored argon2 hash. Verifying argon2 costs tens of milliseconds by design, so a
verified token is remembered in this process together with the hash it matched: every request
still reads the row, so a revoked or rotated client is refused at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shared.db.clients import ROLES, ApiClient
from shared.db.jobs import AuditEntry
from shared.db.uow import UnitOfWork
from shared.errors import Violation, error, validation_failed
from shared.kinds import KINDS
from shared.ledger.connection import connection

_HASHER = PasswordHasher()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Doctor patterns are shell-style with * and ? only, so they translate to SQL LIKE exactly.
_PATTERN = re.compile(r"^[A-Za-z0-9._:*?-]{1,64}$")
_TOKEN = re.compile(r"^sq_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    name: str
    role: str
    kinds: tuple[str, ...]
    doctor_patterns: tuple[str, ...]

    def may_submit(self, kind: str) -> bool:
        return "*" in self.kinds or kind in self.kinds

    def covers_doctor(self, doctor_id: str) -> bool:
        return any(fnmatchcase(doctor_id, p) for p in self.doctor_patterns)

    @property
    def all_doctors(self) -> bool:
        return "*" in self.doctor_patterns


@dataclass(frozen=True)
class ClientInfo:
    name: str
    role: str
    kinds: list[str]
    doctor_patterns: list[str]
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "kinds": self.kinds,
            "doctors": self.doctor_patterns,
            "created_at": self.created_at.isoformat(),
            "rotated_at": self.rotated_at.isoformat() if self.rotated_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _new_token() -> tuple[str, str, str]:
    key_id = secrets.token_hex(8)
    token = f"sq_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, token, _HASHER.hash(token)


def _check_scope(name: str, role: str, kinds: list[str], doctors: list[str]) -> None:
    problems: list[Violation] = []
    if not _NAME.match(name):
        problems.append(
            Violation("VALUE_FORMAT", "name", "A name is 1-64 letters, digits, '.', '_', '-'.")
        )
    if role not in ROLES:
        problems.append(
            Violation("VALUE_NOT_ALLOWED", "role", f"The role is one of {', '.join(ROLES)}.")
        )
    for i, kind in enumerate(kinds):
        if kind != "*" and kind not in KINDS:
            problems.append(Violation("UNKNOWN_JOB_KIND", f"kinds[{i}]", "Not a job kind."))
    for i, pattern in enumerate(doctors):
        if not _PATTERN.match(pattern):
            problems.append(
                Violation(
                    "VALUE_FORMAT",
                    f"doctors[{i}]",
                    "A doctor pattern is 1-64 letters, digits, '._:-' and the wildcards * ?.",
                )
            )
    if problems:
        raise validation_failed(problems)


def _audit(actor: str, name: str, action: str, after: dict[str, Any] | None) -> AuditEntry:
    return AuditEntry(
        actor=actor[:100], entity="api_client", entity_id=name, action=action, after=after
    )


def create_client(name: str, role: str, kinds: list[str], doctors: list[str], actor: str) -> str:
    """Create a client and return its token (the only time it is ever available)."""
    kinds, doctors = kinds or ["*"], doctors or ["*"]
    _check_scope(name, role, kinds, doctors)
    key_id, token, hashed = _new_token()
    with UnitOfWork() as uow:
        uow.session.add(
            ApiClient(
                name=name,
                role=role,
                kinds=kinds,
                doctor_patterns=doctors,
                key_id=key_id,
                token_hash=hashed,
            )
        )
        uow.session.add(
            _audit(actor, name, "created", {"role": role, "kinds": kinds, "doctors": doctors})
        )
        try:
            uow.commit()
        except IntegrityError:
            raise error("API_CLIENT_EXISTS", name=name) from None
    return token


def list_clients() -> list[ClientInfo]:
    with UnitOfWork() as uow:
        rows = uow.session.scalars(select(ApiClient).order_by(ApiClient.name)).all()
        return [
            ClientInfo(
                r.name,
                r.role,
                r.kinds,
                r.doctor_patterns,
                r.created_at,
                r.rotated_at,
                r.revoked_at,
            )
            for r in rows
        ]


def _change(name: str, actor: str, action: str) -> str | None:
    with UnitOfWork() as uow:
        row = uow.session.scalar(select(ApiClient).where(ApiClient.name == name).with_for_update())
        if row is None:
            raise error("API_CLIENT_NOT_FOUND", name=name[:64])
        token = None
        if action == "revoked":
            row.revoked_at = func.now()
        else:
            row.key_id, token, row.token_hash = _new_token()
            row.rotated_at = func.now()
        uow.session.add(_audit(actor, name, action, None))
        uow.commit()
        return token


def revoke_client(name: str, actor: str) -> None:
    _change(name, actor, "revoked")


def rotate_client(name: str, actor: str) -> str:
    """A new token for the client; the old one stops working at once."""
    token = _change(name, actor, "rotated")
    assert token is not None
    return token


_SELECT = """
    SELECT name, role, kinds, doctor_patterns, token_hash, revoked_at
    FROM api_clients WHERE key_id = %s
"""
# key_id -> (stored hash, sha256 of the token that verified against it)
_verified: LRUCache[str, tuple[str, bytes]] = LRUCache(maxsize=4096)
_lock = threading.Lock()


def authenticate(database_url: str, token: str) -> Principal | None:
    """The client holding ``token``, or None (unknown, malformed, wrong or revoked)."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    key_id = match.group(1)
    with connection(database_url) as conn:
        row = conn.execute(_SELECT, [key_id]).fetchone()
    if row is None:
        return None
    name, role, kinds, patterns, stored, revoked_at = row
    if revoked_at is not None:
        return None
    digest = hashlib.sha256(token.encode()).digest()
    with _lock:
        known = _verified.get(key_id)
    if known is None or known[0] != stored or not hmac.compare_digest(known[1], digest):
        try:
            _HASHER.verify(stored, token)
        except (VerificationError, InvalidHashError):
            return None
        with _lock:
            _verified[key_id] = (stored, digest)
    return Principal(name, role, tuple(kinds), tuple(patterns))
