"""The audit log: what an entry is, who may read which, and how it is read.

An entry (`AuditEntry`) is made by the use case that acts (catalog, usages, pull
access, the administration command) and handed to the store that makes the change,
which writes it in the change's own transaction: no change without its entry. An
attempt that failed changed nothing; the transport records it afterwards
(`AuditLog.record`). The call's facts the domain cannot know (request id, address,
user agent, gRPC method) come from the transport through `current_call`, a context
variable, so that no use case's signature carries them.

Entries hold no secret: the use cases put names, ids and outcomes in them, never a
password, a registry username, a token or an API key.
"""

from __future__ import annotations

import contextvars
import enum
import uuid as uuids
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import paging
from .access import Action, NamespaceGrant, Principal, Role, authorize
from .errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied, quote
from .paging import Page

if TYPE_CHECKING:  # ports imports this module
    from .ports import AuditStore, Signer

AUDIT_ROOT = "/api/audit/v1"

# The filters' limits, as the columns hold them (storage/models.AuditAction).
MAX_OBJECT_LENGTH = 600
MAX_ACTOR_LENGTH = 255
MAX_ACTION_LENGTH = 64
MAX_USER_AGENT_LENGTH = 255


class AuditAction(enum.StrEnum):
    """The operations recorded, named as Docker Cloud named its Actions."""

    REPOSITORY_CREATE = "Repository Create"
    REPOSITORY_UPDATE = "Repository Update"
    REPOSITORY_DELETE = "Repository Delete"
    REPOSITORY_VALIDATE = "Repository Validate"
    USAGE_CREATE = "Usage Create"
    USAGE_DELETE = "Usage Delete"
    PULL_ACCESS = "Pull Access"
    USER_CREATE = "User Create"
    USER_DELETE = "User Delete"
    ORGANIZATION_CREATE = "Organization Create"
    ORGANIZATION_DELETE = "Organization Delete"
    MEMBER_ADD = "Member Add"
    MEMBER_REMOVE = "Member Remove"
    KEY_CREATE = "Key Create"
    KEY_REVOKE = "Key Revoke"
    AUTHENTICATION_THROTTLED = "Authentication Throttled"


SUCCESS = "Success"
FAILED = "Failed"


@dataclass
class CallRecord:
    """What the transport knows of the call being served, for its audit entry, and
    the entry's URI once one is made (the transport answers with it)."""

    rpc: str
    method: str = ""  # the HTTP method of the RPC's REST route
    request_id: str = ""
    ip: str = ""
    user_agent: str = ""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    entry_uri: str = ""


# Set by the transport for each call; absent outside calls (administration command).
current_call: contextvars.ContextVar[CallRecord] = contextvars.ContextVar("current_call")


@dataclass(frozen=True)
class Actor:
    """Who acted: a user with an API key, a mesh service, the administration command."""

    name: str
    key_id: str = ""
    is_user: bool = False

    @classmethod
    def of_user(cls, principal: Principal) -> Actor:
        return cls(principal.username, principal.key_id, is_user=True)


@dataclass(frozen=True)
class AuditNamespace:
    """The namespace whose log holds an entry: its name and account id (None for an
    entry of no namespace)."""

    name: str
    account_id: int | None

    @classmethod
    def of(cls, grant: NamespaceGrant) -> AuditNamespace:
        return cls(grant.namespace, grant.account_id)


@dataclass(frozen=True)
class AuditEntry:
    uuid: str
    namespace: AuditNamespace
    action: str
    object: str
    actor: Actor
    call: CallRecord
    end_date: datetime
    state: str = SUCCESS
    code: str = "OK"
    reason: str = ""
    fields: tuple[str, ...] = ()
    detail: str = ""

    @property
    def resource_uri(self) -> str:
        return action_uri(self.namespace.name, self.uuid)


def action_uri(namespace: str, entry_uuid: str) -> str:
    if not namespace:
        return f"{AUDIT_ROOT}/action/{entry_uuid}/"
    return f"{AUDIT_ROOT}/{namespace}/action/{entry_uuid}/"


def action_list_path(namespace: str) -> str:
    return f"{AUDIT_ROOT}/{namespace}/action/"


def new_entry(
    namespace: AuditNamespace,
    action: AuditAction,
    object_uri: str,
    actor: Actor,
    *,
    fields: tuple[str, ...] = (),
    code: str = "OK",
    reason: str = "",
    detail: str = "",
    call: CallRecord | None = None,
) -> AuditEntry:
    """An entry of the call being served (or of `call`, or of no call: the
    administration command), whose URI the call will answer with."""
    if call is None:
        call = current_call.get(None)
    if call is None:
        call = CallRecord(rpc="admin")
    entry = AuditEntry(
        uuid=str(uuids.uuid4()),
        namespace=namespace,
        action=action.value,
        object=object_uri,
        actor=actor,
        call=call,
        end_date=datetime.now(UTC),
        state=SUCCESS if code == "OK" else FAILED,
        code=code,
        reason=reason,
        fields=fields,
        detail=detail,
    )
    call.entry_uri = entry.resource_uri
    return entry


def failure_namespace(principal: Principal, namespace: str) -> AuditNamespace:
    """Where a failed attempt by a user is recorded: in the namespace it named if the
    caller belongs to it (its owners then see a member's refused attempts), else in
    the caller's own (an attempt on a stranger's namespace is the caller's business,
    and must not let anyone write into a log they cannot read)."""
    if not namespace or namespace == principal.username:
        return AuditNamespace(principal.username, principal.user_id)
    access = principal.organizations.get(namespace)
    if access is None:
        return AuditNamespace(principal.username, principal.user_id)
    return AuditNamespace(namespace, access.organization_id)


