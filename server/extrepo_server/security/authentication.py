"""Authentication of calls from their `authorization: Basic base64(user:apikey)` metadata.

Looking up the key and the caller's organizations costs two queries, so a verified
principal is cached for a few seconds (configurable; 0 turns the cache off). The
cache key is a SHA-256 of the whole header, never the header itself. A revoked key
or a changed membership therefore takes effect within that many seconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections import OrderedDict

from ..domain.access import Principal
from ..domain.errors import Unauthenticated
from ..domain.ports import AccountDirectory
from . import api_keys

_CACHE_MAX_ENTRIES = 10_000
_HOW = "send 'authorization: Basic base64(username:apikey)'"


class Authenticator:
    def __init__(self, accounts: AccountDirectory, *, cache_seconds: float) -> None:
        self._accounts = accounts
        self._ttl = cache_seconds
        self._cache: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated(f"credentials are missing: {_HOW}")
        fingerprint = hashlib.sha256(authorization.encode()).digest()
        if self._ttl > 0:
            cached = self._cache.get(fingerprint)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        principal = self._verify(authorization)
        if self._ttl > 0:
            self._cache[fingerprint] = (time.monotonic() + self._ttl, principal)
            self._cache.move_to_end(fingerprint)
            while len(self._cache) > _CACHE_MAX_ENTRIES:
                self._cache.popitem(last=False)
        return principal

    def _verify(self, authorization: str) -> Principal:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise Unauthenticated(f"unsupported authorization scheme: {_HOW}")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated(f"the Basic credentials are not valid base64: {_HOW}") from None
        username, sep, token = decoded.partition(":")
        presented = api_keys.parse(token) if sep else None
        if presented is None:
            raise Unauthenticated(f"the API key is malformed: {_HOW}")
        owner = self._accounts.key_owner(presented.id)
        # One message for every failure below, so a caller cannot probe which part was wrong.
        if (
            owner is None
            or not api_keys.secret_matches(presented, owner.secret_sha256)
            or owner.username != username
        ):
            raise Unauthenticated("invalid username or API key")
        return Principal(
            user_id=owner.user_id,
            username=owner.username,
            organizations=self._accounts.organizations_of(owner.user_id),
        )
