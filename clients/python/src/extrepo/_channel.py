"""Channels to the server: plaintext or TLS, with the service config that gives every
call a default deadline and retries reads that found the server UNAVAILABLE."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from .config import Settings
from .errors import ConfigError

SERVICE = "extrepo.v1.RepositoryService"
# Reads are safe to repeat. Writes are not retried: a Create whose answer was lost may
# have landed, and trying it again would answer ALREADY_EXISTS for the caller's own write.
READ_METHODS = ("Get", "List")

ChannelOptions = Sequence[tuple[str, Any]]


def service_config(timeout_seconds: float) -> dict[str, Any]:
    """gRPC's service config: a deadline for every call, retries with exponential
    backoff for reads answered UNAVAILABLE (which is also what a refused or dropped
    connection gives)."""
    timeout = f"{timeout_seconds:.3f}s"
    return {
        "methodConfig": [
            {
                "name": [{"service": SERVICE, "method": m} for m in READ_METHODS],
                "timeout": timeout,
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.3s",
                    "maxBackoff": "3s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            },
            {"name": [{"service": SERVICE}], "timeout": timeout},
        ]
    }


def channel_options(settings: Settings, extra: ChannelOptions = ()) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("grpc.service_config", json.dumps(service_config(settings.timeout))),
        ("grpc.enable_retries", 1),
        # Our service config, not one a DNS TXT record might carry.
        ("grpc.service_config_disable_resolution", 1),
        ("grpc.primary_user_agent", f"extrepo-python/{_version()}"),
        # Reconnect after 0.25 s rather than gRPC's 1 s: a read retried while its
        # connection is down then finds it back within the retry policy's backoff.
        ("grpc.initial_reconnect_backoff_ms", 250),
    ]
    if settings.tls_server_name:
        options.append(("grpc.ssl_target_name_override", settings.tls_server_name))
    options.extend(extra)
    return options


def _version() -> str:
    from . import __version__

    return __version__


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials:
    """TLS credentials: the CA file's roots (else the system's), and a client
    certificate and key when both are given (mutual TLS)."""
    cert = _read(settings.tls_client_cert_file, "TLS client certificate")
    key = _read(settings.tls_client_key_file, "TLS client key")
    if (cert is None) != (key is None):
        raise ConfigError("a TLS client certificate needs its key, and the key its certificate")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.tls_ca_file, "TLS CA file"),
        private_key=key,
        certificate_chain=cert,
    )


def open_channel(settings: Settings, extra: ChannelOptions = ()) -> grpc.Channel:
    options = channel_options(settings, extra)
    if settings.uses_tls:
        return grpc.secure_channel(settings.address, channel_credentials(settings), options)
    return grpc.insecure_channel(settings.address, options)


def open_aio_channel(settings: Settings, extra: ChannelOptions = ()) -> grpc.aio.Channel:
    options = channel_options(settings, extra)
    if settings.uses_tls:
        return grpc.aio.secure_channel(settings.address, channel_credentials(settings), options)
    return grpc.aio.insecure_channel(settings.address, options)


def auth_metadata(settings: Settings) -> tuple[tuple[str, str], ...]:
    """`authorization: Basic base64(username:apikey)`, sent with every call.

    Per-call metadata rather than grpc call credentials: those are sent only over
    TLS, and the server speaks plaintext on loopback by default."""
    username, api_key = settings.require_credentials()
    token = base64.b64encode(f"{username}:{api_key}".encode()).decode()
    return (("authorization", f"Basic {token}"),)
