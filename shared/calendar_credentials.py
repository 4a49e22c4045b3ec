"""Calendar credentials: registered by an operator, bound to one doctor and one origin.

A job payload can only *name* a credential (``secret_ref``); it can never register one. Using
it requires the link's doctor and the exact origin (scheme, host, port) of the link's URL to be
the ones the credential was registered for, so a submitter cannot point another doctor's
password at their own server. Secrets are encrypted at rest (``shared.crypto``), decrypted only
at the moment of a request, and never logged, audited or returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared import crypto
from shared.db.calendar import CalendarCredential
from shared.db.schedule import Doctor
from shared.domain.origins import origin_of
from shared.errors import error, not_found

NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True)
class Credential:
    name: str
    origin: str
    username: str | None
    secret: str

    def __repr__(self) -> str:  # never show the secret, even in a traceback's locals
        return f"Credential(name={self.name!r}, origin={self.origin!r})"


@dataclass(frozen=True)
class Listed:
    name: str
    doctor_id: str
    origin: str
    username: str | None
    updated_at: datetime


def add(
    session: Session, name: str, doctor_id: str, url: str, username: str | None, secret: str
) -> Listed:
    """Register (or replace) a credential; ``url`` may be any URL of the origin."""
    if not NAME.match(name):
        raise ValueError("a credential name is 1-64 letters, digits or underscores")
    if session.get(Doctor, doctor_id) is None:
        raise not_found("doctor", doctor_id)
    origin = origin_of(url)
    values = {
        "doctor_id": doctor_id,
        "origin": origin,
        "username": username,
        "secret_encrypted": crypto.encrypt(secret),
    }
    stmt = insert(CalendarCredential).values(name=name, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[CalendarCredential.name], set_={**values, "updated_at": func.now()}
        )
    )
    row = session.get(CalendarCredential, name, populate_existing=True)
    assert row is not None
    return Listed(row.name, row.doctor_id, row.origin, row.username, row.updated_at)


def listing(session: Session, doctor_id: str | None = None) -> list[Listed]:
    query = select(CalendarCredential).order_by(CalendarCredential.name)
    if doctor_id is not None:
        query = query.where(CalendarCredential.doctor_id == doctor_id)
    return [
        Listed(r.name, r.doctor_id, r.origin, r.username, r.updated_at)
        for r in session.scalars(query)
    ]


def remove(session: Session, name: str) -> bool:
    row = session.get(CalendarCredential, name)
    if row is None:
        return False
    session.delete(row)
    return True


def rotate_all(session: Session) -> int:
    """Re-encrypt every stored secret under the first configured key; returns how many."""
    rows = session.execute(
        select(CalendarCredential.name, CalendarCredential.secret_encrypted).with_for_update()
    ).all()
    for name, token in rows:
        session.execute(
            update(CalendarCredential)
            .where(CalendarCredential.name == name)
            .values(secret_encrypted=crypto.rotate(token), updated_at=func.now())
        )
    return len(rows)


def check_binding(
    session: Session, name: str, doctor_id: str, url: str, username: str | None = None
) -> CalendarCredential:
    """The credential row if the link (doctor, URL, username) may use it; a code otherwise."""
    row = session.get(CalendarCredential, name)
    if row is None:
        raise error("CALENDAR_CREDENTIAL_MISSING", details={"credential": name})
    try:
        origin = origin_of(url)
    except ValueError:
        origin = ""
    bound = row.doctor_id == doctor_id and row.origin == origin
    if username is not None and row.username is not None and username != row.username:
        bound = False
    if not bound:
        raise error("CALENDAR_CREDENTIAL_NOT_BOUND", details={"credential": name})
    return row


def for_link(
    session: Session, name: str | None, doctor_id: str, url: str, username: str | None = None
) -> Credential | None:
    """The usable credential a link names (checked and decrypted), None when it names none."""
    if not name:
        return None
    row = check_binding(session, name, doctor_id, url, username)
    return Credential(row.name, row.origin, row.username, crypto.decrypt(row.secret_encrypted))
