"""The use cases of usages: mesh services record which repositories they use, so that
`in_use` is true while any does and a repository in use is never deleted."""

from __future__ import annotations

from dataclasses import dataclass

from .audit import Actor, AuditAction, AuditNamespace, new_entry
from .errors import FieldViolation, InvalidArgument
from .mesh import MeshPrincipal, authorize_mesh
from .names import parse_name
from .ports import NamespaceDirectory, UsageRecord, UsageStore
from .resources import repository_uri

MAX_CONSUMER_LENGTH = 255
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class UsagePage:
    usages: list[UsageRecord]
    next_page_token: str
    total: int


def _consumer_violations(consumer: str) -> list[FieldViolation]:
    if not consumer:
        return [FieldViolation("consumer", "is required: a stable id of the consumer")]
    if len(consumer) > MAX_CONSUMER_LENGTH:
        return [
            FieldViolation(
                "consumer", f"is {len(consumer)} characters long; at most {MAX_CONSUMER_LENGTH}"
            )
        ]
    if not consumer.isprintable():
        return [FieldViolation("consumer", "must be printable characters only")]
    return []


def _name_violations(repository: str) -> list[FieldViolation]:
    try:
        parse_name(repository, "repository")
    except InvalidArgument as exc:
        return exc.violations
    return []


def _entry(principal: MeshPrincipal, grant, action: AuditAction, repository: str, consumer: str):
    return new_entry(
        AuditNamespace.of(grant),
        action,
        repository_uri(grant.namespace, repository),
        Actor(principal.identity),
        detail=f"consumer={consumer}",
    )


class UsageCatalog:
    def __init__(self, store: UsageStore, directory: NamespaceDirectory) -> None:
        self._store = store
        self._directory = directory

    async def add(
        self, principal: MeshPrincipal, *, namespace: str, repository: str, consumer: str
    ) -> tuple[UsageRecord, bool]:
        grant = authorize_mesh(principal, namespace, "CreateUsage", self._directory)
        violations = _name_violations(repository) + _consumer_violations(consumer)
        if violations:
            raise InvalidArgument(violations)
        entry = _entry(principal, grant, AuditAction.USAGE_CREATE, repository, consumer)
        return await self._store.add(grant, repository, consumer, principal.identity, entry)

    async def remove(
        self, principal: MeshPrincipal, *, namespace: str, repository: str, consumer: str
    ) -> tuple[bool, bool]:
        grant = authorize_mesh(principal, namespace, "DeleteUsage", self._directory)
        violations = _name_violations(repository) + _consumer_violations(consumer)
        if violations:
            raise InvalidArgument(violations)
        entry = _entry(principal, grant, AuditAction.USAGE_DELETE, repository, consumer)
        return await self._store.remove(grant, repository, consumer, entry)

    def list(
        self,
        principal: MeshPrincipal,
        *,
        namespace: str,
        repository: str,
        page_size: int,
        page_token: str,
    ) -> UsagePage:
        grant = authorize_mesh(principal, namespace, "ListUsages", self._directory)
        violations = _name_violations(repository)
        if page_size == 0:
            page_size = DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            violations.append(
                FieldViolation("page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0 means 25)")
            )
        if len(page_token) > MAX_CONSUMER_LENGTH:
            violations.append(FieldViolation("page_token", "is not a token this service issued"))
        if violations:
            raise InvalidArgument(violations)
        # The token is the last consumer of the previous page: consumers are ids the
        # callers chose and may read anyway, so it needs no signing.
        usages, total = self._store.page(grant, repository, page_token, page_size + 1)
        more = len(usages) > page_size
        usages = usages[:page_size]
        return UsagePage(usages, usages[-1].consumer if more else "", total)
