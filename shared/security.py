"""Secrets that travel by link or header: generated from `secrets`, stored as SHA-256.

A presented token is found by looking up its digest. That lookup compares digests, not
tokens: how long it takes can only tell about a digest's prefix, which gives no way to build
a token that has it. Where a stored digest is compared in Python, it is with
`hmac.compare_digest` (`same_hash`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_passwords = PasswordHasher()


def new_token(prefix: str = "") -> tuple[str, str]:
    """A fresh token and the hash to store; the raw token exists only in what is sent."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, hash_token(raw)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def same_hash(stored: str, raw: str) -> bool:
    return hmac.compare_digest(stored, hash_token(raw))


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        # Spend the same time as a real check so a missing account cannot be told apart.
        _passwords.hash(password)
        return False
    try:
        return _passwords.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
