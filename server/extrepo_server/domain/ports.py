"""What the domain needs from the outside world, and the records that cross over.

The domain's use cases (catalog.py) depend on these Protocols only; storage and
security implement them, and app.py wires the concrete ones in. So the domain
imports neither storage nor security, and a second store (or a fake in a unit test
of the domain) needs nothing but these signatures.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from .access import NamespaceGrant, OrganizationAccess
from .audit import ActionFilters, AuditEntry, StoredAction
from .paging import Window
from .resources import registry_uri, repository_uri


class VerificationState(enum.Enum):
    """The outcome of a check of a repository's credentials against its registry
    (proto: `Verification.State`, whose docs say what each means). The values are
    what the database stores."""

    PENDING = "pending"
    NOT_CHECKED = "not_checked"
    VERIFIED = "verified"
    CREDENTIALS_REJECTED = "credentials_rejected"
    REPOSITORY_NOT_FOUND = "repository_not_found"
    PULL_DENIED = "pull_denied"
    REGISTRY_UNREACHABLE = "registry_unreachable"
    TLS_ERROR = "tls_error"
    NOT_A_REGISTRY = "not_a_registry"
    ADDRESS_FORBIDDEN = "address_forbidden"
    REGISTRY_ERROR = "registry_error"


class Verification(NamedTuple):
    """What the latest check found: the state, when it finished (None while PENDING
    or NOT_CHECKED) and a short reason a user can read (never a credential). A named
    tuple, as Repository, which holds one: List builds 25 of them per call."""

    state: VerificationState
    checked_at: datetime | None = None
    reason: str = ""


PENDING = Verification(VerificationState.PENDING, None, "not checked yet")


class Repository(NamedTuple):
    """A registered repository as the API shows it: never its credentials.

    The one record of a repository: storage builds it, the use cases return it, the
    transport turns it into a message. A named tuple, not a dataclass: List builds
    25 per call, and a frozen dataclass costs ~1.5 us to build against ~0.6 us.
    The times are aware UTC datetimes.
    """

    namespace: str
    name: str
    in_use: bool
    created_at: datetime
    updated_at: datetime
    verification: Verification = PENDING

    @property
    def registry(self) -> str:
        return registry_uri(self.namespace, self.name.partition("/")[0])

    @property
    def resource_uri(self) -> str:
        return repository_uri(self.namespace, self.name)


@dataclass(frozen=True)
class EncryptedCredentials:
    """A repository's registry username and password, each a keyring token, both
    encrypted with the key of id `key_id` (a row is never under two keys)."""

    username: str
    password: str
    key_id: str


class RepositoryStore(Protocol):
    """Repositories of namespaces. Errors: NotFound, AlreadyExists, Unavailable.

    Reads are plain calls (short indexed lookups, measured cheaper than any hand-off);
    writes are awaited, because one may wait for a lock held elsewhere and that wait
    must not hold up other calls.
    """

    def get(self, namespace: NamespaceGrant, name: str) -> Repository: ...

    def page(
        self,
        namespace: NamespaceGrant,
        window: Window,
        *,
        host: str | None = None,
        name: str | None = None,
    ) -> tuple[list[Repository], int]:
        """A page of the listing in name order, and how many the whole listing holds
        (filtered to one registry `host` and/or one exact `name`)."""
        ...

    def credentials(self, namespace: NamespaceGrant, name: str) -> EncryptedCredentials:
        """A repository's stored credentials, still encrypted (to check them)."""
        ...

    async def create(
        self,
        namespace: NamespaceGrant,
        name: str,
        host: str,
        credentials: EncryptedCredentials,
        verification: Verification = PENDING,
        next_check_at: datetime | None = None,
        audit: AuditEntry | None = None,
    ) -> Repository:
        """Store a repository with the outcome of the check of its credentials, and
        when to check them again (None: never); `audit`, its entry in the audit log,
        in the same transaction."""
        ...

    async def update_credentials(
        self,
        namespace: NamespaceGrant,
        name: str,
        *,
        username: str | None,
        password: str | None,
        key_id: str,
        rewrap: Callable[[str], str | None],
        verification: Verification = PENDING,
        next_check_at: datetime | None = None,
        host: str | None = None,
        audit: AuditEntry | None = None,
    ) -> Repository:
        """Set the given encrypted fields (tokens under key `key_id`) only; a field that
        is None keeps its value. If the kept field is under another key, it is
        re-encrypted with `rewrap` in the same write, so the row stays under one key;
        Unavailable if `rewrap` cannot open it (None). The outcome of the check of the
        new credentials is stored with them (and as `host`'s latest check), and
        `audit` in the same transaction."""
        ...

    async def delete(
        self, namespace: NamespaceGrant, name: str, host: str, audit: AuditEntry | None = None
    ) -> None:
        """Delete a repository, and write `audit` in the same transaction."""
        ...


