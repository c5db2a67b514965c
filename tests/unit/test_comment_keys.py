"""Comment encryption keys: newest encrypts, any decrypts, rotation moves to the newest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken

from shared.privacy.encryption import CommentKeyring, derived_key
from shared.settings import Settings


def test_the_newest_key_encrypts_and_every_listed_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = CommentKeyring([old]).encrypt("under the old key")
    keys = CommentKeyring.from_settings(Settings(comment_keys=f" {new} , {old} "))

    after = keys.encrypt("under the new key")
    assert Fernet(new.encode()).decrypt(after.encode()) == b"under the new key"
    assert keys.decrypt(before) == "under the old key"
    assert (keys.is_current(before), keys.is_current(after)) == (False, True)

    rotated = keys.rotate(before)
    assert CommentKeyring([new]).decrypt(rotated) == "under the old key"
    with pytest.raises(InvalidToken):
        CommentKeyring([new]).decrypt(before)


def test_without_configured_keys_one_is_derived_from_the_secret() -> None:
    keys = CommentKeyring.from_settings(Settings(secret_key="one secret", comment_keys=""))
    token = keys.encrypt("words")
    assert CommentKeyring([derived_key("one secret")]).decrypt(token) == "words"
    assert derived_key("one secret") != derived_key("another secret")
    with pytest.raises(InvalidToken):
        CommentKeyring([derived_key("another secret")]).decrypt(token)


def test_a_malformed_key_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError):
        CommentKeyring.from_settings(Settings(comment_keys="not-a-fernet-key"))
