"""Encryption of upstream secrets at rest, with keys separate from SECRET_KEY.

CREDENTIALS_KEYS is a list of Fernet keys, newest first: the newest encrypts, every
one of them decrypts, so keys can be rotated without downtime (`rotate_credentials_key`
re-encrypts everything under the newest).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "CREDENTIALS_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes each)"
        ) from None


def _current() -> MultiFernet:
    keys = tuple(settings.CREDENTIALS_KEYS)
    if not keys:
        raise ImproperlyConfigured("CREDENTIALS_KEYS is empty")
    return _fernet(keys)


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode("utf-8")).decode("ascii")


class UndecryptableSecret(Exception):
    """None of the configured keys opens this secret (a key was removed too early)."""


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise UndecryptableSecret("no key in CREDENTIALS_KEYS decrypts this secret") from None


def rotate(token: str) -> str:
    """The same secret, encrypted under the newest key."""
    try:
        return _current().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise UndecryptableSecret("no key in CREDENTIALS_KEYS decrypts this secret") from None


def mask(secret: str) -> str:
    """Show only the last four characters, never more than a quarter of the secret."""
    if len(secret) < 8:
        return "•" * 8
    return "•" * 8 + secret[-4:]


def token_digest(token: str) -> str:
    """How the secret part of an invitation or API token is kept: its SHA-256 (it is
    random and long, so a plain hash is enough; the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()