class Cipher(Protocol):
    """Encrypts credentials for storage (security.credentials.Keyring)."""

    @property
    def key_id(self) -> str:
        """The id of the key `encrypt` uses, stored beside what it encrypted."""
        ...

    def encrypt(self, plaintext: str) -> str: ...

    def rewrap(self, token: str) -> str | None:
        """`token`'s plaintext encrypted with the key `encrypt` uses, or None if no key
        of this cipher can open it."""
        ...

    def reveal(self, token: str) -> str | None:
        """`token`'s plaintext (to check it against its registry), or None if no key
        of this cipher can open it."""
        ...


class CheckBudget(Protocol):
    """How many credential checks one caller may ask for (security.check_budget)."""

    def take(self, caller: str) -> float | None:
        """None if `caller` may run a check now (it is counted), else the seconds to
        wait before one is allowed."""
        ...


class Signer(Protocol):
    """Signs what the service hands out and must know again when it comes back (list
    cursors), under keys every replica shares (security.cursors.CursorSigner)."""

    def sign(self, payload: bytes) -> bytes:
        """`payload` followed by its signature."""
        ...

    def verify(self, signed: bytes) -> bytes | None:
        """The payload of `signed` if a key of the service signed it, else None."""
        ...


@dataclass(frozen=True)
class KeyOwner:
    """What authentication needs to know about the user an API key id names."""

    secret_sha256: bytes
    user_id: int
    username: str


class AccountDirectory(Protocol):
    """API keys and memberships, as authentication reads them (storage.accounts)."""

    def key_owner(self, key_id: str) -> KeyOwner | None:
        """The owner of an unrevoked key, or None."""
        ...

    def organizations_of(self, user_id: int) -> dict[str, OrganizationAccess]: ...


@dataclass(frozen=True)
class Challenge:
    """A registry's `WWW-Authenticate` challenge: its scheme in lower case (`bearer`,
    `basic`) and parameters with lower-case names (`realm`, `service`, `scope`)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


class RegistryPingOutcome(enum.Enum):
    OPEN = "open"  # a registry that lets anyone in
    AUTH_REQUIRED = "auth_required"  # a registry asking for credentials (the challenge)
    NOT_A_REGISTRY = "not_a_registry"  # something answered, but not the distribution API
    UNREACHABLE = "unreachable"  # no connection, no answer in time, or a broken exchange
    TLS_ERROR = "tls_error"  # a certificate or handshake the client refused


@dataclass(frozen=True)
class RegistryPing:
    """What `GET /v2/` on a registry host told: the outcome, a short reason a user
    can read (never a credential), and the authentication challenge, if any."""

    outcome: RegistryPingOutcome
    reason: str
    challenge: Challenge | None = None


class AuthScheme(enum.Enum):
    """How a registry asks clients to authenticate (its `/v2/` challenge)."""

    NONE = "none"  # anyone may pull
    BASIC = "basic"  # Basic credentials on every request
    BEARER = "bearer"  # the token flow, at the challenge's realm


@dataclass(frozen=True)
class PullCredentials:
    """A registry username and password in plain text, only ever in memory for the
    length of one check. Never printed: repr shows neither."""

    username: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class RegistryCheck:
    """One check of credentials against one repository of a registry: the outcome,
    and what was learned about the registry on the way (for Validate)."""

    verification: Verification
    auth_scheme: AuthScheme | None = None  # None: the check did not get that far
    token_realm_host: str = ""  # host[:port] of the token service, for BEARER
    api_version: str = ""  # the Docker-Distribution-API-Version header, e.g. registry/2.0


class PullKind(enum.Enum):
    TOKEN = "token"  # noqa: S105 - a kind, not a secret: a bearer token for one repository
    PASSWORD = "password"  # noqa: S105 - a kind: the stored credentials of a Basic registry
    ANONYMOUS = "anonymous"  # anyone may pull


@dataclass(frozen=True)
class PullAccess:
    """What a runtime needs to pull one repository (never printed: repr hides it)."""

    kind: PullKind
    token: str = field(default="", repr=False)
    expires_in_seconds: int = 0


class Registries(Protocol):
    """Third-party registries, reached over the network (registry.client). Async:
    a check takes tens of milliseconds to seconds and must never block the loop."""

    async def ping(self, host: str) -> RegistryPing: ...

    async def pull_access(self, host: str, path: str, credentials: PullCredentials) -> PullAccess:
        """A bearer token scoped to pulling `path` (the token flow), or what the
        registry's scheme allows instead. Raises FailedPrecondition (the registry
        refused the credentials) or Unavailable (it could not be asked)."""
        ...

    async def check(self, host: str, path: str, credentials: PullCredentials) -> RegistryCheck:
        """Whether `credentials` may pull `host/path`, as `docker pull` would find
        out, without pulling image data. Never raises for what the registry, the
        network or the address policy does: every outcome is a VerificationState,
        within the client's total timeout."""
        ...


