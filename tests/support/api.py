"""A transport-agnostic driver of the extrepo API, so one set of cases runs over gRPC and REST.

Repositories and list envelopes come back as plain dicts shaped like the REST JSON
(snake_case keys; `next`/`previous` None at the ends). Failures raise ApiError with
the canonical gRPC status code, whichever transport carried the call.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import grpc
from extrepo.v1 import action_service_pb2 as action_pb
from extrepo.v1 import action_service_pb2_grpc as action_pb_grpc
from extrepo.v1 import registry_service_pb2 as registry_pb
from extrepo.v1 import registry_service_pb2_grpc as registry_pb_grpc
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2


class ApiError(Exception):
    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: list[tuple[str, str]],
        reason: str = "",
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = field_violations
        self.reason = reason  # google.rpc.ErrorInfo's, if the error carried one
        self.metadata = metadata or {}

    @property
    def fields(self) -> set[str]:
        return {field for field, _ in self.field_violations}


class Api(Protocol):
    transport: str

    def create(self, name: str, username: str, password: str, namespace: str = "") -> dict: ...
    def get(self, name: str, namespace: str = "") -> dict: ...
    def update(
        self,
        name: str,
        namespace: str = "",
        username: str | None = None,
        password: str | None = None,
    ) -> dict: ...
    def delete(self, name: str, namespace: str = "") -> None: ...
    def list(
        self,
        namespace: str = "",
        name: str = "",
        registry: str = "",
        limit: int = 0,
        offset: int = 0,
        cursor: str = "",
    ) -> dict: ...
    def follow(self, path: str) -> dict: ...
    def validate(
        self,
        name: str,
        namespace: str = "",
        username: str | None = None,
        password: str | None = None,
    ) -> dict: ...
    def registry(self, host: str, namespace: str = "") -> dict: ...
    def registries(
        self, namespace: str = "", limit: int = 0, offset: int = 0, cursor: str = ""
    ) -> dict: ...
    def follow_registries(self, path: str) -> dict: ...
    def action(self, uuid: str, namespace: str = "") -> dict: ...
    def actions(self, namespace: str = "", **query: Any) -> dict: ...
    def follow_actions(self, path: str) -> dict: ...

    # The audit entry the last call answered with (X-DockerCloud-Action-URI /
    # x-dockercloud-action-uri), "" if none.
    last_action_uri: str


def basic_authorization(username: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{api_key}".encode()).decode()


def grpc_api(server, username: str, api_key: str) -> GrpcApi:
    """An Api over a new gRPC channel to a live server (anything with an `address`)."""
    return GrpcApi(grpc.insecure_channel(server.address), basic_authorization(username, api_key))


def _as_dict(message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _error(exc: grpc.RpcError) -> ApiError:
    violations: list[tuple[str, str]] = []
    reason, metadata = "", {}
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad_request = error_details_pb2.BadRequest()
                    detail.Unpack(bad_request)
                    violations += [(v.field, v.description) for v in bad_request.field_violations]
                elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason, metadata = info.reason, dict(info.metadata)
    return ApiError(exc.code(), exc.details() or "", violations, reason, metadata)


def _action_uri(metadata) -> str:
    return dict(metadata or ()).get("x-dockercloud-action-uri", "")


def _envelope(reply) -> dict[str, Any]:
    """A list answer as the REST envelope: `next`/`previous` None at the ends."""
    meta = reply.meta
    return {
        "meta": {
            "limit": meta.limit,
            "offset": meta.offset,
            "total_count": meta.total_count,
            "next": meta.next.value if meta.HasField("next") else None,
            "previous": meta.previous.value if meta.HasField("previous") else None,
        },
        "objects": [_as_dict(o) for o in reply.objects],
    }


def _list_path(path: str, collection: str, api: str = "repo") -> tuple[str, dict[str, str]]:
    """A meta.next/previous path `/api/<api>/v1/[ns/]<collection>/?...`: its namespace
    ("" for none) and its query."""
    parts = urlsplit(path)
    segments = parts.path.strip("/").split("/")
    assert segments[:3] == ["api", api, "v1"] and segments[-1] == collection, path
    namespace = segments[3] if len(segments) == 5 else ""
    return namespace, {k: v[0] for k, v in parse_qs(parts.query).items()}


class GrpcApi:
    """The API over gRPC, through the generated Python stubs."""

    transport = "grpc"

    def __init__(self, channel: grpc.Channel, authorization: str | None) -> None:
        self._stub = pb_grpc.RepositoryServiceStub(channel)
        self._registries = registry_pb_grpc.RegistryServiceStub(channel)
        self._actions = action_pb_grpc.ActionServiceStub(channel)
        self._metadata = (("authorization", authorization),) if authorization else ()
        self.last_action_uri = ""

    def _call(self, method: str, request, stub=None):
        callable_ = getattr(stub or self._stub, method)
        try:
            response, call = callable_.with_call(request, metadata=self._metadata, timeout=30)
        except grpc.RpcError as exc:
            self.last_action_uri = _action_uri(exc.trailing_metadata())
            raise _error(exc) from None
        self.last_action_uri = _action_uri(call.trailing_metadata())
        return response

    def action(self, uuid: str, namespace: str = "") -> dict:
        request = action_pb.GetActionRequest(namespace=namespace, uuid=uuid)
        return _as_dict(self._call("GetAction", request, self._actions).action)

    def actions(self, namespace: str = "", **query: Any) -> dict:
        request = action_pb.ListActionsRequest(namespace=namespace)
        for key, value in query.items():
            if key in ("since", "until"):
                getattr(request, key).FromJsonString(value)
            else:
                setattr(request, key, int(value) if key in ("limit", "offset") else value)
        return _envelope(self._call("ListActions", request, self._actions))

    def follow_actions(self, path: str) -> dict:
        namespace, query = _list_path(path, "action", api="audit")
        return self.actions(namespace=namespace, **query)

    def registry(self, host: str, namespace: str = "") -> dict:
        request = registry_pb.GetRegistryRequest(namespace=namespace, host=host)
        return _as_dict(self._call("GetRegistry", request, self._registries).registry)

    def registries(self, namespace="", limit=0, offset=0, cursor="") -> dict:
        request = registry_pb.ListRegistriesRequest(
            namespace=namespace, limit=limit, offset=offset, cursor=cursor
        )
        return _envelope(self._call("ListRegistries", request, self._registries))

    def follow_registries(self, path: str) -> dict:
        namespace, query = _list_path(path, "registry")
        return self.registries(
            namespace=namespace,
            limit=int(query.get("limit", 0)),
            offset=int(query.get("offset", 0)),
            cursor=query.get("cursor", ""),
        )

    def create(self, name: str, username: str, password: str, namespace: str = "") -> dict:
        request = pb.CreateRequest(
            namespace=namespace, name=name, username=username, password=password
        )
        return _as_dict(self._call("Create", request).repository)

    def get(self, name: str, namespace: str = "") -> dict:
        return _as_dict(self._call("Get", pb.GetRequest(namespace=namespace, name=name)).repository)

    def update(self, name, namespace="", username=None, password=None) -> dict:
        request = pb.UpdateRequest(namespace=namespace, name=name)
        if username is not None:
            request.username = username
        if password is not None:
            request.password = password
        return _as_dict(self._call("Update", request).repository)

    def delete(self, name: str, namespace: str = "") -> None:
        self._call("Delete", pb.DeleteRequest(namespace=namespace, name=name))

    def list(self, namespace="", name="", registry="", limit=0, offset=0, cursor="") -> dict:
        request = pb.ListRequest(
            namespace=namespace,
            name=name,
            registry=registry,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
        return _envelope(self._call("List", request))

    def validate(self, name, namespace="", username=None, password=None) -> dict:
        request = pb.ValidateRepositoryRequest(namespace=namespace, name=name)
        if username is not None:
            request.username = username
        if password is not None:
            request.password = password
        return _as_dict(self._call("ValidateRepository", request))

    def follow(self, path: str) -> dict:
        """Follow a meta.next/previous path: its namespace and query become a ListRequest."""
        namespace, query = _list_path(path, "repository")
        return self.list(
            namespace=namespace,
            name=query.get("name", ""),
            registry=query.get("registry", ""),
            limit=int(query.get("limit", 0)),
            offset=int(query.get("offset", 0)),
            cursor=query.get("cursor", ""),
        )
