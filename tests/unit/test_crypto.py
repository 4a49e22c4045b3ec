"""Encryption at rest: MultiFernet with keys from SCHEDQ_ENCRYPTION_KEYS, no default key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared import crypto
from shared.errors import SchedqError
from shared.settings import Settings
from worker.runtime.config import worker_config
from worker.runtime.startup_checks import problems


def test_round_trip_and_the_token_hides_the_plaintext() -> None:
    keys = (crypto.generate_key(),)
    token = crypto.encrypt("app-password", keys)
    assert "app-password" not in token
    assert crypto.decrypt(token, keys) == "app-password"


def test_first_key_encrypts_every_key_decrypts_and_rotate_moves_to_the_newest() -> None:
    old, new = crypto.generate_key(), crypto.generate_key()
    token = crypto.encrypt("s3cret", (old,))
    assert crypto.decrypt(token, (new, old)) == "s3cret"
    rotated = crypto.rotate(token, (new, old))
    assert crypto.decrypt(rotated, (new,)) == "s3cret"
    with pytest.raises(SchedqError) as info:
        crypto.decrypt(token, (new,))  # the old key is gone: the old token is unreadable
    assert info.value.code == "ENCRYPTION_KEY_UNKNOWN"


def test_no_key_means_no_encryption() -> None:
    with pytest.raises(SchedqError) as info:
        crypto.encrypt("x", ())
    assert info.value.code == "ENCRYPTION_KEY_MISSING"


def test_settings_read_a_comma_separated_list_and_never_echo_a_bad_key() -> None:
    a, b = crypto.generate_key(), crypto.generate_key()
    assert Settings(encryption_keys=f"{a}, {b}").encryption_keys == (a, b)
    with pytest.raises(ValidationError) as info:
        Settings(encryption_keys="not-a-key-but-a-secret")
    assert "not-a-key-but-a-secret" not in str(info.value)


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_and_test_may_run_without_a_key(env: str) -> None:
    s = Settings(env=env, encryption_keys=())
    assert not any("ENCRYPTION" in p for p in problems(worker_config(s), s))


def test_production_workers_refuse_to_start_without_a_key() -> None:
    s = Settings(env="production", encryption_keys=())
    assert any("SCHEDQ_ENCRYPTION_KEYS" in p for p in problems(worker_config(s), s))
    keyed = Settings(env="production", encryption_keys=crypto.generate_key())
    assert not any("ENCRYPTION" in p for p in problems(worker_config(keyed), keyed))
