"""Configuration: one typed object from EXTREPO_* environment variables and flags.

Flags override the environment; the environment overrides the defaults. Bad values
fail at start with a message naming the setting.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.verification import Policy
from .observability.tracing import check_endpoint
from .registry.addresses import AddressPolicy
from .security.mesh import load_policy
from .security.throttle import IpNetwork, parse_networks
from .storage.database import check_database_url, sqlite_url_for


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXTREPO_", extra="forbid")

    address: str = Field(
        default="127.0.0.1:50051", description="host:port to listen on; port 0 picks a free one"
    )
    data_dir: Path = Field(
        default=Path("data"), description="where the SQLite database and key file live"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/extrepo.db; "
        "postgresql+psycopg://... for PostgreSQL",
    )
    db_pool_size: int = Field(
        default=5, ge=1, le=1000, description="connection pool size per server (PostgreSQL)"
    )
    db_connect_timeout_seconds: int = Field(
        default=2,
        ge=1,
        le=60,
        description="give up connecting to PostgreSQL (or waiting for a pooled connection) "
        "after this long; calls meanwhile answer UNAVAILABLE",
    )
    db_pool_pre_ping: bool = Field(
        default=False,
        description="check each pooled connection with a round trip before use (PostgreSQL); "
        "off: a dropped connection fails one call with UNAVAILABLE and the pool reconnects",
    )
    db_lock_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="how long a write waits for a lock another process or replica holds "
        "(SQLite's write lock, a PostgreSQL row lock) before the call answers UNAVAILABLE "
        "with a retry hint; the wait never holds up other calls",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="apply pending schema migrations at start; when false, a server whose "
        "database is behind refuses to start (run `extrepo-server migrate`)",
    )
    secret_keys: str | None = Field(
        default=None,
        description="comma-separated Fernet keys for registry credentials, newest first; "
        "when unset, the key file is used (created on first start)",
    )
    secret_key_file: Path | None = Field(
        default=None, description="key file path; default <data_dir>/secret.key"
    )
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a verified API key is trusted without a lookup"
    )
    auth_failures_per_key: int = Field(
        default=10,
        ge=1,
        description="failed authentications with one API key id, per window, before that "
        "key id is refused (RESOURCE_EXHAUSTED) for the rest of the window",
    )
    auth_failures_per_client: int = Field(
        default=300,
        ge=1,
        description="failed authentications from one client address (IPv6: per /64), per "
        "window, before that address is refused for the rest of the window",
    )
    auth_failure_window_seconds: int = Field(
        default=60, ge=1, le=86400, description="the window of both failed-authentication limits"
    )
    trusted_proxies: str = Field(
        default="127.0.0.0/8,::1",
        description="comma-separated addresses or networks of proxies (the REST gateway) "
        "whose x-forwarded-for names the client; empty: every client is its gRPC peer",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="how long in-flight calls may finish on SIGTERM/SIGINT"
    )
    shutdown_drain_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="on SIGTERM/SIGINT, how long health says NOT_SERVING while calls are "
        "still served, before new calls are refused (UNAVAILABLE): a load balancer's "
        "time to notice",
    )
    registry_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="the longest one check of a third-party registry may take, in total",
    )
    registry_plain_http_hosts: str = Field(
        default="",
        description="comma-separated registry hosts (host[:port]) reached over plain HTTP "
        "instead of HTTPS, as Docker's insecure-registries; only for trusted networks",
    )
    registry_allow: str = Field(
        default="",
        description="comma-separated CIDR networks, addresses and host[:port] names that "
        "credential checks may reach although they are loopback, private or link-local "
        "(on-premise registries); everything else must be globally routable",
    )
    registry_ca_file: Path | None = Field(
        default=None,
        description="a PEM file of CA certificates trusted for registries, in addition "
        "to the system's",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        description="serve the public gRPC listener over TLS with this certificate (PEM, "
        "with its chain), reloaded when the file changes; unset: plaintext",
    )
    tls_key_file: Path | None = Field(
        default=None, description="the private key of EXTREPO_TLS_CERT_FILE (PEM)"
    )
    # The internal listener, for mesh services (README, "The mesh side").
    internal_address: str | None = Field(
        default=None,
        description="host:port of the internal listener (mutual TLS, mesh services only); "
        "unset: none",
    )
    internal_tls_cert_file: Path | None = Field(
        default=None, description="the internal listener's certificate (PEM, with its chain)"
    )
    internal_tls_key_file: Path | None = Field(
        default=None, description="the internal listener's private key (PEM)"
    )
    mesh_ca_file: Path | None = Field(
        default=None,
        description="the CA (PEM) whose client certificates the internal listener accepts",
    )
    mesh_policy_file: Path | None = Field(
        default=None,
        description="the TOML file mapping mesh identities to the namespaces and calls "
        "they may use",
    )
    metrics_address: str | None = Field(
        default=None,
        description="host:port of the Prometheus metrics endpoint (/metrics, its own HTTP "
        "server, off the gRPC path); unset: not served",
    )
    tracing_endpoint: str = Field(
        default="",
        description="base URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318; spans go "
        "to <url>/v1/traces) to send OpenTelemetry traces to; empty: tracing off",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_flush_seconds: float = Field(
        default=0.2,
        ge=0,
        description="how late log lines below WARNING may be written (batched, as nginx's "
        "access_log buffer); 0 writes every line at once, at a system call per gRPC call",
    )
    # Credential checks (README, "Credential checks"; domain/verification.py).
    verification: str = Field(
        default="refuse-rejected",
        description="what Create and Update do with the check of the credentials against "
        "the registry: off (no checks), record (never refuse), refuse-rejected (refuse "
        "what the registry refused and forbidden addresses; accept an unreachable "
        "registry), require-verified (refuse anything but VERIFIED)",
    )
    recheck_interval_seconds: float = Field(
        default=6 * 3600,
        ge=0,
        description="how often each repository's credentials are checked again in the "
        "background (±10% jitter; sooner, backing off, after a registry could not be "
        "reached); 0 turns background checks off",
    )
    recheck_first_retry_seconds: float = Field(
        default=60,
        gt=0,
        description="after a background check that could not reach the registry, the "
        "delay before the next, doubling with each such check in a row up to the interval",
    )
    recheck_per_host: int = Field(
        default=2,
        ge=1,
        le=64,
        description="how many background checks run at once against one registry host",
    )
    checks_per_minute: int = Field(
        default=30,
        ge=1,
        description="how many credential checks (Create, Update, ValidateRepository) one "
        "user may cause per minute; more answer RESOURCE_EXHAUSTED",
    )
    audit_retention_days: float = Field(
        default=400,
        ge=0,
        description="how long audit log entries are kept; the server removes older ones "
        "every hour (0 keeps them forever)",
    )

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"'{value}' is not host:port (e.g. 127.0.0.1:50051)")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        return None if value is None else check_database_url(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("registry_allow")
    @classmethod
    def _check_registry_allow(cls, value: str) -> str:
        AddressPolicy(value)
        return value

    @field_validator("registry_ca_file")
    @classmethod
    def _check_registry_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{str(value)[:200]} is not a readable file")
        return value

    @field_validator("verification")
    @classmethod
    def _check_verification(cls, value: str) -> str:
        choices = [policy.value for policy in Policy]
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    @field_validator("metrics_address")
    @classmethod
    def _check_metrics_address(cls, value: str | None) -> str | None:
        return None if value is None else cls._check_address(value)

    @field_validator("tracing_endpoint")
    @classmethod
    def _check_tracing_endpoint(cls, value: str) -> str:
        return check_endpoint(value.strip())

    @model_validator(mode="after")
    def _check_public_tls(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("EXTREPO_TLS_CERT_FILE and EXTREPO_TLS_KEY_FILE go together")
        for path in (self.tls_cert_file, self.tls_key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"{str(path)[:200]} is not a file")
        return self

    @model_validator(mode="after")
    def _check_internal_listener(self) -> Settings:
        if self.internal_address is None:
            return self
        self._check_address(self.internal_address)
        for name in (
            "internal_tls_cert_file",
            "internal_tls_key_file",
            "mesh_ca_file",
            "mesh_policy_file",
        ):
            value = getattr(self, name)
            if value is None:
                raise ValueError(
                    f"EXTREPO_{name.upper()} is required with EXTREPO_INTERNAL_ADDRESS"
                )
            if not value.is_file():
                raise ValueError(f"EXTREPO_{name.upper()}: {str(value)[:200]} is not a file")
        load_policy(self.mesh_policy_file)  # MeshPolicyError (a ValueError) says what is wrong
        return self

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir.resolve())

    @property
    def registry_plain_http_host_set(self) -> frozenset[str]:
        # Lower case: hosts in repository names are (Docker's grammar), so an entry
        # written with capitals still matches.
        return frozenset(
            h.strip().lower() for h in self.registry_plain_http_hosts.split(",") if h.strip()
        )

    @property
    def trusted_proxy_networks(self) -> tuple[IpNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def effective_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"
