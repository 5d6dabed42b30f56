"""The synchronous client: one channel, the credentials, the five calls, and the
registries those repositories live on.

    client = extrepo.Client()                      # settings from env / `extrepo login`
    client = extrepo.Client("127.0.0.1:50051", username="alice", api_key=KEY)
    for repo in client.Repository.list(): ...      # the original object model, bound

Every call sends the Basic credentials, has the default deadline, and raises a typed
exception of extrepo.errors on failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from . import _channel, config, paging
from .errors import from_rpc_error
from .v1 import registry_service_pb2 as registry_pb
from .v1 import registry_service_pb2_grpc as registry_pb_grpc
from .v1 import repository_service_pb2 as pb
from .v1 import repository_service_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from .repository import Repository

_Response = TypeVar("_Response")


class Client:
    """A connection to an extrepo server.

    Arguments left out (None) come from the environment (`EXTREPO_ADDRESS`,
    `EXTREPO_USERNAME`, `EXTREPO_API_KEY`, `EXTREPO_NAMESPACE`, `EXTREPO_TLS*`,
    `EXTREPO_TIMEOUT`, or `DOCKERCLOUD_USER`/`DOCKERCLOUD_APIKEY`/`DOCKERCLOUD_NAMESPACE`),
    then from the file `extrepo login` writes, then the defaults (127.0.0.1:50051,
    plaintext, 10 s deadline). `namespace` is the default for every call; empty means
    the caller's own. `interceptors` are grpc client interceptors put on the channel.
    """

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
        interceptors: Sequence[grpc.UnaryUnaryClientInterceptor] = (),
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
        channel = _channel.open_channel(settings, channel_options)
        self._raw_channel = channel
        if interceptors:
            channel = grpc.intercept_channel(channel, *interceptors)
        self._stub = pb_grpc.RepositoryServiceStub(channel)
        self._registries = registry_pb_grpc.RegistryServiceStub(channel)

        from .repository import Repository

        # The original object model, bound to this client: client.Repository.fetch(name).
        self.Repository: type[Repository] = type(
            "Repository",
            (Repository,),
            {"_bound_client": self, "__module__": Repository.__module__},
        )

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        self._raw_channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.settings.address!r}, username={self.settings.username!r})"

    # -- calls -----------------------------------------------------------------

    def _namespace(self, namespace: str | None) -> str:
        return self.settings.namespace if namespace is None else namespace

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    def get(self, name: str, namespace: str | None = None) -> pb.Repository:
        request = pb.GetRequest(namespace=self._namespace(namespace), name=name)
        response: pb.GetResponse = self._call(self._stub.Get, request)
        return response.repository

    def create(
        self, name: str, username: str, password: str, namespace: str | None = None
    ) -> pb.Repository:
        request = pb.CreateRequest(
            namespace=self._namespace(namespace), name=name, username=username, password=password
        )
        response: pb.CreateResponse = self._call(self._stub.Create, request)
        return response.repository

    def update(
        self,
        name: str,
        *,
        username: str | None = None,
        password: str | None = None,
        namespace: str | None = None,
    ) -> pb.Repository:
        """Change the credentials: only the ones given are sent, the others are kept."""
        request = update_request(self._namespace(namespace), name, username, password)
        response: pb.UpdateResponse = self._call(self._stub.Update, request)
        return response.repository

    def validate(
        self,
        name: str,
        *,
        username: str | None = None,
        password: str | None = None,
        namespace: str | None = None,
    ) -> pb.ValidateRepositoryResponse:
        """Check credentials against the repository's registry without storing them:
        the ones given, completed by the stored ones (both omitted: the stored
        credentials of a registered repository). A registry's refusal is the answer
        (`verification.state`), not an error."""
        request = pb.ValidateRepositoryRequest(namespace=self._namespace(namespace), name=name)
        if username is not None:
            request.username = username
        if password is not None:
            request.password = password
        response: pb.ValidateRepositoryResponse = self._call(self._stub.ValidateRepository, request)
        return response

    def delete(self, name: str, namespace: str | None = None) -> None:
        self._call(
            self._stub.Delete, pb.DeleteRequest(namespace=self._namespace(namespace), name=name)
        )

    def list_page(self, request: pb.ListRequest) -> pb.ListResponse:
        """One page, as the server answers it (`meta` and `objects`)."""
        response: pb.ListResponse = self._call(self._stub.List, request)
        return response

    def iter_repositories(
        self,
        namespace: str | None = None,
        *,
        name: str = "",
        registry: str = "",
        page_size: int = 0,
    ) -> Iterator[pb.Repository]:
        """Every repository of the listing, page after page (fetched as needed).

        `name` and `registry` filter as List does; `page_size` 0 is the server's default."""
        request: pb.ListRequest | None = pb.ListRequest(
            namespace=self._namespace(namespace), name=name, registry=registry, limit=page_size
        )
        while request is not None:
            response = self.list_page(request)
            yield from response.objects
            request = paging.next_request(request, response)

    # -- registries (read-only: the hosts a namespace's repositories live on) ----

    def registry(self, host: str, namespace: str | None = None) -> registry_pb.Registry:
        """The registry `host` (with its port, if any) as the namespace uses it; NotFound
        when no repository of the namespace is hosted there."""
        request = registry_pb.GetRegistryRequest(namespace=self._namespace(namespace), host=host)
        response: registry_pb.GetRegistryResponse = self._call(
            self._registries.GetRegistry, request
        )
        return response.registry

    def list_registries_page(
        self, request: registry_pb.ListRegistriesRequest
    ) -> registry_pb.ListRegistriesResponse:
        """One page of registries, as the server answers it (`meta` and `objects`)."""
        response: registry_pb.ListRegistriesResponse = self._call(
            self._registries.ListRegistries, request
        )
        return response

    def iter_registries(
        self, namespace: str | None = None, *, page_size: int = 0
    ) -> Iterator[registry_pb.Registry]:
        """Every registry of the namespace in host order, page after page."""
        request: registry_pb.ListRegistriesRequest | None = registry_pb.ListRegistriesRequest(
            namespace=self._namespace(namespace), limit=page_size
        )
        while request is not None:
            response = self.list_registries_page(request)
            yield from response.objects
            request = paging.next_request(request, response)


def update_request(
    namespace: str, name: str, username: str | None, password: str | None
) -> pb.UpdateRequest:
    request = pb.UpdateRequest(namespace=namespace, name=name)
    if username is not None:
        request.username = username
    if password is not None:
        request.password = password
    return request
