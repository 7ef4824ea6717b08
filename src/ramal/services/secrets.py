"""Generating and hashing the secrets ramal hands out.

Client secrets and access tokens are 256-bit random values, so a single SHA-256 is a sound way to
store them: there is no dictionary to attack and no need for a slow password hash, which would cap
``/request_token`` at a few hundred requests per second for no gain.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    """URL-safe (``[A-Za-z0-9_-]``), 43 characters: shell clients splice it unencoded (contract §11)."""
    return secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_hash(left: str, right: str) -> bool:
    return secrets.compare_digest(left, right)
