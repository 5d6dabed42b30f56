"""The extrepo API over REST: real HTTP (httpx) through the real grpc-gateway.

`make_rest_api(base_url, authorization)` implements tests.support.api.Api, so
every shared API case also runs over the gateway. Requests are written as the
original Docker Cloud API's clients wrote them: paths ending in `/`, names
with their slashes in the path, JSON bodies. Each success code is checked
(201 for a create, 204 for a delete, 200 otherwise); an error answer becomes
ApiError with the gRPC code its HTTP status stands for, and the field
violations of the google.rpc.BadRequest in the body's `details`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import grpc
import httpx

from tests.support.api import ApiError

API_PREFIX = "/api/repo/v1"

# The gateway's table (grpc-gateway's HTTPStatusFromCode), read backwards.
HTTP_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    409: grpc.StatusCode.ALREADY_EXISTS,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


def collection_path(namespace: str = "") -> str:
    """`/api/repo/v1/[namespace/]repository/`, as the original API wrote it."""
    ns = f"/{quote(namespace, safe='')}" if namespace else ""
    return f"{API_PREFIX}{ns}/repository/"


def repository_path(name: str, namespace: str = "") -> str:
    """`/api/repo/v1/[namespace/]repository/<name>/`: the name's slashes and port colon stay."""
    return collection_path(namespace) + quote(name, safe="/:") + "/"


def error_from(response: httpx.Response) -> ApiError:
    """The ApiError an error answer stands for."""
    code = HTTP_TO_GRPC.get(response.status_code, grpc.StatusCode.UNKNOWN)
    try:
        body = response.json()
    except ValueError:
        return ApiError(code, response.text, [])
    violations: list[tuple[str, str]] = []
    reason, metadata = "", {}
    for detail in body.get("details") or []:
        if detail.get("@type") == BAD_REQUEST_TYPE:
            violations += [
                (v.get("field", ""), v.get("description", ""))
                for v in detail.get("field_violations") or []
            ]
        elif detail.get("@type") == ERROR_INFO_TYPE:
            reason, metadata = detail.get("reason", ""), detail.get("metadata") or {}
    # 400 and 409 stand for more than one code (400: INVALID_ARGUMENT or FAILED_PRECONDITION;
    # 409: ALREADY_EXISTS or a FAILED_PRECONDITION the gateway answers as a conflict):
    # the body's gRPC code tells which.
    if (
        response.status_code in (400, 409)
        and body.get("code") == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    ):
        code = grpc.StatusCode.FAILED_PRECONDITION
    return ApiError(
        code, body.get("message") or body.get("error", ""), violations, reason, metadata
    )


class RestApi:
    """The API over HTTP, through the gateway."""

    transport = "rest"

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.last_action_uri = ""

    def request(
        self, method: str, path: str, *, expect: int = 200, **kwargs: Any
    ) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.last_action_uri = response.headers.get("X-DockerCloud-Action-URI", "")
        if response.status_code >= 400:
            raise error_from(response)
        assert response.status_code == expect, (
            f"{method} {path}: expected {expect}, got {response.status_code}: {response.text}"
        )
        return response

    def create(self, name: str, username: str, password: str, namespace: str = "") -> dict:
        body = {"name": name, "username": username, "password": password}
        return self.request("POST", collection_path(namespace), json=body, expect=201).json()

    def get(self, name: str, namespace: str = "") -> dict:
        return self.request("GET", repository_path(name, namespace)).json()

    def update(self, name, namespace="", username=None, password=None) -> dict:
        body = {}
        if username is not None:
            body["username"] = username
        if password is not None:
            body["password"] = password
        return self.request("PATCH", repository_path(name, namespace), json=body).json()

    def validate(self, name, namespace="", username=None, password=None) -> dict:
        body = {}
        if username is not None:
            body["username"] = username
        if password is not None:
            body["password"] = password
        path = repository_path(name, namespace).removesuffix("/") + ":validate/"
        return self.request("POST", path, json=body).json()

    def delete(self, name: str, namespace: str = "") -> None:
        response = self.request("DELETE", repository_path(name, namespace), expect=204)
        assert response.content == b"", response.content

    def list(self, namespace="", name="", registry="", limit=0, offset=0, cursor="") -> dict:
        params: dict[str, str | int] = {}
        if name:
            params["name"] = name
        if registry:
            params["registry"] = registry
        if limit:
            params["limit"] = limit
        if offset:
            params["offset"] = offset
        if cursor:
            params["cursor"] = cursor
        return self.request("GET", collection_path(namespace), params=params).json()

    def follow(self, path: str) -> dict:
        """GET a meta.next/previous path exactly as given (it begins with /api/)."""
        assert path.startswith("/api/"), path
        return self.request("GET", path).json()

    follow_registries = follow
    follow_actions = follow

    def action(self, uuid: str, namespace: str = "") -> dict:
        ns = f"/{quote(namespace, safe='')}" if namespace else ""
        return self.request("GET", f"/api/audit/v1{ns}/action/{quote(uuid, safe='')}/").json()

    def actions(self, namespace: str = "", **query: Any) -> dict:
        ns = f"/{quote(namespace, safe='')}" if namespace else ""
        return self.request("GET", f"/api/audit/v1{ns}/action/", params=query).json()

    def registry(self, host: str, namespace: str = "") -> dict:
        ns = f"/{quote(namespace, safe='')}" if namespace else ""
        return self.request("GET", f"{API_PREFIX}{ns}/registry/{quote(host, safe=':')}/").json()

    def registries(self, namespace="", limit=0, offset=0, cursor="") -> dict:
        params: dict[str, str | int] = {}
        if limit:
            params["limit"] = limit
        if offset:
            params["offset"] = offset
        if cursor:
            params["cursor"] = cursor
        ns = f"/{quote(namespace, safe='')}" if namespace else ""
        return self.request("GET", f"{API_PREFIX}{ns}/registry/", params=params).json()


def make_client(base_url: str, authorization: str | None = None) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


def make_rest_api(base_url: str, authorization: str | None) -> RestApi:
    """An Api over REST, sending `authorization` as the Authorization header."""
    return RestApi(make_client(base_url, authorization))
