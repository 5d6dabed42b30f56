"""Wiring: build the components from settings, create and run the gRPC server.

Concurrency model (see README, "Why it is built this way"): a grpc.aio server whose
handlers read the database synchronously on the event loop. The queries are short
indexed lookups (~30 us), less than handing each to a thread would cost. Writes, which
may wait for a lock held elsewhere, and calls to third-party registries, which take
tens of milliseconds to seconds, are awaited (storage.connections.Writer, registry/),
so they never block the loop.

The dependencies point one way: transport -> domain <- storage, security, registry;
the domain owns the Protocols (domain/ports.py) that the others implement, and this
module is the only one that knows them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.metadata
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import sqlalchemy as sa
from extrepo.v1 import action_service_pb2 as action_pb
from extrepo.v1 import action_service_pb2_grpc as action_pb_grpc
from extrepo.v1 import pull_access_service_pb2 as pull_pb
from extrepo.v1 import pull_access_service_pb2_grpc as pull_pb_grpc
from extrepo.v1 import registry_service_pb2 as registry_pb
from extrepo.v1 import registry_service_pb2_grpc as registry_pb_grpc
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from extrepo.v1 import usage_service_pb2 as usage_pb
from extrepo.v1 import usage_service_pb2_grpc as usage_pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .config import Settings
from .credential_keys import load_keyring, verify_keyring
from .domain.audit import AuditLog, throttled_entry
from .domain.catalog import RepositoryCatalog
from .domain.pull_access import PullAccessCatalog
from .domain.rechecks import Rechecker
from .domain.registries import RegistryCatalog
from .domain.usages import UsageCatalog
from .domain.verification import Policy, Schedule, Verifier
from .observability import tracing
from .observability.metrics import serve_metrics
from .registry.addresses import AddressPolicy
from .registry.client import RegistryClient
from .security.authentication import Authenticator
from .security.check_budget import CheckBudget
from .security.credentials import Keyring
from .security.cursors import CursorSigner
from .security.mesh import MeshAuthenticator, load_policy
from .security.throttle import ClientAddresses, FailureThrottle
from .storage import schema
from .storage.accounts import AccountStore
from .storage.audit import AuditStore
from .storage.checks import CheckStore
from .storage.database import create_engine
from .storage.registries import RegistryStore
from .storage.repositories import RepositoryStore
from .storage.usages import UsageStore
from .transport.action_servicer import ActionServicer
from .transport.audit import CallAudit
from .transport.interceptor import CallInterceptor, MeshInterceptor
from .transport.pull_access_servicer import PullAccessServicer
from .transport.registry_servicer import RegistryServicer
from .transport.servicer import RepositoryServicer
from .transport.shutdown import GracefulShutdown, HealthServicer, ShutdownGate
from .transport.tls import ReloadingCredentials
from .transport.usage_servicer import UsageServicer

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
    keyring: Keyring | None  # None: built for administration that needs no key
    registries: RegistryClient
    verifier: Verifier  # credential checks, with the configured policy
    checks: CheckStore  # the background re-checks' queue
    registry_store: RegistryStore  # the registries of namespaces (read-only)
    usages: UsageStore  # which consumers use which repositories (internal listener)
    audit: AuditStore  # the audit log (changes' entries are written by their stores)
    plain_http_hosts: frozenset[str]
    check_timeout_seconds: float
    recheck_per_host: int


@dataclass(frozen=True)
class Service:
    """A gRPC service of the API: its full name and how to add its servicer to a server."""

    name: str
    add_to: Callable[[grpc.aio.Server], None]


def api_services(components: Components) -> list[Service]:
    """Every service of the API, the one list the server registers, names in
    reflection and reports in health. A new service is one more entry here."""
    assert components.keyring is not None, "the API needs the credential keyring"
    # List cursors are signed under keys derived from the credential keys, which every
    # replica shares, so a cursor one replica issued is good at any other.
    signer = CursorSigner(components.keyring.keys)
    catalog = RepositoryCatalog(
        components.repositories, components.keyring, signer, components.verifier, components.audit
    )
    audit_log = AuditLog(components.audit, signer)
    registries = RegistryCatalog(components.registry_store, signer, components.plain_http_hosts)
    return [
        Service(
            pb.DESCRIPTOR.services_by_name["RepositoryService"].full_name,
            lambda server: pb_grpc.add_RepositoryServiceServicer_to_server(
                RepositoryServicer(catalog), server
            ),
        ),
        Service(
            registry_pb.DESCRIPTOR.services_by_name["RegistryService"].full_name,
            lambda server: registry_pb_grpc.add_RegistryServiceServicer_to_server(
                RegistryServicer(registries), server
            ),
        ),
        Service(
            action_pb.DESCRIPTOR.services_by_name["ActionService"].full_name,
            lambda server: action_pb_grpc.add_ActionServiceServicer_to_server(
                ActionServicer(audit_log), server
            ),
        ),
    ]


def build(settings: Settings, *, with_keyring: bool = True) -> Components:
    """The components over the configured database, its schema brought up to date
    (EXTREPO_MIGRATE_ON_START) or else checked to be (SchemaError), and the credential
    keyring (KeyringError if the key file is missing while credentials are stored)."""
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        pre_ping=settings.db_pool_pre_ping,
        lock_timeout=settings.db_lock_timeout_seconds,
    )
    try:
        if settings.migrate_on_start:
            schema.upgrade(engine)
        else:
            schema.check(engine)
        keyring = load_keyring(settings, engine) if with_keyring else None
    except BaseException:
        engine.dispose()
        raise
    registries = RegistryClient(
        timeout_seconds=settings.registry_timeout_seconds,
        plain_http_hosts=settings.registry_plain_http_host_set,
        policy=AddressPolicy(settings.registry_allow),
        ca_file=None if settings.registry_ca_file is None else str(settings.registry_ca_file),
    )
    return Components(
        engine=engine,
        accounts=AccountStore(engine),
        repositories=RepositoryStore(engine, write_threads=settings.db_pool_size),
        keyring=keyring,
        registries=registries,
        verifier=Verifier(
            registries,
            Policy(settings.verification),
            Schedule(
                interval=timedelta(seconds=settings.recheck_interval_seconds),
                first_retry=timedelta(seconds=settings.recheck_first_retry_seconds),
            ),
            CheckBudget(settings.checks_per_minute),
        ),
        checks=CheckStore(engine),
        registry_store=RegistryStore(engine),
        usages=UsageStore(engine),
        audit=AuditStore(engine),
        plain_http_hosts=settings.registry_plain_http_host_set,
        check_timeout_seconds=settings.registry_timeout_seconds,
        recheck_per_host=settings.recheck_per_host,
    )


def start_rechecks(components: Components) -> Rechecker | None:
    """The background re-check loop, started on the running event loop; None when
    checks or re-checks are off (EXTREPO_VERIFICATION, EXTREPO_RECHECK_INTERVAL_SECONDS)."""
    assert components.keyring is not None, "re-checks need the credential keyring"
    rechecker = Rechecker(
        components.checks,
        components.verifier,
        components.keyring,
        per_host=components.recheck_per_host,
        check_timeout=timedelta(seconds=components.check_timeout_seconds),
    )
    if not rechecker.enabled:
        return None
    rechecker.start()
    return rechecker


def internal_services(components: Components) -> list[Service]:
    """The services of the internal listener: what mesh services call."""
    assert components.keyring is not None, "pull access needs the credential keyring"
    usages = UsageCatalog(components.usages, components.accounts)
    pull_access = PullAccessCatalog(
        components.repositories,
        components.keyring,
        components.registries,
        components.accounts,
        components.audit,
    )
    return [
        Service(
            usage_pb.DESCRIPTOR.services_by_name["UsageService"].full_name,
            lambda server: usage_pb_grpc.add_UsageServiceServicer_to_server(
                UsageServicer(usages), server
            ),
        ),
        Service(
            pull_pb.DESCRIPTOR.services_by_name["PullAccessService"].full_name,
            lambda server: pull_pb_grpc.add_PullAccessServiceServicer_to_server(
                PullAccessServicer(pull_access), server
            ),
        ),
    ]


async def create_internal_server(
    settings: Settings, components: Components
) -> tuple[grpc.aio.Server, int]:
    """The internal listener, started: mutual TLS (a client certificate from the mesh
    CA is required by the handshake), callers known by their certificate's identity
    and the mesh policy file; health and reflection open as on the public one."""
    assert settings.internal_address is not None
    assert settings.internal_tls_cert_file and settings.internal_tls_key_file
    assert settings.mesh_ca_file and settings.mesh_policy_file
    authenticator = MeshAuthenticator(load_policy(settings.mesh_policy_file))
    # A mesh service's address is its peer: no gateway stands in front of it.
    audit = CallAudit(components.audit, ClientAddresses(()).of, components.accounts.namespace_id)
    server = grpc.aio.server(
        interceptors=[
            *tracing.server_interceptors(excluded_services=OPEN_SERVICES),
            MeshInterceptor(authenticator, open_services=OPEN_SERVICES, audit=audit),
        ]
    )
    credentials = ReloadingCredentials(
        settings.internal_tls_cert_file, settings.internal_tls_key_file, settings.mesh_ca_file
    ).server_credentials()
    port, _ = await _start(
        server, internal_services(components), settings.internal_address, credentials
    )
    return server, port


async def _start(
    server: grpc.aio.Server,
    services: Sequence[Service],
    address: str,
    credentials: grpc.ServerCredentials | None,
) -> tuple[int, HealthServicer]:
    """Add `services` to `server` beside the open health and reflection ones, listen
    on `address` (TLS with `credentials`, else plaintext), start, and report every
    service SERVING. The port (useful with port 0) and the health servicer."""
    for service in services:
        service.add_to(server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [service.name for service in services]
    reflection.enable_server_reflection((*names, *sorted(OPEN_SERVICES)), server)
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    await server.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return port, health_servicer


async def create_server(
    settings: Settings, components: Components, services: Sequence[Service] | None = None
) -> tuple[grpc.aio.Server, int, GracefulShutdown]:
    """A started server, the port it listens on (useful with port 0) and how to stop
    it, serving `services` (by default the API's) beside the open health and
    reflection ones."""
    if services is None:
        services = api_services(components)
    throttle = FailureThrottle(
        per_client=settings.auth_failures_per_client,
        per_key=settings.auth_failures_per_key,
        window_seconds=settings.auth_failure_window_seconds,
        trusted_proxies=settings.trusted_proxy_networks,
        on_refusal=_throttle_recorder(components),
    )
    authenticator = Authenticator(
        components.accounts, cache_seconds=settings.auth_cache_seconds, throttle=throttle
    )
    gate = ShutdownGate(open_services=OPEN_SERVICES)
    audit = CallAudit(components.audit, throttle.clients.of, components.accounts.namespace_id)
    server = grpc.aio.server(
        interceptors=[
            # None while tracing is off; else first, so its span covers the others.
            *tracing.server_interceptors(excluded_services=OPEN_SERVICES),
            CallInterceptor(authenticator, open_services=OPEN_SERVICES, audit=audit),
            gate,
        ]
    )
    credentials = None
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        credentials = ReloadingCredentials(
            settings.tls_cert_file, settings.tls_key_file
        ).server_credentials()
    port, health_servicer = await _start(server, services, settings.address, credentials)
    shutdown = GracefulShutdown(
        server,
        health_servicer,
        gate,
        drain_seconds=settings.shutdown_drain_seconds,
        grace_seconds=settings.shutdown_grace_seconds,
    )
    return server, port, shutdown


def _throttle_recorder(components: Components) -> Callable[[str, str, str | None], None]:
    """What the authentication throttle calls when it begins refusing a client or a
    key: an audit entry, written off the event loop (it reads the key's owner and
    writes; it happens once per refusal window, never on a good call's path)."""

    def write(by: str, client: str, key_id: str | None) -> None:
        try:
            owner = components.accounts.key_owner(key_id) if key_id else None
            key_owner = None if owner is None else (owner.username, owner.user_id)
            components.audit.record_now(throttled_entry(by, client, key_id, key_owner))
        except Exception:
            log.exception("could not record a burst of failed authentication in the audit log")

    def record(by: str, client: str, key_id: str | None) -> None:
        try:
            asyncio.get_running_loop().run_in_executor(None, write, by, client, key_id)
        except RuntimeError:  # no event loop: a caller outside the server
            write(by, client, key_id)

    return record


async def prune_audit_log(audit: AuditStore, retention_days: float) -> None:
    """Remove audit entries older than the retention, now and then for ever (a task
    of the running server; cancelled at shutdown). Every hour, or every tenth of the
    retention if that is shorter. Each replica prunes: the DELETEs are idempotent."""
    retention = timedelta(days=retention_days)
    interval = min(3600.0, retention.total_seconds() / 10)
    while True:
        try:
            removed = await asyncio.to_thread(audit.prune, datetime.now(UTC) - retention)
            if removed:
                log.info("audit log pruned", extra={"removed": removed})
        except Exception:
            log.exception("could not prune the audit log; trying again later")
        await asyncio.sleep(interval)


async def serve(settings: Settings, port_file: Path | None = None) -> None:
    if settings.tracing_endpoint:
        # Before anything is built: statements and the registry client choose their
        # traced or plain code when they are made (observability/tracing.py).
        tracing.start(
            settings.tracing_endpoint,
            service_name="extrepo-server",
            version=importlib.metadata.version("extrepo-server"),
        )
        tracing.add_trace_id_to(logging.getLogger("extrepo.call"))
    components = build(settings)
    # Before serving: the keyring must hold every key the stored credentials need.
    verify_keyring(components.keyring, components.engine, settings)
    _, port, shutdown = await create_server(settings, components)
    rechecks = start_rechecks(components)
    pruning = None
    if settings.audit_retention_days > 0:
        pruning = asyncio.create_task(
            prune_audit_log(components.audit, settings.audit_retention_days)
        )
    metrics = None
    if settings.metrics_address is not None:
        metrics = serve_metrics(
            settings.metrics_address,
            importlib.metadata.version("extrepo-server"),
            lambda: components.engine.pool,
        )
        log.info("serving metrics", extra={"address": settings.metrics_address})
    internal = None
    if settings.internal_address is not None:
        internal, internal_port = await create_internal_server(settings, components)
        log.info("serving mesh services", extra={"internal_port": internal_port})
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

    def on_signal() -> None:
        # The first signal starts the stop; a second one skips its drain and wait
        # for quiet (make run's Ctrl-C sends SIGINT, then its trap SIGTERM).
        (shutdown.hurry if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()

    # Tell probes, drain, refuse new calls, let accepted ones finish (transport/shutdown.py).
    log.info(
        "shutting down",
        extra={
            "drain_seconds": settings.shutdown_drain_seconds,
            "grace_seconds": settings.shutdown_grace_seconds,
        },
    )
    await shutdown.run()
    if metrics is not None:
        metrics.shutdown()
    if internal is not None:
        await internal.stop(settings.shutdown_grace_seconds)
    if rechecks is not None:
        await rechecks.stop()
    if pruning is not None:
        pruning.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruning
    await components.registries.aclose()
    components.checks.close()
    components.registry_store.close()
    components.usages.close()
    components.audit.close()
    components.repositories.close()
    components.engine.dispose()
    tracing.shutdown()  # exports the spans still queued
    log.info("stopped")


def safe_url(settings: Settings) -> str:
    return sa.engine.make_url(settings.effective_database_url).render_as_string(hide_password=True)
