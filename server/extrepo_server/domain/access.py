"""Who may do what in which namespace, as in Docker Cloud.

A user's own name is a namespace they own. An organization is a namespace whose
owners may create, update and delete repositories and whose members may list and
get them. Any other namespace - existing or not - is refused with one and the same
message, so a caller learns nothing about namespaces that are not theirs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .errors import InvalidArgument, PermissionDenied, quote
from .names import namespace_problem


class Role(enum.StrEnum):
    OWNER = "owner"
    MEMBER = "member"


class Action(enum.Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class OrganizationAccess:
    organization_id: int
    role: Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the organizations they belong to."""

    user_id: int
    username: str
    organizations: dict[str, OrganizationAccess] = field(default_factory=dict)
    key_id: str = ""  # the id of the API key the caller presented (for the audit log)


@dataclass(frozen=True)
class NamespaceGrant:
    """A namespace the caller may use for an action, with its account id for storage."""

    namespace: str
    account_id: int


def authorize(principal: Principal, namespace: str, action: Action) -> NamespaceGrant:
    """Resolve the request's namespace (empty: the caller's own) and check the action."""
    if not namespace or namespace == principal.username:
        return NamespaceGrant(principal.username, principal.user_id)
    if problem := namespace_problem(namespace):
        raise InvalidArgument.single("namespace", problem)
    access = principal.organizations.get(namespace)
    if access is None:
        raise PermissionDenied(
            f"namespace {quote(namespace)} does not exist or you have no access to it; "
            "omit the namespace to use your own"
        )
    if action is Action.WRITE and access.role is not Role.OWNER:
        raise PermissionDenied(
            f"you are a member of organization {quote(namespace)}; only its owners may "
            "create, update or delete its repositories"
        )
    return NamespaceGrant(namespace, access.organization_id)
