"""The asyncio variant: the same client and object model over grpc.aio.

    async with extrepo.aio.Client() as client:
        repository = client.Repository.create(name=..., username=..., password=...)
        await repository.save()
        async for repository in client.Repository.iterate():
            ...
        repository = await client.Repository.fetch("registry.local/user1/image1")
        repository.password = "new password"
        await repository.save()
        await repository.delete()

A grpc.aio channel belongs to the event loop it was made on, so there is no default
client here: make one inside the loop (`extrepo.aio.Client(...)`, settings resolved
as for extrepo.Client) and use its `Repository`.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, TypeVar

import grpc
import grpc.aio

from . import _channel, config, paging
from ._model import RepositoryModel
from .client import update_request
from .errors import from_rpc_error
from .repository import MAX_PAGE_SIZE, check_filters
from .v1 import registry_service_pb2 as registry_pb
from .v1 import registry_service_pb2_grpc as registry_pb_grpc
from .v1 import repository_service_pb2 as pb
from .v1 import repository_service_pb2_grpc as pb_grpc

_R = TypeVar("_R", bound="Repository")


class Client:
    """An asyncio connection to an extrepo server; arguments as for extrepo.Client."""

    def __init__(
        self,
        address: str | None = None,
        *,
        username: str | None = None,
        api_key: str | None = None,
        namespace: str | None = None,
        tls: bool | None = None,
        tls_ca_file: str | None = None,
        tls_client_cert_file: str | None = None,
        tls_client_key_file: str | None = None,
        tls_server_name: str | None = None,
        timeout: float | None = None,
        config_file: str | None = None,
        settings: config.Settings | None = None,
        channel_options: _channel.ChannelOptions = (),
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        if settings is None:
            settings = config.resolve(
                {
                    "address": address,
                    "username": username,
                    "api_key": api_key,
                    "namespace": namespace,
                    "tls": tls,
                    "tls_ca_file": tls_ca_file,
                    "tls_client_cert_file": tls_client_cert_file,
                    "tls_client_key_file": tls_client_key_file,
                    "tls_server_name": tls_server_name,
                    "timeout": timeout,
                },
                config_file=config_file,
            )
        self.settings = settings
        self._metadata = _channel.auth_metadata(settings)
        options = _channel.channel_options(settings, channel_options)
        if settings.uses_tls:
            self._channel = grpc.aio.secure_channel(
                settings.address,
                _channel.channel_credentials(settings),
                options,
                interceptors=interceptors,
            )
        else:
            self._channel = grpc.aio.insecure_channel(
                settings.address, options, interceptors=interceptors
            )
        self._stub = pb_grpc.RepositoryServiceStub(self._channel)
        self._registries = registry_pb_grpc.RegistryServiceStub(self._channel)
        self.Repository: type[Repository] = type(
            "Repository", (Repository,), {"_bound_client": self, "__module__": __name__}
        )

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"aio.Client({self.settings.address!r}, username={self.settings.username!r})"

    def _namespace(self, namespace: str | None) -> str:
        return self.settings.namespace if namespace is None else namespace

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    async def get(self, name: str, namespace: str | None = None) -> pb.Repository:
        request = pb.GetRequest(namespace=self._namespace(namespace), name=name)
        response: pb.GetResponse = await self._call(self._stub.Get, request)
        return response.repository

    async def create(
        self, name: str, username: str, password: str, namespace: str | None = None
    ) -> pb.Repository:
        request = pb.CreateRequest(
            namespace=self._namespace(namespace), name=name, username=username, password=password
        )
        response: pb.CreateResponse = await self._call(self._stub.Create, request)
        return response.repository

    async def update(
        self,
        name: str,
        *,
        username: str | None = None,
        password: str | None = None,
        namespace: str | None = None,
    ) -> pb.Repository:
        request = update_request(self._namespace(namespace), name, username, password)
        response: pb.UpdateResponse = await self._call(self._stub.Update, request)
        return response.repository

    async def delete(self, name: str, namespace: str | None = None) -> None:
        request = pb.DeleteRequest(namespace=self._namespace(namespace), name=name)
        await self._call(self._stub.Delete, request)

    async def list_page(self, request: pb.ListRequest) -> pb.ListResponse:
        response: pb.ListResponse = await self._call(self._stub.List, request)
        return response

    async def iter_repositories(
        self,
        namespace: str | None = None,
        *,
        name: str = "",
        registry: str = "",
        page_size: int = 0,
    ) -> AsyncIterator[pb.Repository]:
        request: pb.ListRequest | None = pb.ListRequest(
            namespace=self._namespace(namespace), name=name, registry=registry, limit=page_size
        )
        while request is not None:
            response = await self.list_page(request)
            for repository in response.objects:
                yield repository
            request = paging.next_request(request, response)

    async def registry(self, host: str, namespace: str | None = None) -> registry_pb.Registry:
        request = registry_pb.GetRegistryRequest(namespace=self._namespace(namespace), host=host)
        response: registry_pb.GetRegistryResponse = await self._call(
            self._registries.GetRegistry, request
        )
        return response.registry

    async def list_registries_page(
        self, request: registry_pb.ListRegistriesRequest
    ) -> registry_pb.ListRegistriesResponse:
        response: registry_pb.ListRegistriesResponse = await self._call(
            self._registries.ListRegistries, request
        )
        return response

    async def iter_registries(
        self, namespace: str | None = None, *, page_size: int = 0
    ) -> AsyncIterator[registry_pb.Registry]:
        request: registry_pb.ListRegistriesRequest | None = registry_pb.ListRegistriesRequest(
            namespace=self._namespace(namespace), limit=page_size
        )
        while request is not None:
            response = await self.list_registries_page(request)
            for registry in response.objects:
                yield registry
            request = paging.next_request(request, response)


class Repository(RepositoryModel):
    """extrepo.Repository for asyncio: the calls are awaited; `create` is not (it
    makes a local object, as in the original SDK)."""

    _bound_client: ClassVar[Client | None] = None

    @classmethod
    def _client(cls) -> Client:
        if cls._bound_client is None:
            raise TypeError("use the Repository of an extrepo.aio.Client: client.Repository")
        return cls._bound_client

    @classmethod
    def _from_message(cls: type[_R], message: pb.Repository) -> _R:
        instance = cls()
        instance._load(message)
        return instance

    @classmethod
    async def iterate(
        cls: type[_R], namespace: str | None = None, **filters: str
    ) -> AsyncIterator[_R]:
        check_filters(filters)
        messages = cls._client().iter_repositories(
            namespace, name=filters.get("name", ""), registry=filters.get("registry", "")
        )
        async for message in messages:
            yield cls._from_message(message)

    @classmethod
    async def list(
        cls: type[_R], namespace: str | None = None, limit: int | None = None, **filters: str
    ) -> builtins.list[_R]:
        check_filters(filters)
        page_size = min(limit, MAX_PAGE_SIZE) if limit else 0
        found: builtins.list[_R] = []
        messages = cls._client().iter_repositories(
            namespace,
            name=filters.get("name", ""),
            registry=filters.get("registry", ""),
            page_size=page_size,
        )
        async for message in messages:
            found.append(cls._from_message(message))
            if limit and len(found) >= limit:
                break
        return found

    @classmethod
    async def fetch(cls: type[_R], name: str, namespace: str | None = None) -> _R:
        return cls._from_message(await cls._client().get(name, namespace))

    @classmethod
    def create(cls: type[_R], namespace: str | None = None, **attributes: Any) -> _R:
        return cls(namespace=namespace, **attributes)

    async def save(self) -> bool:
        pending = self._pending()
        if pending is None:
            return True
        action, arguments = pending
        client = self._client()
        if action == "create":
            self._load(await client.create(**arguments))
        else:
            self._load(await client.update(**arguments))
        return True

    async def delete(self) -> bool:
        if not self._saved:
            raise ValueError("this repository was never saved; there is nothing to delete")
        await self._client().delete(self.name, self.namespace)
        self._forget()
        return True

    async def refresh(self) -> bool:
        if not self._saved:
            raise ValueError("this repository was never saved; there is nothing to refresh")
        self._load(await self._client().get(self.name, self.namespace))
        return True
