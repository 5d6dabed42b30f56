"""The HTTP client for third-party registries (Docker Registry HTTP API v2 / OCI
distribution), on httpx's asyncio client.

`check()` does what `docker pull` does, up to the image data: `GET /v2/`, the
authentication the registry's challenge asks for (Basic, or a bearer token from the
challenge's realm scoped to `repository:<path>:pull`), then `GET /v2/<path>/tags/list`.
It never pulls a manifest or a blob and never writes.

Safety (README, "Outbound safety"): connections go only to addresses the policy
allows, pinned at resolution (addresses.py); HTTPS with verification, except hosts
listed as plain-HTTP; credentials go only to the registry's origin and its token
realm, never across a redirect to another origin, never over plain HTTP to a host
not listed; every answer is read up to a small size, and a whole check runs under
one total deadline, so a registry that trickles bytes cannot hold it longer. The
handler awaiting a check leaves the event loop free for every other call meanwhile.
Reasons name hosts and paths, never a credential or a token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urljoin, urlsplit

import httpcore
import httpx

from ..domain.errors import DomainError, FailedPrecondition, Unavailable
from ..domain.ports import (
    AuthScheme,
    Challenge,
    PullAccess,
    PullCredentials,
    PullKind,
    RegistryCheck,
    RegistryPing,
    RegistryPingOutcome,
    Verification,
    VerificationState,
)
from .addresses import AddressPolicy, ForbiddenAddress, PinnedBackend
from .challenge import parse_challenge

_API_VERSION_HEADER = "docker-distribution-api-version"
_USER_AGENT = "extrepo-registry-check"
# Registry and token answers are small JSON documents: a tags page of one tag, a
# token of a few KB. Anything bigger is not an answer a check needs.
MAX_ANSWER_BYTES = 64 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)

S = VerificationState


class _Stop(Exception):
    """Ends a check with a state (raised from deep in the exchange)."""

    def __init__(self, state: VerificationState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str

    def error_codes(self) -> set[str]:
        """The `errors[].code` of a registry error body."""
        try:
            document = json.loads(self.body)
            return {str(e.get("code", "")) for e in document.get("errors", [])}
        except (ValueError, AttributeError, TypeError):
            return set()


@dataclass(frozen=True)
class PullToken:
    """A bearer token from a registry's token service, and its lifetime."""

    token: str
    expires_in_seconds: int


