"""Password hashing (argon2id), API-key generation and keyed digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from patron.settings import get_settings

API_KEY_PREFIX = "ptn_"
_hasher = PasswordHasher()  # argon2id with the library's OWASP-aligned defaults
# Verified when a user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A random password for generated accounts."""
    return secrets.token_urlsafe(18)


def new_api_key() -> str:
    """A new API key: a recognisable prefix and 256 random bits."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_digest(key: str) -> str:
    """SHA-256 of an API key: enough for a random 256-bit secret, and indexable."""
    return hashlib.sha256(key.encode()).hexdigest()


def keyed_digest(value: str) -> str:
    """HMAC-SHA256 of ``value`` with the instance secret (suppressions, PINs)."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
