"""Clients' comments are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Keys come from settings (ATTUNE_COMMENT_KEYS, newest first). New ciphertexts use the newest
key; any listed key decrypts, so a rotation is: put the new key first, run
`attune keys rotate-comments` (shared.privacy.rotation), then drop the old key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from shared.settings import Settings, get_settings


class CommentKeyring:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one comment key is needed")
        self._newest = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> CommentKeyring:
        keys = [key.strip() for key in settings.comment_keys.split(",") if key.strip()]
        return cls(keys or [derived_key(settings.secret_key)])

    def encrypt(self, text: str) -> str:
        return self._newest.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._all.decrypt(token.encode()).decode()

    def is_current(self, token: str) -> bool:
        """Whether the newest key made this ciphertext (so rotating it would change nothing)."""
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        return self._all.rotate(token.encode()).decode()


def derived_key(secret: str) -> str:
    """A Fernet key derived from the server secret, for the embedded mode and for
    installations that have not set ATTUNE_COMMENT_KEYS yet."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"attune comment encryption"
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(raw).decode()


_installed: CommentKeyring | None = None


def install_keyring(keyring: CommentKeyring) -> None:
    """Called once per process from its settings (services.bootstrap)."""
    global _installed
    _installed = keyring


def keyring() -> CommentKeyring:
    global _installed
    if _installed is None:
        _installed = CommentKeyring.from_settings(get_settings())
    return _installed


class EncryptedText(TypeDecorator[str]):
    """Plain text in Python, a Fernet token in the database: no query path can forget it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else keyring().encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else keyring().decrypt(value)
