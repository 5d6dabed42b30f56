"""Mesh callers: the platform's own services, on the internal listener, identified by
their client certificate (security/mesh.py), and what the mesh policy lets each do.

A mesh caller has no namespace of its own: every call names one, which the policy
must list for that identity (or "*"), and the call must be one it lists (or "*").
The answer to an identity, namespace or call not allowed is the same
PERMISSION_DENIED message shape as for users: it names what was refused, never what
exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from .access import NamespaceGrant
from .errors import InvalidArgument, NotFound, PermissionDenied, quote
from .names import namespace_problem
from .ports import NamespaceDirectory

ANY = "*"


@dataclass(frozen=True)
class MeshPrincipal:
    """A mesh service's identity (a SPIFFE id or DNS name) and its policy entry."""

    identity: str
    namespaces: frozenset[str]  # or {"*"}
    calls: frozenset[str]  # RPC names, or {"*"}
    # Whether it may receive a registry password (GetPullAccess for a registry with
    # Basic authentication only, where no token exists).
    allow_password: bool = False

    def may_call(self, call: str) -> bool:
        return ANY in self.calls or call in self.calls

    def may_use(self, namespace: str) -> bool:
        return ANY in self.namespaces or namespace in self.namespaces


def authorize_mesh(
    principal: MeshPrincipal, namespace: str, call: str, directory: NamespaceDirectory
) -> NamespaceGrant:
    if not principal.may_call(call):
        raise PermissionDenied(
            f"mesh identity {quote(principal.identity, 255)} may not call {call}; "
            "the mesh policy file lists the calls each identity may make"
        )
    if not namespace:
        raise InvalidArgument.single(
            "namespace", "is required: a mesh service has no namespace of its own"
        )
    if problem := namespace_problem(namespace):
        raise InvalidArgument.single("namespace", problem)
    if not principal.may_use(namespace):
        raise PermissionDenied(
            f"mesh identity {quote(principal.identity, 255)} may not use namespace "
            f"{quote(namespace)}; the mesh policy file lists its namespaces"
        )
    try:
        return NamespaceGrant(namespace, directory.namespace_id(namespace))
    except NotFound:
        raise NotFound(f"namespace {quote(namespace)} does not exist") from None
