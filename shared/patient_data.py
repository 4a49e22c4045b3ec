"""Patient references at rest: sealed with ``shared.crypto`` wherever schedq stores them.

A patient reference is stored in ``appointments.patient_ref`` and in the payload of a
``book_appointment`` job (and so in its dead letter). Both hold ``$fernet$<token>``: ``$`` never
appears in a reference (``PATIENT_REF`` allows letters, digits and ``._:/#-``), so a sealed value
is told from a legacy plaintext one without a second column, and a sealed payload read without
unsealing fails the shape check instead of passing a token off as a reference. Audit rows hold
no patient data at all: they name the appointment.

Rotation without downtime: put a new key first in SCHEDQ_ENCRYPTION_KEYS (every process then
seals under it and still opens the old), run ``schedq reencrypt``, then drop the old key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from shared import crypto

SEALED = "$fernet$"
# Replaces a reference past retention (shared by the retention purge and its dry run).
REDACTED = "$redacted$"
# Job kinds whose payload carries patient data, and the fields that hold it.
SENSITIVE_FIELDS: dict[str, tuple[str, ...]] = {"book_appointment": ("patient_ref",)}


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def seal(value: str) -> str:
    """The value encrypted under the first key (raises ENCRYPTION_KEY_MISSING without one)."""
    return SEALED + crypto.encrypt(value)


def unseal(value: str) -> str:
    """The plaintext of a sealed value; a legacy plaintext or redacted value is returned as is."""
    return crypto.decrypt(value.removeprefix(SEALED)) if is_sealed(value) else value


def needs_reseal(value: object, keys: tuple[str, ...]) -> bool:
    """Plaintext, or sealed under a key other than the first: ``schedq reencrypt`` rewrites it."""
    if not isinstance(value, str) or value == REDACTED:
        return False
    if not is_sealed(value):
        return True
    try:
        Fernet(keys[0].encode()).decrypt(value.removeprefix(SEALED).encode())
    except InvalidToken:
        return True
    return False


def reseal(value: str, keys: tuple[str, ...]) -> str:
    if is_sealed(value):
        return SEALED + crypto.rotate(value.removeprefix(SEALED), keys)
    return SEALED + crypto.encrypt(value, keys)


def _map_fields(kind: str, payload: Mapping[str, Any], change: Any) -> dict[str, Any]:
    out = dict(payload)
    for field in SENSITIVE_FIELDS.get(kind, ()):
        if isinstance(out.get(field), str):
            out[field] = change(out[field])
    return out


def seal_payload(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return _map_fields(kind, payload, seal)


def unseal_payload(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return _map_fields(kind, payload, unseal) if kind in SENSITIVE_FIELDS else dict(payload)
