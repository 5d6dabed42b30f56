"""The PullAccessService servicer (internal listener only)."""

from __future__ import annotations

import base64
import json

from extrepo.v1 import pull_access_service_pb2 as pb
from extrepo.v1 import pull_access_service_pb2_grpc as pb_grpc

from ..domain.ports import PullKind
from ..domain.pull_access import Grant, PullAccessCatalog
from .interceptor import current_mesh_principal

_KIND = {
    PullKind.TOKEN: pb.GetPullAccessResponse.TOKEN,
    PullKind.PASSWORD: pb.GetPullAccessResponse.PASSWORD,
    PullKind.ANONYMOUS: pb.GetPullAccessResponse.ANONYMOUS,
}


def _response(grant: Grant) -> pb.GetPullAccessResponse:
    response = pb.GetPullAccessResponse(kind=_KIND[grant.kind], registry=grant.host)
    entry: dict[str, str] = {}
    if grant.kind is PullKind.TOKEN:
        entry["registrytoken"] = grant.token
        assert grant.expires_at is not None
        response.expire_time.seconds = int(grant.expires_at)
    elif grant.kind is PullKind.PASSWORD:
        pair = f"{grant.username}:{grant.password}".encode()
        entry = {
            "auth": base64.b64encode(pair).decode(),
            "username": grant.username,
            "password": grant.password,
        }
    response.auth.MergeFrom(pb.DockerAuth(**entry))
    response.docker_config_json = json.dumps({"auths": {grant.host: entry}}, sort_keys=True)
    return response


class PullAccessServicer(pb_grpc.PullAccessServiceServicer):
    def __init__(self, catalog: PullAccessCatalog) -> None:
        self._catalog = catalog

    async def GetPullAccess(
        self, request: pb.GetPullAccessRequest, context
    ) -> pb.GetPullAccessResponse:
        grant = await self._catalog.grant(
            current_mesh_principal.get(), namespace=request.namespace, repository=request.repository
        )
        return _response(grant)
