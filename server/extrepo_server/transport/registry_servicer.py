"""The RegistryService servicer: converts messages and delegates to the registry
catalog. Authentication, error mapping and logging are the interceptor's."""

from __future__ import annotations

from extrepo.v1 import registry_service_pb2 as pb
from extrepo.v1 import registry_service_pb2_grpc as pb_grpc

from ..domain.paging import Page
from ..domain.registries import Registry, RegistryCatalog
from .convert import fill_envelope, fill_verification
from .interceptor import current_principal


def _fill(target: pb.Registry, registry: Registry) -> None:
    target.host = registry.host
    target.name = registry.name
    target.port = registry.port
    target.is_ssl = registry.is_ssl
    target.is_docker_registry = registry.is_docker_registry
    target.resource_uri = registry.resource_uri
    target.namespace = registry.namespace
    target.repository_count = registry.repository_count
    fill_verification(target.last_verification, registry.last_verification)


def _list_response(page: Page[Registry]) -> pb.ListRegistriesResponse:
    response = pb.ListRegistriesResponse()
    fill_envelope(response, page)
    for registry in page.objects:
        _fill(response.objects.add(), registry)
    return response


class RegistryServicer(pb_grpc.RegistryServiceServicer):
    def __init__(self, catalog: RegistryCatalog) -> None:
        self._catalog = catalog

    async def GetRegistry(self, request: pb.GetRegistryRequest, context) -> pb.GetRegistryResponse:
        registry = self._catalog.get(
            current_principal.get(), namespace=request.namespace, host=request.host
        )
        response = pb.GetRegistryResponse()
        _fill(response.registry, registry)
        return response

    async def ListRegistries(
        self, request: pb.ListRegistriesRequest, context
    ) -> pb.ListRegistriesResponse:
        page = self._catalog.list(
            current_principal.get(),
            namespace=request.namespace,
            limit=request.limit,
            offset=request.offset,
            cursor=request.cursor,
        )
        return _list_response(page)
