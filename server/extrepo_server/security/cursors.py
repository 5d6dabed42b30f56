"""Signing of list cursors: HMAC-SHA256 under keys derived from the credential keyring.

A cursor leaves the service in `meta.next` and comes back as a caller sends it; its
signature proves the service made it, so nothing a caller invents or alters reaches
the cursor's decoder (domain.paging). Every replica must accept every replica's
cursors, so the signing keys come from what replicas already share: the credential
keys (EXTREPO_SECRET_KEYS or the key file). Each is stretched with HKDF under a
label of its own, so the derived key is unrelated to the key's use for Fernet and
a signature never doubles as anything else. The first key signs; each one verifies,
so after a rotation the cursors signed under the old key keep working until that
key is dropped, and from then on they are refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Changing the label (or the hash) invalidates every cursor in flight.
_INFO = b"extrepo list cursor signing key v1"
TAG_SIZE = 32  # HMAC-SHA256, untruncated


def _derive(key: str) -> bytes:
    # Any key string will do as input keying material: HKDF's extract step turns it
    # into a uniform key, whatever format the keyring's keys have.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode())


class CursorSigner:
    """Signs with the first of `keys` and verifies with any of them (domain.ports.Signer)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("cursor signing needs at least one key")
        self._keys = [_derive(key) for key in keys]

    def sign(self, payload: bytes) -> bytes:
        return payload + hmac.digest(self._keys[0], payload, "sha256")

    def verify(self, signed: bytes) -> bytes | None:
        if len(signed) < TAG_SIZE:
            return None
        payload, tag = signed[:-TAG_SIZE], signed[-TAG_SIZE:]
        # Tags are compared in constant time, so how long a check takes says nothing
        # about how much of a forged tag was right. (Which key matched may show; that
        # is no secret.)
        for key in self._keys:
            if hmac.compare_digest(hmac.digest(key, payload, "sha256"), tag):
                return payload
        return None
