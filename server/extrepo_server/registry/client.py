"""The HTTP client for third-party registries (Docker Registry HTTP API v2 / OCI
distribution), on httpx's asyncio client.

Every check runs under one total deadline (not httpx's per-phase timeouts alone),
so a registry that trickles bytes cannot hold a check longer than configured. The
handler awaiting a check leaves the event loop free for every other call meanwhile.
Only the distribution API's own paths are requested; image data never is.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from ..domain.ports import RegistryPing, RegistryPingOutcome
from .challenge import parse_challenge

_API_VERSION_HEADER = "docker-distribution-api-version"
_USER_AGENT = "extrepo-registry-check"


class RegistryClient:
    """Talks to registries over HTTPS, or plain HTTP for hosts named in
    `plain_http_hosts` (as Docker's `insecure-registries`, for registries on a
    trusted network and for tests). The httpx client is made on first use and
    shared by every check (its connection pool); `aclose()` ends it."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        plain_http_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self._timeout = timeout_seconds
        self._plain_http_hosts = plain_http_hosts
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={"user-agent": _USER_AGENT},
                trust_env=False,  # never a proxy from the server's environment
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def base_url(self, host: str) -> str:
        scheme = "http" if host in self._plain_http_hosts else "https"
        return f"{scheme}://{host}"

    async def ping(self, host: str) -> RegistryPing:
        """`GET /v2/` on `host`: whether it is a registry, and how it wants callers
        to authenticate. Never raises for what the registry or the network does."""
        url = f"{self.base_url(host)}/v2/"
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http().get(url)
        except TimeoutError:
            return RegistryPing(
                RegistryPingOutcome.UNREACHABLE, f"no answer from {host} within {self._timeout}s"
            )
        except httpx.ConnectError as exc:
            if _caused_by_tls(exc):
                return RegistryPing(RegistryPingOutcome.TLS_ERROR, f"TLS with {host} failed")
            return RegistryPing(RegistryPingOutcome.UNREACHABLE, f"cannot connect to {host}")
        except httpx.HTTPError as exc:
            return RegistryPing(
                RegistryPingOutcome.UNREACHABLE, f"{host} broke the exchange ({type(exc).__name__})"
            )
        return _classify(host, response)


def _classify(host: str, response: httpx.Response) -> RegistryPing:
    speaks_v2 = response.headers.get(_API_VERSION_HEADER, "").startswith("registry/2.")
    if response.status_code == 200:
        if speaks_v2:
            return RegistryPing(RegistryPingOutcome.OPEN, f"{host} needs no credentials")
        return RegistryPing(
            RegistryPingOutcome.NOT_A_REGISTRY,
            f"{host} answered /v2/ without the Docker-Distribution-API-Version header",
        )
    if response.status_code == 401:
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge is not None and challenge.scheme in ("bearer", "basic"):
            return RegistryPing(
                RegistryPingOutcome.AUTH_REQUIRED,
                f"{host} asks for {challenge.scheme} authentication",
                challenge,
            )
        return RegistryPing(
            RegistryPingOutcome.NOT_A_REGISTRY,
            f"{host} answered /v2/ with 401 but no Basic or Bearer challenge",
        )
    return RegistryPing(
        RegistryPingOutcome.NOT_A_REGISTRY, f"{host} answered /v2/ with HTTP {response.status_code}"
    )


def _caused_by_tls(exc: BaseException) -> bool:
    """Whether an ssl.SSLError (a certificate or handshake failure) is in the chain:
    httpx wraps httpcore's error, which wraps the ssl module's."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
