"""The use cases of external repositories: the rules of each operation.

It sits between the transport (which converts messages) and storage (which runs SQL):
it checks access, validates input, encrypts credentials and builds pages. It knows
nothing of gRPC or of SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from ..security.credentials import Keyring
from ..storage.repositories import EncryptedCredentials, RepositoryRow, RepositoryStore
from . import paging
from .access import Action, Principal, authorize
from .errors import FieldViolation, InvalidArgument
from .names import parse_name
from .resources import parse_registry_filter, registry_uri, repository_list_path, repository_uri


class RepositoryView(NamedTuple):
    """A repository as the API shows it. A named tuple: List builds 25 per call."""

    namespace: str
    name: str
    in_use: bool
    created_at: datetime
    updated_at: datetime

    @property
    def registry(self) -> str:
        return registry_uri(self.namespace, self.name.partition("/")[0])

    @property
    def resource_uri(self) -> str:
        return repository_uri(self.namespace, self.name)


@dataclass(frozen=True)
class Page:
    objects: list[RepositoryView]
    limit: int
    offset: int
    total_count: int
    next: str | None
    previous: str | None


def _view(namespace: str, row: RepositoryRow) -> RepositoryView:
    return RepositoryView(namespace, *row)


class RepositoryCatalog:
    def __init__(self, store: RepositoryStore, keyring: Keyring) -> None:
        self._store = store
        self._keyring = keyring

    def get(self, principal: Principal, *, namespace: str, name: str) -> RepositoryView:
        grant = authorize(principal, namespace, Action.READ)
        parse_name(name)
        return _view(grant.namespace, self._store.get(grant.account_id, name))

    def create(
        self, principal: Principal, *, namespace: str, name: str, username: str, password: str
    ) -> RepositoryView:
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
        if violations:
            raise InvalidArgument(violations)
        credentials = EncryptedCredentials(
            self._keyring.encrypt(username), self._keyring.encrypt(password)
        )
        row = self._store.create(grant.account_id, parsed.full, parsed.host, credentials)
        return _view(grant.namespace, row)

    def update(
        self,
        principal: Principal,
        *,
        namespace: str,
        name: str,
        username: str | None,
        password: str | None,
    ) -> RepositoryView:
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
        if violations:
            raise InvalidArgument(violations)
        row = self._store.update_credentials(
            grant.account_id,
            name,
            username=None if username is None else self._keyring.encrypt(username),
            password=None if password is None else self._keyring.encrypt(password),
        )
        return _view(grant.namespace, row)

    def delete(self, principal: Principal, *, namespace: str, name: str) -> None:
        grant = authorize(principal, namespace, Action.WRITE)
        parsed = parse_name(name)
        self._store.delete(grant.account_id, parsed.full, parsed.host)

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
            limit=limit, offset=offset, cursor=cursor, filters=cursor_filters
        )
        account = grant.account_id

        if name:
            # At most one row matches: no counter needed.
            rows = self._store.page(account, limit=1, name=name, host=host)
            total = len(rows)
            rows = rows[offset : offset + request.limit]
        else:
            position = request.cursor
            if position is None:
                edge = {"skip": offset}
            elif position.direction is paging.Direction.AFTER:
                edge = {"after": position.name}
            else:
                edge = {"before": position.name}
            rows, total = self._store.page_and_count(
                account, limit=request.limit, host=host, **edge
            )

        links = paging.page_links(
            list_path=repository_list_path(grant.namespace),
            query_filters=(name, registry),
            cursor_filters=cursor_filters,
            request=request,
            first_name=rows[0].name if rows else None,
            last_name=rows[-1].name if rows else None,
            returned=len(rows),
            total=total,
        )
        return Page(
            objects=[_view(grant.namespace, r) for r in rows],
            limit=request.limit,
            offset=offset,
            total_count=total,
            next=links.next,
            previous=links.previous,
        )
