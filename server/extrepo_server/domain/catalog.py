"""The use cases of external repositories: the rules of each operation.

It sits between the transport (which converts messages) and storage (which runs SQL):
it checks access, validates input, encrypts credentials and builds pages. It knows
nothing of gRPC or of SQL: what it needs comes through domain/ports.py. Writes are
awaited (a write may wait for a lock held elsewhere); reads are plain calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import paging
from .access import Action, NamespaceGrant, Principal, authorize
from .audit import Actor, AuditAction, AuditEntry, AuditNamespace, new_entry
from .credentials import length_violations, open_credentials
from .errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, quote
from .names import RepositoryName, parse_name
from .paging import Page
from .ports import (
    AuditStore,
    Cipher,
    EncryptedCredentials,
    PullCredentials,
    RegistryCheck,
    Repository,
    RepositoryStore,
    Signer,
)
from .resources import parse_registry_filter, registry_uri, repository_list_path, repository_uri
from .verification import Verifier


def _parsed(name: str, violations: list[FieldViolation]) -> RepositoryName | None:
    """The parsed name, or None with its violations added to `violations`."""
    try:
        return parse_name(name)
    except InvalidArgument as exc:
        violations += exc.violations
        return None


def _sent_violations(username: str | None, password: str | None) -> list[FieldViolation]:
    """What is wrong with optional credentials (Update, ValidateRepository): each sent
    one must be non-empty and within its length."""
    violations = []
    if username == "":
        violations.append(FieldViolation("username", "must not be empty when sent"))
    if password == "":
        violations.append(FieldViolation("password", "must not be empty when sent"))
    return violations + length_violations(username=username, password=password)


def _sent_fields(username: str | None, password: str | None) -> tuple[str, ...]:
    """The credential fields a request sent, by name (an audit entry's `fields`)."""
    return tuple(f for f, sent in (("username", username), ("password", password)) if sent)


@dataclass(frozen=True)
class Validation:
    """What ValidateRepository answers: the check, and the registry it checked."""

    check: RegistryCheck
    registry: str  # the registry's resource URI


def _entry(
    principal: Principal,
    grant: NamespaceGrant,
    action: AuditAction,
    name: str,
    *,
    fields: tuple[str, ...] = (),
    reason: str = "",
) -> AuditEntry:
    """The audit entry of a user's operation on repository `name`."""
    return new_entry(
        AuditNamespace.of(grant),
        action,
        repository_uri(grant.namespace, name),
        Actor.of_user(principal),
        fields=fields,
        reason=reason,
    )


class RepositoryCatalog:
    def __init__(
        self,
        store: RepositoryStore,
        cipher: Cipher,
        signer: Signer,
        verifier: Verifier,
        audit: AuditStore,
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._signer = signer
        self._verifier = verifier
        self._audit = audit

    def get(self, principal: Principal, *, namespace: str, name: str) -> Repository:
        grant = authorize(principal, namespace, Action.READ)
        parse_name(name)
        return self._store.get(grant, name)

    async def create(
        self, principal: Principal, *, namespace: str, name: str, username: str, password: str
    ) -> Repository:
        grant = authorize(principal, namespace, Action.WRITE)
        violations: list[FieldViolation] = []
        parsed = _parsed(name, violations)
        if not username:
            violations.append(
                FieldViolation("username", "is required: the registry account to pull with")
            )
        if not password:
            violations.append(
                FieldViolation("password", "is required: the registry account's password")
            )
        violations += length_violations(username=username, password=password)
        if violations or parsed is None:
            raise InvalidArgument(violations)
        verifier = self._verifier
        if verifier.enabled:
            # Checking costs the caller's budget and a registry's time: not for a
            # name that cannot be stored anyway (the insert still decides races).
            try:
                self._store.get(grant, parsed.full)
            except NotFound:
                pass
            else:
                raise AlreadyExists(
                    f"repository {quote(parsed.full, 255)} is already registered in this namespace"
                )
            verifier.spend(str(principal.user_id))
        check = await verifier.check(parsed.host, parsed.path, PullCredentials(username, password))
        verification = check.verification
        verifier.judge(parsed.host, verification)
        credentials = EncryptedCredentials(
            self._cipher.encrypt(username), self._cipher.encrypt(password), self._cipher.key_id
        )
        return await self._store.create(
            grant,
            parsed.full,
            parsed.host,
            credentials,
            verification,
            verifier.next_check(verification),
            audit=_entry(principal, grant, AuditAction.REPOSITORY_CREATE, parsed.full),
        )

    async def update(
        self,
        principal: Principal,
        *,
        namespace: str,
        name: str,
        username: str | None,
        password: str | None,
    ) -> Repository:
        grant = authorize(principal, namespace, Action.WRITE)
        violations: list[FieldViolation] = []
        parsed = _parsed(name, violations)
        if username is None and password is None:
            violations.append(
                FieldViolation("username", "send a new username, a new password, or both")
            )
        violations += _sent_violations(username, password)
        if violations or parsed is None:
            raise InvalidArgument(violations)
        verifier = self._verifier
        if verifier.enabled:
            # The stored row first: an update of a repository that does not exist is
            # NOT_FOUND without a check (and without spending the caller's budget).
            stored = self._store.credentials(grant, parsed.full)
            credentials = self._opened(stored, username, password)
            verifier.spend(str(principal.user_id))
        else:
            credentials = PullCredentials("", "")
        check = await verifier.check(parsed.host, parsed.path, credentials)
        verification = check.verification
        verifier.judge(parsed.host, verification)
        return await self._store.update_credentials(
            grant,
            name,
            username=None if username is None else self._cipher.encrypt(username),
            password=None if password is None else self._cipher.encrypt(password),
            key_id=self._cipher.key_id,
            rewrap=self._cipher.rewrap,
            verification=verification,
            next_check_at=verifier.next_check(verification),
            host=parsed.host,
            audit=_entry(
                principal,
                grant,
                AuditAction.REPOSITORY_UPDATE,
                parsed.full,
                fields=_sent_fields(username, password),
            ),
        )

    async def validate(
        self,
        principal: Principal,
        *,
        namespace: str,
        name: str,
        username: str | None,
        password: str | None,
    ) -> Validation:
        """Check credentials (those sent, completed by the stored ones) without storing
        anything. A refusal by the registry is the answer, not an error."""
        grant = authorize(principal, namespace, Action.WRITE)
        violations: list[FieldViolation] = []
        parsed = _parsed(name, violations)
        violations += _sent_violations(username, password)
        if violations or parsed is None:
            raise InvalidArgument(violations)
        credentials = self._completed(grant, parsed, username, password)
        self._verifier.spend(str(principal.user_id))
        check = await self._verifier.check(parsed.host, parsed.path, credentials)
        # A check is no change, but it sends stored credentials to a registry: on record.
        await self._audit.record(
            _entry(
                principal,
                grant,
                AuditAction.REPOSITORY_VALIDATE,
                parsed.full,
                fields=_sent_fields(username, password),
                reason=check.verification.state.name,
            )
        )
        return Validation(check, registry_uri(grant.namespace, parsed.host))

    def _completed(
        self,
        grant: NamespaceGrant,
        parsed: RepositoryName,
        username: str | None,
        password: str | None,
    ) -> PullCredentials:
        """The credentials to check: those sent, the stored ones for those not sent
        (NotFound if some are needed and the repository is not registered)."""
        if username is not None and password is not None:
            return PullCredentials(username, password)
        try:
            stored = self._store.credentials(grant, parsed.full)
        except NotFound:
            raise NotFound(
                f"repository {quote(parsed.full, 255)} not found: send both username and "
                "password to check credentials for a repository that is not registered"
            ) from None
        return self._opened(stored, username, password)

    def _opened(
        self, stored: EncryptedCredentials, username: str | None, password: str | None
    ) -> PullCredentials:
        """The sent credentials, completed by the stored ones (decrypted)."""
        return open_credentials(
            self._cipher,
            stored,
            username=username,
            password=password,
            alternative=", or send both username and password",
        )

    async def delete(self, principal: Principal, *, namespace: str, name: str) -> None:
        grant = authorize(principal, namespace, Action.WRITE)
        parsed = parse_name(name)
        await self._store.delete(
            grant,
            parsed.full,
            parsed.host,
            audit=_entry(principal, grant, AuditAction.REPOSITORY_DELETE, parsed.full),
        )

    def list(
        self,
        principal: Principal,
        *,
        namespace: str,
        name: str,
        registry: str,
        limit: int,
        offset: int,
        cursor: str,
    ) -> Page[Repository]:
        grant = authorize(principal, namespace, Action.READ)
        host = parse_registry_filter(registry, grant.namespace) if registry else None
        if name:
            parse_name(name)
        cursor_filters = (name, host or "")
        request = paging.page_request(
            limit=limit, offset=offset, cursor=cursor, filters=cursor_filters, signer=self._signer
        )
        rows, total = self._store.page(grant, request.window, host=host, name=name or None)

        links = paging.page_links(
            list_path=repository_list_path(grant.namespace),
            query_filters=(("name", name), ("registry", registry)),
            cursor_filters=cursor_filters,
            request=request,
            first_name=rows[0].name if rows else None,
            last_name=rows[-1].name if rows else None,
            returned=len(rows),
            total=total,
            signer=self._signer,
        )
        return Page(
            objects=rows,
            limit=request.limit,
            offset=request.offset,
            total_count=total,
            next=links.next,
            previous=links.previous,
            next_cursor=links.next_cursor,
        )
