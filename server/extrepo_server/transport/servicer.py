"""The RepositoryService servicer: converts messages and delegates to the catalog.

Authentication, error mapping and logging happen around it, in the interceptor,
which hands over the caller as `current_principal`.
"""

from __future__ import annotations

from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc

from ..domain.catalog import RepositoryCatalog
from . import convert
from .interceptor import current_principal


class RepositoryServicer(pb_grpc.RepositoryServiceServicer):
    def __init__(self, catalog: RepositoryCatalog) -> None:
        self._catalog = catalog

    async def Get(self, request: pb.GetRequest, context) -> pb.GetResponse:
        repository = self._catalog.get(
            current_principal.get(), namespace=request.namespace, name=request.name
        )
        response = pb.GetResponse()
        convert.fill_repository(response.repository, repository)
        return response

    async def Update(self, request: pb.UpdateRequest, context) -> pb.UpdateResponse:
        repository = await self._catalog.update(
            current_principal.get(),
            namespace=request.namespace,
            name=request.name,
            username=request.username if request.HasField("username") else None,
            password=request.password if request.HasField("password") else None,
        )
        response = pb.UpdateResponse()
        convert.fill_repository(response.repository, repository)
        return response

    async def Delete(self, request: pb.DeleteRequest, context) -> pb.DeleteResponse:
        await self._catalog.delete(
            current_principal.get(), namespace=request.namespace, name=request.name
        )
        return pb.DeleteResponse()

    async def List(self, request: pb.ListRequest, context) -> pb.ListResponse:
        page = self._catalog.list(
            current_principal.get(),
            namespace=request.namespace,
            name=request.name,
            registry=request.registry,
            limit=request.limit,
            offset=request.offset,
            cursor=request.cursor,
        )
        return convert.list_response(page)

    async def Create(self, request: pb.CreateRequest, context) -> pb.CreateResponse:
        repository = await self._catalog.create(
            current_principal.get(),
            namespace=request.namespace,
            name=request.name,
            username=request.username,
            password=request.password,
        )
        response = pb.CreateResponse()
        convert.fill_repository(response.repository, repository)
        return response

    async def ValidateRepository(
        self, request: pb.ValidateRepositoryRequest, context
    ) -> pb.ValidateRepositoryResponse:
        validation = await self._catalog.validate(
            current_principal.get(),
            namespace=request.namespace,
            name=request.name,
            username=request.username if request.HasField("username") else None,
            password=request.password if request.HasField("password") else None,
        )
        return convert.validate_response(validation)
