"""Encryption at rest for small secrets (calendar credentials, patient references).

``cryptography``'s MultiFernet (AES-128-CBC + HMAC-SHA256, authenticated) with keys from
``SCHEDQ_ENCRYPTION_KEYS``: the first key encrypts, every key decrypts, so a key is rotated by
putting a new one first, re-encrypting what is stored (:func:`rotate`) and then dropping the old
one. There is no default key: without one, encrypting or decrypting raises
``ENCRYPTION_KEY_MISSING`` and workers outside development/test refuse to start
(:func:`require_keys`). Nothing here logs a key, a plaintext or a token.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.errors import error


def parse_keys(value: object) -> tuple[str, ...]:
    """``SCHEDQ_ENCRYPTION_KEYS`` as a tuple of valid Fernet keys (comma-separated text)."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    keys = tuple(str(item).strip() for item in items if str(item).strip())
    for number, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            # Never echo the value: it is a secret even when it is malformed.
            raise ValueError(f"key #{number} is not a Fernet key (32 url-safe base64 bytes)")
    return keys


def generate_key() -> str:
    """A new random key (``schedq keys generate`` prints one)."""
    return Fernet.generate_key().decode()


def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise error("ENCRYPTION_KEY_MISSING")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _keys() -> tuple[str, ...]:
    from shared.settings import get_settings

    return get_settings().encryption_keys


def encrypt(plaintext: str, keys: tuple[str, ...] | None = None) -> str:
    """A token for ``plaintext`` under the first key."""
    return _fernet(_keys() if keys is None else keys).encrypt(plaintext.encode()).decode()


def decrypt(token: str, keys: tuple[str, ...] | None = None) -> str:
    """The plaintext of a token made under any configured key."""
    try:
        return _fernet(_keys() if keys is None else keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise error("ENCRYPTION_KEY_UNKNOWN") from None


def rotate(token: str, keys: tuple[str, ...] | None = None) -> str:
    """The same plaintext under the first key (a token already under it is re-encrypted too)."""
    try:
        return _fernet(_keys() if keys is None else keys).rotate(token.encode()).decode()
    except InvalidToken:
        raise error("ENCRYPTION_KEY_UNKNOWN") from None


def require_keys(env: str, keys: tuple[str, ...]) -> list[str]:
    """Problems that stop a process: no key outside development/test."""
    if env in ("development", "test") or keys:
        return []
    return ["SCHEDQ_ENCRYPTION_KEYS must be set (no default key outside development/test)"]
