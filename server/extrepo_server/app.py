"""Wiring: build the components from settings, create and run the gRPC server.

Concurrency model (see README, "Why it is built this way"): a grpc.aio server whose
handlers call the database synchronously on the event loop. The queries are short
indexed lookups (~30 us), less than handing each to a thread would cost. Calls to
third-party registries, which take tens of milliseconds to seconds, are awaited
(registry/), so they never block the loop.

The dependencies point one way: transport -> domain <- storage, security, registry;
the domain owns the Protocols (domain/ports.py) that the others implement, and this
module is the only one that knows them all.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import sqlalchemy as sa
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .config import Settings
from .domain.catalog import RepositoryCatalog
from .registry.client import RegistryClient
from .security.authentication import Authenticator
from .security.credentials import Keyring, load_or_create_key_file
from .security.throttle import FailureThrottle
from .storage import schema
from .storage.accounts import AccountStore
from .storage.database import create_engine
from .storage.repositories import RepositoryStore
from .transport.interceptor import CallInterceptor
from .transport.servicer import RepositoryServicer

log = logging.getLogger("extrepo.server")

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# The only services a caller may use without credentials: probes and grpcurl need
# them. Every other service, present or future, is authenticated by the interceptor.
OPEN_SERVICES = frozenset({HEALTH_SERVICE, reflection.SERVICE_NAME})


@dataclass
class Components:
    engine: sa.Engine
    accounts: AccountStore
    repositories: RepositoryStore
    keyring: Keyring
    registries: RegistryClient


@dataclass(frozen=True)
class Service:
    """A gRPC service of the API: its full name and how to add its servicer to a server."""

    name: str
    add_to: Callable[[grpc.aio.Server], None]


def api_services(components: Components) -> list[Service]:
    """Every service of the API, the one list the server registers, names in
    reflection and reports in health. A new service is one more entry here."""
    catalog = RepositoryCatalog(components.repositories, components.keyring)
    return [
        Service(
            pb.DESCRIPTOR.services_by_name["RepositoryService"].full_name,
            lambda server: pb_grpc.add_RepositoryServiceServicer_to_server(
                RepositoryServicer(catalog), server
            ),
        ),
    ]


def load_keyring(settings: Settings) -> Keyring:
    if settings.secret_keys:
        return Keyring([k.strip() for k in settings.secret_keys.split(",") if k.strip()])
    return Keyring(load_or_create_key_file(settings.effective_key_file))


def build(settings: Settings) -> Components:
    """The components over the configured database, its schema brought up to date
    (EXTREPO_MIGRATE_ON_START) or else checked to be (SchemaError)."""
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        pre_ping=settings.db_pool_pre_ping,
    )
    try:
        if settings.migrate_on_start:
            schema.upgrade(engine)
        else:
            schema.check(engine)
    except BaseException:
        engine.dispose()
        raise
    return Components(
        engine=engine,
        accounts=AccountStore(engine),
        repositories=RepositoryStore(engine),
        keyring=load_keyring(settings),
        registries=RegistryClient(
            timeout_seconds=settings.registry_timeout_seconds,
            plain_http_hosts=settings.registry_plain_http_host_set,
        ),
    )


async def create_server(
    settings: Settings, components: Components, services: Sequence[Service] | None = None
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A started server and the port it listens on (useful with port 0), serving
    `services` (by default the API's) beside the open health and reflection ones."""
    if services is None:
        services = api_services(components)
    throttle = FailureThrottle(
        per_client=settings.auth_failures_per_client,
        per_key=settings.auth_failures_per_key,
        window_seconds=settings.auth_failure_window_seconds,
        trusted_proxies=settings.trusted_proxy_networks,
    )
    authenticator = Authenticator(
        components.accounts, cache_seconds=settings.auth_cache_seconds, throttle=throttle
    )
    server = grpc.aio.server(
        interceptors=[CallInterceptor(authenticator, open_services=OPEN_SERVICES)]
    )
    for service in services:
        service.add_to(server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [service.name for service in services]
    reflection.enable_server_reflection((*names, *sorted(OPEN_SERVICES)), server)
    port = server.add_insecure_port(settings.address)
    if port == 0:
        raise OSError(f"cannot listen on {settings.address}")
    await server.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port, health_servicer


async def serve(settings: Settings, port_file: Path | None = None) -> None:
    components = build(settings)
    server, port, health_servicer = await create_server(settings, components)
    host = settings.address.rpartition(":")[0]
    log.info("serving", extra={"address": f"{host}:{port}", "database": safe_url(settings)})
    if port_file is not None:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(str(port))
        tmp.replace(port_file)

    # Everything built so far (modules, tables, compiled queries) lives as long as the
    # process: keep it out of the cyclic collector's full passes, which otherwise
    # rescan ~80k objects (~60 ms on this machine) now and then, mid-call.
    gc.freeze()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    # Stop taking new calls, tell probes, and let in-flight calls finish.
    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    await health_servicer.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace_seconds)
    await components.registries.aclose()
    components.repositories.close()
    components.engine.dispose()
    log.info("stopped")


def safe_url(settings: Settings) -> str:
    return sa.engine.make_url(settings.effective_database_url).render_as_string(hide_password=True)
