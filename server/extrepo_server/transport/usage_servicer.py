"""The UsageService servicer (internal listener only): converts messages and delegates
to the usage catalog. The caller is the mesh service the MeshInterceptor found."""

from __future__ import annotations

from extrepo.v1 import usage_service_pb2 as pb
from extrepo.v1 import usage_service_pb2_grpc as pb_grpc

from ..domain.ports import UsageRecord
from ..domain.usages import UsageCatalog
from .convert import set_time
from .interceptor import current_mesh_principal


def _fill(target: pb.Usage, usage: UsageRecord) -> None:
    target.namespace = usage.namespace
    target.repository = usage.repository
    target.consumer = usage.consumer
    target.recorded_by = usage.recorded_by
    set_time(target.create_time, usage.created_at)


class UsageServicer(pb_grpc.UsageServiceServicer):
    def __init__(self, catalog: UsageCatalog) -> None:
        self._catalog = catalog

    async def CreateUsage(self, request: pb.CreateUsageRequest, context) -> pb.CreateUsageResponse:
        usage, created = await self._catalog.add(
            current_mesh_principal.get(),
            namespace=request.namespace,
            repository=request.repository,
            consumer=request.consumer,
        )
        response = pb.CreateUsageResponse(created=created)
        _fill(response.usage, usage)
        return response

    async def DeleteUsage(self, request: pb.DeleteUsageRequest, context) -> pb.DeleteUsageResponse:
        deleted, in_use = await self._catalog.remove(
            current_mesh_principal.get(),
            namespace=request.namespace,
            repository=request.repository,
            consumer=request.consumer,
        )
        return pb.DeleteUsageResponse(deleted=deleted, in_use=in_use)

    async def ListUsages(self, request: pb.ListUsagesRequest, context) -> pb.ListUsagesResponse:
        page = self._catalog.list(
            current_mesh_principal.get(),
            namespace=request.namespace,
            repository=request.repository,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        response = pb.ListUsagesResponse(
            next_page_token=page.next_page_token, total_size=page.total
        )
        for usage in page.usages:
            _fill(response.usages.add(), usage)
        return response
