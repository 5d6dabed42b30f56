"""The use cases of external repositories: the rules of each operation.

It sits between the transport (which converts messages) and storage (which runs SQL):
it checks access, validates input, encrypts credentials and builds pages. It knows
nothing of gRPC or of SQL: what it needs comes through domain/ports.py. Writes are
awaited (a write may wait for a lock held elsewhere); reads are plain calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import paging
from .access import Action, Principal, authorize
from .credentials import length_violations
from .errors import FieldViolation, InvalidArgument
from .names import parse_name
from .ports import Cipher, EncryptedCredentials, Repository, RepositoryStore, Signer
from .resources import parse_registry_filter, repository_list_path


@dataclass(frozen=True)
class Page:
    objects: list[Repository]
    limit: int
    offset: int
    total_count: int
    next: str | None
    previous: str | None
    next_cursor: str | None = None


class RepositoryCatalog:
    def __init__(self, store: RepositoryStore, cipher: Cipher, signer: Signer) -> None:
        self._store = store
        self._cipher = cipher
        self._signer = signer

    def get(self, principal: Principal, *, namespace: str, name: str) -> Repository:
        grant = authorize(principal, namespace, Action.READ)
        parse_name(name)
        return self._store.get(grant, name)

    async def create(
        self, principal: Principal, *, namespace: str, name: str, username: str, password: str
    ) -> Repository:
        grant = authorize(principal, namespace, Action.WRITE)
        violations = []
        try:
            parsed = parse_name(name)
        except InvalidArgument as exc:
            violations += exc.violations
        if not username:
            violations.append(
                FieldViolation("username", "is required: the registry account to pull with")
            )
        if not password:
            violations.append(
                FieldViolation("password", "is required: the registry account's password")
            )
        violations += length_violations(username=username, password=password)
        if violations:
            raise InvalidArgument(violations)
        credentials = EncryptedCredentials(
            self._cipher.encrypt(username), self._cipher.encrypt(password), self._cipher.key_id
        )
        return await self._store.create(grant, parsed.full, parsed.host, credentials)

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
        violations = []
        try:
            parse_name(name)
        except InvalidArgument as exc:
            violations += exc.violations
        if username is None and password is None:
            violations.append(
                FieldViolation("username", "send a new username, a new password, or both")
            )
        if username == "":
            violations.append(FieldViolation("username", "must not be empty when sent"))
        if password == "":
            violations.append(FieldViolation("password", "must not be empty when sent"))
        violations += length_violations(username=username, password=password)
        if violations:
            raise InvalidArgument(violations)
        return await self._store.update_credentials(
            grant,
            name,
            username=None if username is None else self._cipher.encrypt(username),
            password=None if password is None else self._cipher.encrypt(password),
            key_id=self._cipher.key_id,
            rewrap=self._cipher.rewrap,
        )

    async def delete(self, principal: Principal, *, namespace: str, name: str) -> None:
        grant = authorize(principal, namespace, Action.WRITE)
        parsed = parse_name(name)
        await self._store.delete(grant, parsed.full, parsed.host)

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
    ) -> Page:
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
            query_filters=(name, registry),
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
