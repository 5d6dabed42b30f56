"""Pull access for mesh services: what a deployer or builder hands its container
runtime to pull one repository, obtained by this service with the stored
credentials, so that the password stays here whenever the registry allows.

Tokens are cached per repository and stored credentials until shortly before they
expire, and concurrent requests for the same one share one fetch: a burst of
deployments makes one token request, not one each. Each fetch awaits only its own
registry, so a slow registry delays only the calls for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .audit import Actor, AuditAction, AuditNamespace, new_entry
from .credentials import open_credentials
from .errors import FailedPrecondition, quote
from .mesh import MeshPrincipal, authorize_mesh
from .names import parse_name
from .ports import (
    AuditStore,
    Cipher,
    NamespaceDirectory,
    PullAccess,
    PullCredentials,
    PullKind,
    Registries,
    RepositoryStore,
)
from .resources import repository_uri

log = logging.getLogger("extrepo.handouts")

# A cached token is handed out only while it has at least this much life left (and
# at least a tenth of its lifetime): the runtime still has to use it.
MIN_REMAINING_SECONDS = 20
_MAX_CACHED = 10_000


@dataclass(frozen=True)
class Grant:
    """Pull access to hand out: its kind, the host, and the secret parts."""

    kind: PullKind
    host: str
    username: str = ""
    password: str = ""
    token: str = ""
    expires_at: float | None = None  # time.time(), for TOKEN


class PullAccessCatalog:
    def __init__(
        self,
        repositories: RepositoryStore,
        cipher: Cipher,
        registries: Registries,
        directory: NamespaceDirectory,
        audit: AuditStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repositories = repositories
        self._cipher = cipher
        self._registries = registries
        self._directory = directory
        self._audit = audit
        self._clock = clock
        self._tokens: dict[bytes, tuple[PullAccess, float]] = {}  # key -> (access, expires at)
        self._fetching: dict[bytes, asyncio.Future] = {}

    async def grant(self, principal: MeshPrincipal, *, namespace: str, repository: str) -> Grant:
        grant = authorize_mesh(principal, namespace, "GetPullAccess", self._directory)
        parsed = parse_name(repository, "repository")
        stored = self._repositories.credentials(grant, parsed.full)
        credentials = open_credentials(self._cipher, stored)
        key = hashlib.sha256(
            "\0".join(
                (str(grant.account_id), parsed.full, stored.username, stored.password)
            ).encode()
        ).digest()
        access, expires_at = await self._access(key, parsed.host, parsed.path, credentials)
        if access.kind is PullKind.PASSWORD and not principal.allow_password:
            raise FailedPrecondition(
                f"{quote(parsed.host, 253)} has Basic authentication only, so pulling needs "
                "the password itself, and the mesh policy does not let "
                f"{quote(principal.identity, 255)} receive passwords (allow_password)",
                reason="PASSWORD_NOT_ALLOWED",
            )
        # On record before it is handed out: no hand-out without its entry.
        await self._audit.record(
            new_entry(
                AuditNamespace.of(grant),
                AuditAction.PULL_ACCESS,
                repository_uri(grant.namespace, parsed.full),
                Actor(principal.identity),
                reason=access.kind.name,
            )
        )
        log.info(
            "pull access handed out",
            extra={
                "namespace": grant.namespace,
                "repository": parsed.full,
                "identity": principal.identity,
                "kind": access.kind.value,
            },
        )
        if access.kind is PullKind.TOKEN:
            return Grant(PullKind.TOKEN, parsed.host, token=access.token, expires_at=expires_at)
        if access.kind is PullKind.PASSWORD:
            return Grant(
                PullKind.PASSWORD,
                parsed.host,
                username=credentials.username,
                password=credentials.password,
            )
        return Grant(PullKind.ANONYMOUS, parsed.host)

    async def _access(
        self, key: bytes, host: str, path: str, credentials: PullCredentials
    ) -> tuple[PullAccess, float]:
        now = self._clock()
        cached = self._tokens.get(key)
        if cached is not None and cached[1] - now >= MIN_REMAINING_SECONDS:
            return cached
        pending = self._fetching.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._fetching[key] = future
        try:
            access = await self._registries.pull_access(host, path, credentials)
            expires_at = now + access.expires_in_seconds
            result = (access, expires_at)
            lifetime = access.expires_in_seconds
            if access.kind is PullKind.TOKEN and lifetime > MIN_REMAINING_SECONDS:
                if len(self._tokens) >= _MAX_CACHED:
                    self._tokens.clear()
                self._tokens[key] = result
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._fetching[key]
