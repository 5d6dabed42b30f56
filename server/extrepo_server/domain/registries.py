"""The use cases of the Registry resource: the third-party registries a namespace's
repositories live on (read-only), with the original Docker Cloud attributes and
what the credential checks learned about them."""

from __future__ import annotations

from dataclasses import dataclass

from . import paging
from .access import Action, Principal, authorize
from .errors import InvalidArgument
from .names import host_problem
from .paging import Page
from .ports import RegistryRecord, RegistryStore, Signer, Verification
from .resources import API_ROOT, registry_uri

# Docker's own registry under the names a repository may use for it.
DOCKER_HUB_HOSTS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
# Registry cursors are bound to this "filter", so that a repository listing's cursor
# is refused here (and the other way round) instead of read as a host.
_CURSOR_FILTERS = ("\0registries", "")


@dataclass(frozen=True)
class Registry:
    namespace: str
    host: str
    name: str
    port: int
    is_ssl: bool
    is_docker_registry: bool
    resource_uri: str
    repository_count: int
    last_verification: Verification


def registry_list_path(namespace: str) -> str:
    return f"{API_ROOT}/{namespace}/registry/"


def _port(host: str, is_ssl: bool) -> int:
    # `reg.io:5000`, `[::1]:5000`; a bare IPv6 literal is always bracketed in names.
    _, bracket, rest = host.rpartition("]")
    tail = rest if bracket else host
    _, colon, port = tail.rpartition(":")
    if colon and port.isdigit():
        return int(port)
    return 443 if is_ssl else 80


class RegistryCatalog:
    def __init__(
        self, store: RegistryStore, signer: Signer, plain_http_hosts: frozenset[str]
    ) -> None:
        self._store = store
        self._signer = signer
        self._plain_http_hosts = plain_http_hosts

    def _view(self, record: RegistryRecord) -> Registry:
        host = record.host
        is_ssl = host not in self._plain_http_hosts
        docker = host in DOCKER_HUB_HOSTS
        return Registry(
            namespace=record.namespace,
            host=host,
            name="Docker Hub" if docker else host,
            port=_port(host, is_ssl),
            is_ssl=is_ssl,
            is_docker_registry=docker,
            resource_uri=registry_uri(record.namespace, host),
            repository_count=record.repository_count,
            last_verification=record.last_verification,
        )

    def get(self, principal: Principal, *, namespace: str, host: str) -> Registry:
        grant = authorize(principal, namespace, Action.READ)
        if not host:
            raise InvalidArgument.single("host", "is required: the registry host, e.g. reg.io")
        if problem := host_problem(host):
            raise InvalidArgument.single("host", problem)
        return self._view(self._store.get(grant, host))

    def list(
        self, principal: Principal, *, namespace: str, limit: int, offset: int, cursor: str
    ) -> Page[Registry]:
        grant = authorize(principal, namespace, Action.READ)
        request = paging.page_request(
            limit=limit, offset=offset, cursor=cursor, filters=_CURSOR_FILTERS, signer=self._signer
        )
        records, total = self._store.page(grant, request.window)
        links = paging.page_links(
            list_path=registry_list_path(grant.namespace),
            query_filters=(),
            cursor_filters=_CURSOR_FILTERS,
            request=request,
            first_name=records[0].host if records else None,
            last_name=records[-1].host if records else None,
            returned=len(records),
            total=total,
            signer=self._signer,
        )
        return Page(
            objects=[self._view(r) for r in records],
            limit=request.limit,
            offset=request.offset,
            total_count=total,
            next=links.next,
            previous=links.previous,
            next_cursor=links.next_cursor,
        )