class RegistryClient:
    """Talks to registries over HTTPS, or plain HTTP for hosts named in
    `plain_http_hosts` (as Docker's `insecure-registries`, for registries on a
    trusted network). The httpx client is made on first use and shared by every
    check (its connection pool); `aclose()` ends it."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        plain_http_hosts: frozenset[str] = frozenset(),
        policy: AddressPolicy | None = None,
        ca_file: str | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._plain_http_hosts = plain_http_hosts
        self._policy = policy or AddressPolicy()
        self._ca_file = ca_file
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            context = ssl.create_default_context()
            if self._ca_file:
                context.load_verify_locations(cafile=self._ca_file)
            transport = httpx.AsyncHTTPTransport(verify=context, trust_env=False)
            # httpx 0.28 takes no network backend; its pool is httpcore's, which does.
            # Rebuilt with the same TLS context and the pinning backend (addresses.py).
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=context,
                max_connections=100,
                max_keepalive_connections=20,
                keepalive_expiry=5.0,
                network_backend=PinnedBackend(self._policy),
            )
            self._client = httpx.AsyncClient(
                transport=transport,
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

    # -- the checks ------------------------------------------------------------

    async def ping(self, host: str) -> RegistryPing:
        """`GET /v2/` on `host`: whether it is a registry, and how it wants callers
        to authenticate. Never raises for what the registry or the network does."""
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._get(host, f"{self.base_url(host)}/v2/")
        except _Stop as stop:
            outcome = {
                S.REGISTRY_UNREACHABLE: RegistryPingOutcome.UNREACHABLE,
                S.TLS_ERROR: RegistryPingOutcome.TLS_ERROR,
            }.get(stop.state, RegistryPingOutcome.NOT_A_REGISTRY)
            return RegistryPing(outcome, stop.reason)
        except Exception as exc:
            stop = self._failure(host, exc)
            outcome = (
                RegistryPingOutcome.TLS_ERROR
                if stop.state is S.TLS_ERROR
                else RegistryPingOutcome.UNREACHABLE
            )
            return RegistryPing(outcome, stop.reason)
        return _classify(host, answer)

    async def check(self, host: str, path: str, credentials: PullCredentials) -> RegistryCheck:
        """Whether `credentials` may pull `host/path`. Never raises for what the
        registry, the network or the address policy does."""
        facts: dict = {}
        try:
            async with asyncio.timeout(self._timeout):
                verification = await self._check(host, path, credentials, facts)
        except _Stop as stop:
            verification = _outcome(stop.state, stop.reason)
        except Exception as exc:
            stop = self._failure(host, exc)
            verification = _outcome(stop.state, stop.reason)
        return RegistryCheck(
            verification,
            auth_scheme=facts.get("scheme"),
            token_realm_host=facts.get("realm_host", ""),
            api_version=facts.get("api_version", ""),
        )

    async def _check(
        self, host: str, path: str, credentials: PullCredentials, facts: dict
    ) -> Verification:
        base = self.base_url(host)
        ping = await self._get(host, f"{base}/v2/")
        facts["api_version"] = ping.headers.get(_API_VERSION_HEADER, "")[:64]
        challenge: Challenge | None = None
        if ping.status == 200:
            if not facts["api_version"].startswith("registry/2."):
                raise _Stop(
                    S.NOT_A_REGISTRY,
                    f"{host} answered /v2/ without the Docker-Distribution-API-Version header",
                )
            facts["scheme"] = AuthScheme.NONE
        elif ping.status == 401:
            challenge = parse_challenge(ping.headers.get("www-authenticate", ""))
            if challenge is None or challenge.scheme not in ("basic", "bearer"):
                raise _Stop(
                    S.NOT_A_REGISTRY,
                    f"{host} answered /v2/ with 401 but no Basic or Bearer challenge",
                )
            facts["scheme"] = AuthScheme.BASIC if challenge.scheme == "basic" else AuthScheme.BEARER
        elif ping.status >= 500:
            raise _Stop(S.REGISTRY_ERROR, f"{host} answered /v2/ with HTTP {ping.status}")
        else:
            raise _Stop(S.NOT_A_REGISTRY, f"{host} answered /v2/ with HTTP {ping.status}")

        authorization: str | None = None
        if challenge is not None and challenge.scheme == "basic":
            authorization = _basic(credentials)
            verified = await self._get(host, f"{base}/v2/", authorization)
            if verified.status in (401, 403):
                raise _Stop(S.CREDENTIALS_REJECTED, f"{host} refused the username and password")
            if verified.status != 200:
                raise _Stop(S.REGISTRY_ERROR, f"{host} answered /v2/ with HTTP {verified.status}")
        elif challenge is not None:
            token = await self._token(host, challenge, path, credentials, facts)
            authorization = f"Bearer {token.token}"

        tags = await self._get(host, f"{base}/v2/{path}/tags/list?n=1", authorization)
        if tags.status == 405:
            # Some registries do not offer tags/list: a manifest HEAD proves pull access
            # as well (no body, so a 404 cannot tell a missing repository from a
            # missing tag: the reason says so).
            head = await self._get(
                host,
                f"{base}/v2/{path}/manifests/latest",
                authorization,
                method="HEAD",
                headers={"accept": _MANIFEST_TYPES},
            )
            if head.status == 200:
                return _outcome(S.VERIFIED, f"{host} lets these credentials pull {path}")
            if head.status == 404:
                return _outcome(
                    S.REPOSITORY_NOT_FOUND,
                    f"{host} has no {path}:latest (it does not list tags, so no other tag "
                    "could be tried)",
                )
            tags = head
        if tags.status == 200:
            return _outcome(S.VERIFIED, f"{host} lets these credentials pull {path}")
        if tags.status == 404 and "NAME_UNKNOWN" in tags.error_codes():
            return _outcome(S.REPOSITORY_NOT_FOUND, f"{host} has no repository {path}")
        if tags.status in (401, 403, 404):
            if facts["scheme"] is AuthScheme.NONE:
                return _outcome(S.PULL_DENIED, f"{host} does not let anyone pull {path}")
            return _outcome(
                S.PULL_DENIED,
                f"{host} accepted the credentials, but they may not pull {path} "
                "(or it does not exist)",
            )
        if tags.status >= 500:
            raise _Stop(S.REGISTRY_ERROR, f"{host} answered tags/list with HTTP {tags.status}")
        raise _Stop(S.REGISTRY_ERROR, f"{host} answered tags/list with HTTP {tags.status}")

    async def pull_access(self, host: str, path: str, credentials: PullCredentials) -> PullAccess:
        """What a runtime needs to pull `host/path`: a token from the registry's
        token flow, the credentials themselves for a Basic registry, or nothing for
        an open one. FailedPrecondition if the registry refuses the credentials,
        Unavailable if it cannot be asked."""
        try:
            async with asyncio.timeout(self._timeout):
                ping = await self._get(host, f"{self.base_url(host)}/v2/")
                if ping.status == 200:
                    return PullAccess(PullKind.ANONYMOUS)
                challenge = parse_challenge(ping.headers.get("www-authenticate", ""))
                if ping.status != 401 or challenge is None:
                    raise _Stop(S.NOT_A_REGISTRY, f"{host} answered /v2/ with HTTP {ping.status}")
                if challenge.scheme == "basic":
                    return PullAccess(PullKind.PASSWORD)
                if challenge.scheme != "bearer":
                    raise _Stop(S.NOT_A_REGISTRY, f"{host} asks for {challenge.scheme[:20]} auth")
                token = await self._token(host, challenge, path, credentials, {})
                return PullAccess(PullKind.TOKEN, token.token, token.expires_in_seconds)
        except _Stop as stop:
            raise _pull_error(stop) from None
        except Exception as exc:
            raise _pull_error(self._failure(host, exc)) from None

    async def _token(
        self,
        host: str,
        challenge: Challenge,
        path: str,
        credentials: PullCredentials,
        facts: dict,
    ) -> PullToken:
        """A pull token for `path` from the challenge's realm (the Docker token flow)."""
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise _Stop(S.REGISTRY_ERROR, f"{host} named no usable token service")
        realm_host = parts.netloc.rpartition("@")[2]
        facts["realm_host"] = realm_host[:253]
        if parts.scheme == "http" and realm_host not in self._plain_http_hosts:
            raise _Stop(
                S.REGISTRY_ERROR,
                f"{host} sends credentials to a token service over plain HTTP "
                f"({realm_host}); list it in EXTREPO_REGISTRY_PLAIN_HTTP_HOSTS if that is intended",
            )
        return await self.pull_token(host, challenge, path, credentials)

    async def pull_token(
        self, host: str, challenge: Challenge, path: str, credentials: PullCredentials
    ) -> PullToken:
        """`GET realm?service=..&scope=repository:<path>:pull` with the credentials: a
        token that may pull `path` only. _Stop on refusal or an unusable answer."""
        realm = challenge.params["realm"]
        realm_host = urlsplit(realm).netloc.rpartition("@")[2]
        query = {"scope": f"repository:{path}:pull"}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        separator = "&" if urlsplit(realm).query else "?"
        authorization = _basic(credentials)
        answer = await self._get(realm_host, f"{realm}{separator}{urlencode(query)}", authorization)
        if answer.status in (401, 403):
            raise _Stop(
                S.CREDENTIALS_REJECTED,
                f"the token service of {host} ({realm_host}) refused the username and password",
            )
        if answer.status != 200:
            raise _Stop(
                S.REGISTRY_ERROR,
                f"the token service of {host} ({realm_host}) answered HTTP {answer.status}",
            )
        try:
            document = json.loads(answer.body)
            token = document.get("token") or document.get("access_token")
            # The spec's default lifetime is 60 s; a longer claim is taken as given.
            expires_in = max(1, int(document.get("expires_in") or 60))
        except (ValueError, AttributeError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise _Stop(
                S.REGISTRY_ERROR, f"the token service of {host} ({realm_host}) sent no token"
            )
        return PullToken(token, expires_in)

    # -- one exchange ------------------------------------------------------------

    async def _get(
        self,
        host: str,
        url: str,
        authorization: str | None = None,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
    ) -> _Answer:
        """GET `url`, following same-origin redirects only, reading at most
        MAX_ANSWER_BYTES. `authorization` is sent to `url`'s origin and nowhere else."""
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers or {})
            if authorization:
                sent["authorization"] = authorization
            async with self._http().stream(method, url, headers=sent) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise _Stop(
                            S.REGISTRY_ERROR,
                            f"{host} sent an answer larger than {MAX_ANSWER_BYTES // 1024} KiB",
                        )
            if response.status_code not in _REDIRECTS:
                return _Answer(response.status_code, response.headers, bytes(body), url)
            target = urljoin(url, response.headers.get("location", ""))
            if _origin(target) != origin:
                raise _Stop(
                    S.REGISTRY_ERROR,
                    f"{host} redirected to another host ({urlsplit(target).netloc[:64]}); "
                    "credentials are not sent there",
                )
            url = target
        raise _Stop(S.REGISTRY_ERROR, f"{host} redirected more than {MAX_REDIRECTS} times")

    def _failure(self, host: str, exc: BaseException) -> _Stop:
        """The state of an exchange that raised."""
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return _Stop(
                S.REGISTRY_UNREACHABLE, f"no answer from {host} within {self._timeout:g} s"
            )
        forbidden = _in_chain(exc, ForbiddenAddress)
        if forbidden is not None:
            return _Stop(
                S.ADDRESS_FORBIDDEN,
                f"{forbidden.host} resolves to {forbidden.address}, an address this service "
                "does not call (loopback, private or link-local); an operator can allow it "
                "with EXTREPO_REGISTRY_ALLOW",
            )
        if _in_chain(exc, ssl.SSLError) is not None:
            return _Stop(
                S.TLS_ERROR,
                f"TLS with {host} failed: its certificate is not valid for it or not trusted",
            )
        if isinstance(exc, httpx.ConnectError):
            return _Stop(S.REGISTRY_UNREACHABLE, f"cannot connect to {host}")
        if isinstance(exc, httpx.HTTPError):
            return _Stop(
                S.REGISTRY_UNREACHABLE, f"{host} broke the exchange ({type(exc).__name__})"
            )
        raise exc


