"""Authentication of calls from their `authorization: Basic base64(user:apikey)` metadata.

Looking up the key and the caller's organizations costs two queries, so a verified
principal is cached for a few seconds (configurable; 0 turns the cache off). The
cache key is a SHA-256 of the whole header, never the header itself. A revoked key
or a changed membership therefore takes effect within that many seconds.

The cache is this process's: an account deleted by the admin command (another
process) stays cached here at most that long. A call that finds its namespace's
account gone meanwhile (namespace_gone) drops every cached principal that names the
account at once. Failed attempts are throttled per client and per key id
(throttle.py); a cached principal is served before the throttle is consulted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from ..domain.access import Principal
from ..domain.errors import DomainError, NamespaceGone, ResourceExhausted, Unauthenticated
from ..domain.ports import AccountDirectory
from ..observability.metrics import AUTH_FAILURES
from . import api_keys
from .throttle import FailureThrottle

_MISSING = AUTH_FAILURES.labels("missing")
_INVALID = AUTH_FAILURES.labels("invalid")
_THROTTLED = AUTH_FAILURES.labels("throttled")

_CACHE_MAX_ENTRIES = 10_000
_HOW = "send 'authorization: Basic base64(username:apikey)'"

# Where a call comes from, asked only when its principal is not cached: its gRPC peer
# (`ipv4:1.2.3.4:5678`) and its `x-forwarded-for` metadata, if any.
Origin = Callable[[], tuple[str, str | None]]


def _unknown_origin() -> tuple[str, str | None]:
    return "unknown", None


class Authenticator:
    def __init__(
        self,
        accounts: AccountDirectory,
        *,
        cache_seconds: float,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self._accounts = accounts
        self._ttl = cache_seconds
        self._cache: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._throttle = throttle

    def authenticate(
        self, authorization: str | None, origin: Origin = _unknown_origin
    ) -> Principal:
        fingerprint = None
        if authorization and self._ttl > 0:
            fingerprint = hashlib.sha256(authorization.encode()).digest()
            cached = self._cache.get(fingerprint)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        try:
            principal = self._verify_throttled(authorization, origin)
        except Unauthenticated:
            (_INVALID if authorization else _MISSING).inc()
            raise
        except ResourceExhausted:
            _THROTTLED.inc()
            raise
        if fingerprint is not None:
            self._cache[fingerprint] = (time.monotonic() + self._ttl, principal)
            self._cache.move_to_end(fingerprint)
            while len(self._cache) > _CACHE_MAX_ENTRIES:
                self._cache.popitem(last=False)
        return principal

    def namespace_gone(self, error: NamespaceGone, principal: Principal | None) -> DomainError:
        """What to answer a call that found its namespace's account deleted: the
        caller's own account is UNAUTHENTICATED (its keys went with it), another
        namespace NOT_FOUND. Every cached principal naming the account is dropped."""
        self.forget_account(error.account_id)
        if principal is not None and principal.user_id == error.account_id:
            return Unauthenticated(
                "your account no longer exists; its API keys were deleted with it"
            )
        return error

    def forget_account(self, account_id: int) -> None:
        """Drop the cached principals of a user, and those that grant an organization
        (rare: a scan of at most _CACHE_MAX_ENTRIES entries)."""
        stale = [
            fingerprint
            for fingerprint, (_, principal) in self._cache.items()
            if principal.user_id == account_id
            or any(o.organization_id == account_id for o in principal.organizations.values())
        ]
        for fingerprint in stale:
            del self._cache[fingerprint]

    def _verify_throttled(self, authorization: str | None, origin: Origin) -> Principal:
        throttle = self._throttle
        if throttle is None:
            return self._verify(*_credentials(authorization))
        client = throttle.clients.of(*origin())
        throttle.check_client(client)
        key_id = None
        try:
            username, presented = _credentials(authorization)
            key_id = presented.id
            throttle.check_key(key_id)
            return self._verify(username, presented)
        except Unauthenticated:
            throttle.failed(client, key_id)
            raise

    def _verify(self, username: str, presented: api_keys.PresentedKey) -> Principal:
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
            key_id=presented.id,
        )


def _credentials(authorization: str | None) -> tuple[str, api_keys.PresentedKey]:
    """The username and key of a Basic authorization header, or Unauthenticated."""
    if not authorization:
        raise Unauthenticated(f"credentials are missing: {_HOW}")
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
    return username, presented