@dataclass(frozen=True)
class ActionFilters:
    object: str = ""
    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class StoredAction:
    """An entry as read back."""

    uuid: str
    namespace: str
    action: str
    object: str
    actor: str
    actor_key_id: str
    is_user_action: bool
    rpc: str
    method: str
    fields: tuple[str, ...]
    state: str
    code: str
    reason: str
    request_id: str
    ip: str
    user_agent: str
    start_date: datetime
    end_date: datetime
    detail: str

    @property
    def resource_uri(self) -> str:
        return action_uri(self.namespace, self.uuid)


def authorize_log(principal: Principal, namespace: str) -> NamespaceGrant:
    """A namespace whose log the caller may read: their own, or an organization they
    own. A member is refused: the log shows keys, hand-outs and who did what, the
    owners' business."""
    grant = authorize(principal, namespace, Action.READ)
    if grant.namespace != principal.username:
        access = principal.organizations[grant.namespace]
        if access.role is not Role.OWNER:
            raise PermissionDenied(
                f"you are a member of organization {quote(grant.namespace)}; only its "
                "owners may read its audit log"
            )
    return grant


def _parsed_uuid(value: str) -> str:
    try:
        return str(uuids.UUID(value))
    except ValueError:
        raise InvalidArgument.single(
            "uuid",
            f"{quote(value, 40)} is not a UUID; take it from an action's `uuid` or `resource_uri`",
        ) from None


def _filter_violations(filters: ActionFilters) -> list[FieldViolation]:
    violations = []
    for name, value, limit in (
        ("object", filters.object, MAX_OBJECT_LENGTH),
        ("actor", filters.actor, MAX_ACTOR_LENGTH),
        ("action", filters.action, MAX_ACTION_LENGTH),
    ):
        if len(value) > limit:
            violations.append(FieldViolation(name, f"must be at most {limit} characters"))
    if filters.since and filters.until and filters.since >= filters.until:
        violations.append(FieldViolation("since", "must be before `until`"))
    return violations


class AuditLog:
    """Reading the log (ActionService), and recording entries that go with no change
    (failed attempts, checks, hand-outs)."""

    def __init__(self, store: AuditStore, signer: Signer) -> None:
        self._store = store
        self._signer = signer

    async def record(self, entry: AuditEntry) -> None:
        await self._store.record(entry)

    def get(self, principal: Principal, *, namespace: str, entry_uuid: str) -> StoredAction:
        grant = authorize_log(principal, namespace)
        parsed = _parsed_uuid(entry_uuid)
        found = self._store.get(grant, parsed)
        if found is None:
            raise NotFound(
                f"action {quote(parsed, 40)} not found in the audit log of namespace "
                f"{quote(grant.namespace)} (entries older than the retention are removed)"
            )
        return found

    def list(
        self,
        principal: Principal,
        *,
        namespace: str,
        filters: ActionFilters,
        limit: int,
        offset: int,
        cursor: str,
    ) -> Page[StoredAction]:
        grant = authorize_log(principal, namespace)
        violations = _filter_violations(filters)
        if violations:
            raise InvalidArgument(violations)
        query = _query_filters(filters)
        cursor_filters = ("\0".join(f"{k}={v}" for k, v in query), "")
        request = paging.page_request(
            limit=limit, offset=offset, cursor=cursor, filters=cursor_filters, signer=self._signer
        )
        rows, ids, total = self._store.page(grant, request.window, filters)
        links = paging.page_links(
            list_path=action_list_path(grant.namespace),
            query_filters=query,
            cursor_filters=cursor_filters,
            request=request,
            first_name=ids[0] if ids else None,
            last_name=ids[-1] if ids else None,
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


def _query_filters(filters: ActionFilters) -> list[tuple[str, str]]:
    """The filters as query parameters of meta.next/previous, in a fixed order."""
    params = [
        (name, value)
        for name, value in (
            ("object", filters.object),
            ("actor", filters.actor),
            ("action", filters.action),
        )
        if value
    ]
    for name, moment in (("since", filters.since), ("until", filters.until)):
        if moment is not None:
            params.append((name, moment.astimezone(UTC).isoformat().replace("+00:00", "Z")))
    return params


def throttled_entry(
    by: str, client: str, key_id: str | None, key_owner: tuple[str, int] | None
) -> AuditEntry:
    """The entry of a burst of failed authentication that the throttle began to
    refuse: in the log of the key's owner when the key is real (they should know
    someone is guessing at it), else in no namespace's (operators read it)."""
    namespace = AuditNamespace("", None)
    object_uri = ""
    if key_id is not None and key_owner is not None:
        owner, owner_id = key_owner
        namespace = AuditNamespace(owner, owner_id)
        object_uri = f"/api/account/v1/user/{owner}/key/{key_id}/"
    return new_entry(
        namespace,
        AuditAction.AUTHENTICATION_THROTTLED,
        object_uri,
        Actor("anonymous"),
        code="RESOURCE_EXHAUSTED",
        reason="BY_KEY" if by == "key" else "BY_CLIENT",
        detail=f"client={client}",
        call=CallRecord(rpc="", ip=client),
    )