def _pull_error(stop: _Stop) -> DomainError:
    if stop.state is S.CREDENTIALS_REJECTED:
        return FailedPrecondition(
            f"cannot get pull access: {stop.reason}; update the stored credentials",
            reason=stop.state.name,
        )
    if stop.state is S.ADDRESS_FORBIDDEN:
        return FailedPrecondition(stop.reason, reason=stop.state.name)
    return Unavailable(
        f"cannot get pull access now: {stop.reason}; retry later", reason=stop.state.name
    )


def _basic(credentials: PullCredentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _outcome(state: VerificationState, reason: str) -> Verification:
    return Verification(state, datetime.now(UTC), reason[:300])


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.rpartition("@")[2].lower()


def _classify(host: str, answer: _Answer) -> RegistryPing:
    speaks_v2 = answer.headers.get(_API_VERSION_HEADER, "").startswith("registry/2.")
    if answer.status == 200:
        if speaks_v2:
            return RegistryPing(RegistryPingOutcome.OPEN, f"{host} needs no credentials")
        return RegistryPing(
            RegistryPingOutcome.NOT_A_REGISTRY,
            f"{host} answered /v2/ without the Docker-Distribution-API-Version header",
        )
    if answer.status == 401:
        challenge = parse_challenge(answer.headers.get("www-authenticate", ""))
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
        RegistryPingOutcome.NOT_A_REGISTRY, f"{host} answered /v2/ with HTTP {answer.status}"
    )


def _in_chain(exc: BaseException, kind: type) -> BaseException | None:
    """The first exception of `kind` in `exc`'s chain: httpx wraps httpcore's
    errors, which wrap the ssl module's (or our backend's)."""
    seen: BaseException | None = exc
    depth = 0
    while seen is not None and depth < 20:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return None
