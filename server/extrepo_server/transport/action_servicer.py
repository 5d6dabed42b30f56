"""The ActionService servicer: converts messages and delegates to the audit log.
Authentication, error mapping and logging are the interceptor's."""

from __future__ import annotations

from datetime import UTC

from extrepo.v1 import action_service_pb2 as pb
from extrepo.v1 import action_service_pb2_grpc as pb_grpc

from ..domain.audit import ActionFilters, AuditLog, StoredAction
from ..domain.paging import Page
from .convert import fill_envelope, set_time
from .interceptor import current_principal


def _fill(target: pb.Action, action: StoredAction) -> None:
    target.uuid = action.uuid
    target.resource_uri = action.resource_uri
    target.action = action.action
    target.object = action.object
    target.method = action.method
    target.rpc = action.rpc
    target.user_agent = action.user_agent
    set_time(target.start_date, action.start_date)
    set_time(target.end_date, action.end_date)
    target.state = action.state
    target.ip = action.ip
    target.is_user_action = action.is_user_action
    target.namespace = action.namespace
    target.actor = action.actor
    target.actor_key_id = action.actor_key_id
    target.fields.extend(action.fields)
    target.code = action.code
    target.reason = action.reason
    target.request_id = action.request_id
    target.detail = action.detail


def _list_response(page: Page[StoredAction]) -> pb.ListActionsResponse:
    response = pb.ListActionsResponse()
    fill_envelope(response, page)
    for action in page.objects:
        _fill(response.objects.add(), action)
    return response


class ActionServicer(pb_grpc.ActionServiceServicer):
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def GetAction(self, request: pb.GetActionRequest, context) -> pb.GetActionResponse:
        action = self._log.get(
            current_principal.get(), namespace=request.namespace, entry_uuid=request.uuid
        )
        response = pb.GetActionResponse()
        _fill(response.action, action)
        return response

    async def ListActions(self, request: pb.ListActionsRequest, context) -> pb.ListActionsResponse:
        filters = ActionFilters(
            object=request.object,
            actor=request.actor,
            action=request.action,
            since=request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None,
            until=request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None,
        )
        page = self._log.list(
            current_principal.get(),
            namespace=request.namespace,
            filters=filters,
            limit=request.limit,
            offset=request.offset,
            cursor=request.cursor,
        )
        return _list_response(page)
