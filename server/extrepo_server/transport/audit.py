"""The transport's part of the audit log: which RPCs are audited, the facts of a call
the domain cannot know (its request id, client address, user agent), and the entry
of an audited call that failed.

A successful audited call's entry is made by its use case and written with its
change (domain/audit.py); the interceptor only answers with its URI. A failed one
changed nothing, so its entry is made here, from the request, and written after it.
Calls that fail to authenticate have no actor to record: the authentication
throttle records their bursts instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from ..domain.access import Principal
from ..domain.audit import (
    Actor,
    AuditAction,
    AuditEntry,
    AuditNamespace,
    CallRecord,
    failure_namespace,
    new_entry,
)
from ..domain.errors import DomainError
from ..domain.mesh import MeshPrincipal
from ..domain.ports import AuditStore
from ..domain.resources import repository_uri

log = logging.getLogger("extrepo.audit")

# The response metadata naming a call's audit entry; the gateway answers it as the
# original API's `X-DockerCloud-Action-URI` header.
ACTION_URI_KEY = "x-dockercloud-action-uri"
# The HTTP client's User-Agent, as grpc-gateway names it in metadata.
_GATEWAY_USER_AGENT = "grpcgateway-user-agent"


@dataclass(frozen=True)
class Audited:
    """An audited RPC: its action, its REST route's HTTP method, and the request
    fields naming the repository it acts on."""

    action: AuditAction
    http_method: str
    name_field: str  # `name` (RepositoryService) or `repository` (mesh services)


AUDITED: dict[str, Audited] = {
    "/extrepo.v1.RepositoryService/Create": Audited(AuditAction.REPOSITORY_CREATE, "POST", "name"),
    "/extrepo.v1.RepositoryService/Update": Audited(AuditAction.REPOSITORY_UPDATE, "PATCH", "name"),
    "/extrepo.v1.RepositoryService/Delete": Audited(
        AuditAction.REPOSITORY_DELETE, "DELETE", "name"
    ),
    "/extrepo.v1.RepositoryService/ValidateRepository": Audited(
        AuditAction.REPOSITORY_VALIDATE, "POST", "name"
    ),
    "/extrepo.v1.UsageService/CreateUsage": Audited(AuditAction.USAGE_CREATE, "", "repository"),
    "/extrepo.v1.UsageService/DeleteUsage": Audited(AuditAction.USAGE_DELETE, "", "repository"),
    "/extrepo.v1.PullAccessService/GetPullAccess": Audited(
        AuditAction.PULL_ACCESS, "", "repository"
    ),
}


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {
        key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)
    }


class CallAudit:
    """Begins the record of an audited call and records its failure.

    `client_of(peer, forwarded_for)` names the caller's address as the
    authentication throttle does (a trusted gateway's forwarded address, else the
    peer); `namespace_id(name)` finds a mesh call's namespace (NotFound if none).
    """

    def __init__(
        self,
        store: AuditStore,
        client_of: Callable[[str, str | None], str],
        namespace_id: Callable[[str], int],
    ) -> None:
        self._store = store
        self._client_of = client_of
        self._namespace_id = namespace_id

    def begin(
        self, method: str, audited: Audited, context: grpc.aio.ServicerContext, request_id: str
    ) -> CallRecord:
        metadata = _metadata(context)
        user_agent = metadata.get(_GATEWAY_USER_AGENT) or metadata.get("user-agent", "")
        return CallRecord(
            rpc=method,
            method=audited.http_method,
            request_id=request_id,
            ip=self._client_of(context.peer(), metadata.get("x-forwarded-for")),
            user_agent=user_agent,
        )

    async def failed(
        self,
        audited: Audited,
        principal: Principal | MeshPrincipal | None,
        request: object,
        code: grpc.StatusCode,
        error: DomainError | None,
    ) -> str:
        """Record a failed audited call; its entry's URI, or "" when there is no
        actor to record or the entry could not be written (the call's own answer
        matters more than its record: it is logged)."""
        if principal is None or request is None:
            return ""
        namespace_name = getattr(request, "namespace", "")
        if isinstance(principal, Principal):
            namespace = failure_namespace(principal, namespace_name)
            actor = Actor.of_user(principal)
        else:
            namespace = self._mesh_namespace(principal, namespace_name)
            actor = Actor(principal.identity)
        entry: AuditEntry = new_entry(
            namespace,
            audited.action,
            repository_uri(
                namespace_name or namespace.name, getattr(request, audited.name_field, "")
            ),
            actor,
            code=code.name,
            reason=getattr(error, "reason", None) or "",
            detail=f"consumer={consumer}" if (consumer := getattr(request, "consumer", "")) else "",
        )
        try:
            await self._store.record(entry)
        except Exception:
            log.exception("could not record a failed call in the audit log")
            return ""
        return entry.resource_uri

    def _mesh_namespace(self, principal: MeshPrincipal, name: str) -> AuditNamespace:
        # A namespace the identity may use and that exists; else the entry belongs
        # to no namespace's log (the operators read it in the database).
        if name and principal.may_use(name):
            try:
                return AuditNamespace(name, self._namespace_id(name))
            except DomainError:  # NotFound: no such namespace
                pass
        return AuditNamespace("", None)
