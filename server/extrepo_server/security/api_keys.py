"""API keys: random, shown once, stored only as a SHA-256 of their secret part.

A key reads `ek_<id>_<secret>`: the id is public and finds the stored hash with one
indexed lookup; the secret (256 random bits) is compared as a hash in constant time.
Keys are high-entropy, so a fast hash is as safe as a slow one here and keeps
authentication cheap on every call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "ek"


@dataclass(frozen=True)
class NewKey:
    id: str
    secret_sha256: bytes
    token: str  # the whole key, to show the user once


@dataclass(frozen=True)
class PresentedKey:
    id: str
    secret: str


def generate() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_hex(32)
    return NewKey(key_id, hash_secret(secret), f"{PREFIX}_{key_id}_{secret}")


def parse(token: str) -> PresentedKey | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return PresentedKey(parts[1], parts[2])


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(presented: PresentedKey, stored_sha256: bytes) -> bool:
    return hmac.compare_digest(hash_secret(presented.secret), stored_sha256)