@dataclass(frozen=True)
class DueCheck:
    """A repository whose background re-check is due, with what checking it needs."""

    repository_id: int
    namespace_id: int
    name: str
    credentials: EncryptedCredentials
    updated_at: datetime  # the credentials' version: an outcome is recorded only for it
    next_check_at: datetime  # the due time, which claiming it moves forward
    failures: int  # checks in a row that could not ask the registry


class CheckQueue(Protocol):
    """The background re-checks, shared by every replica (storage.checks)."""

    async def schedule_unscheduled(self, now: datetime) -> int:
        """Make due at `now` every repository that has no due time (stored while
        checks or re-checks were off, or at a host that was forbidden then)."""
        ...

    def due(self, now: datetime, limit: int) -> list[DueCheck]:
        """Up to `limit` repositories due for a check at `now`, the longest due first."""
        ...

    async def claim(self, due: DueCheck, lease_until: datetime) -> bool:
        """Take `due` for this server until `lease_until`; False if another server
        (or a change of the row) took it first."""
        ...

    async def record(
        self,
        due: DueCheck,
        host: str,
        verification: Verification,
        *,
        next_check_at: datetime | None,
        failures: int,
    ) -> bool:
        """Store a check's outcome, if the repository still holds the credentials
        that were checked; False if it was deleted or its credentials changed."""
        ...


class RegistryRecord(NamedTuple):
    """A registry host as one namespace uses it: how many of its repositories live
    there, and the latest check made against it for any of them."""

    namespace: str
    host: str
    repository_count: int
    last_verification: Verification


class RegistryStore(Protocol):
    """The registries of namespaces, read-only (storage.registries). Errors: NotFound."""

    def get(self, namespace: NamespaceGrant, host: str) -> RegistryRecord: ...

    def page(self, namespace: NamespaceGrant, window: Window) -> tuple[list[RegistryRecord], int]:
        """A page in host order, and how many registries the namespace uses."""
        ...


class UsageRecord(NamedTuple):
    """One consumer's use of one repository."""

    namespace: str
    repository: str
    consumer: str
    recorded_by: str
    created_at: datetime


class UsageStore(Protocol):
    """Usages of repositories (storage.usages). Errors: NotFound (no such repository)."""

    async def add(
        self,
        namespace: NamespaceGrant,
        name: str,
        consumer: str,
        recorded_by: str,
        audit: AuditEntry | None = None,
    ) -> tuple[UsageRecord, bool]:
        """Record a usage (idempotent); whether this call recorded it. `audit` is
        written in the same transaction when the usage is new."""
        ...

    async def remove(
        self, namespace: NamespaceGrant, name: str, consumer: str, audit: AuditEntry | None = None
    ) -> tuple[bool, bool]:
        """Remove a usage if recorded: (whether it was, whether others remain).
        `audit` is written in the same transaction when one was removed."""
        ...

    def page(
        self, namespace: NamespaceGrant, name: str, after: str, limit: int
    ) -> tuple[list[UsageRecord], int]: ...


class NamespaceDirectory(Protocol):
    """Namespaces by name, for callers that name one explicitly (storage.accounts)."""

    def namespace_id(self, name: str) -> int:
        """The account id of namespace `name`; NotFound if there is none."""
        ...


class AuditStore(Protocol):
    """The audit log's table (storage.audit)."""

    async def record(self, entry: AuditEntry) -> None:
        """Write an entry that goes with no change (a failure, a check, a hand-out)."""
        ...

    def get(self, namespace: NamespaceGrant, entry_uuid: str) -> StoredAction | None: ...

    def page(
        self, namespace: NamespaceGrant, window: Window, filters: ActionFilters
    ) -> tuple[list[StoredAction], list[str], int]:
        """A page newest first, its rows' cursor edges, and the listing's total."""
        ...
