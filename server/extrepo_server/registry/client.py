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
import http.cookiejar
import json
import logging
import math
import ssl
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

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
from ..observability import tracing
from ..observability.metrics import record_check
from .addresses import AddressPolicy, ForbiddenAddress, PinnedBackend
from .bodies import ACCEPT_ENCODING, AnswerTooLarge, UnreadableEncoding, read_capped
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
# A token's lifetime when its service names none or an unusable one (the token spec's
# default), and the longest one believed (a token is only ever cached that long).
DEFAULT_TOKEN_SECONDS = 60
MAX_TOKEN_SECONDS = 24 * 3600

S = VerificationState
log = logging.getLogger("extrepo.registry")


# What a check's failure state means for a ping: anything the answer itself
# condemned (not a registry, a server error, a redirect away) is NOT_A_REGISTRY.
_NOT_A_REGISTRY = RegistryPingOutcome.NOT_A_REGISTRY
_PING_OUTCOME = {
    S.REGISTRY_UNREACHABLE: RegistryPingOutcome.UNREACHABLE,
    S.TLS_ERROR: RegistryPingOutcome.TLS_ERROR,
}


class _Stop(Exception):
    """Ends a check with a state and a reason a user can read (never a credential),
    raised from deep in the exchange."""

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
    """A bearer token from a registry's token service, scoped to one repository's
    pull, and its lifetime (the service's `expires_in`, from when it answered)."""

    token: str = field(repr=False)
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
            # httpx 0.28 takes no network backend (upstream PR encode/httpx#3749 adds
            # one); its pool is httpcore's, which does. Rebuilt with the same TLS
            # context and the pinning backend (addresses.py). httpx is pinned, and
            # tests/registry/test_check.py (loopback refused, no connection made)
            # fails if an upgrade stops this pool from being the one used.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=context,
                max_connections=100,
                max_keepalive_connections=20,
                keepalive_expiry=5.0,
                network_backend=PinnedBackend(self._policy),
            )
            self._client = httpx.AsyncClient(
                # With tracing on, each request is a client span and carries traceparent.
                transport=tracing.http_transport(transport),
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={"user-agent": _USER_AGENT, "accept-encoding": ACCEPT_ENCODING},
                cookies=_no_cookies(),
                trust_env=False,  # never a proxy or a .netrc from the server's environment
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
        to authenticate (the first step of `check`). Never raises for what the
        registry or the network does."""
        try:
            async with asyncio.timeout(self._timeout):
                challenge = await self._challenge(host, {})
        except _Stop as stop:
            return RegistryPing(_PING_OUTCOME.get(stop.state, _NOT_A_REGISTRY), stop.reason)
        except Exception as exc:
            # No answer to judge (a refused address included): unreachable, as before.
            stop = self._failure(host, exc)
            outcome = _PING_OUTCOME.get(stop.state, RegistryPingOutcome.UNREACHABLE)
            return RegistryPing(outcome, stop.reason)
        if challenge is None:
            return RegistryPing(RegistryPingOutcome.OPEN, f"{host} needs no credentials")
        return RegistryPing(
            RegistryPingOutcome.AUTH_REQUIRED,
            f"{host} asks for {challenge.scheme} authentication",
            challenge,
        )

    async def check(self, host: str, path: str, credentials: PullCredentials) -> RegistryCheck:
        """Whether `credentials` may pull `host/path`. Never raises for what the
        registry, the network or the address policy does."""
        # With tracing on, a span over the check's requests (a Create's, or a
        # background re-check's own trace).
        attributes = {"extrepo.registry.host": host, "extrepo.repository.path": path}
        with tracing.span("registry check", attributes) as span:
            result = await self._checked(host, path, credentials)
            span.set_attribute("extrepo.verification.state", result.verification.state.name)
            return result

    async def _checked(self, host: str, path: str, credentials: PullCredentials) -> RegistryCheck:
        facts: dict = {}
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                verification = await self._check(host, path, credentials, facts)
        except _Stop as stop:
            verification = _outcome(stop.state, stop.reason)
        except Exception as exc:
            stop = self._failure(host, exc)
            verification = _outcome(stop.state, stop.reason)
        record_check(host, verification.state.name, time.perf_counter() - started)
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
        challenge = await self._challenge(host, facts)

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
        if not facts["api_version"]:
            facts["api_version"] = tags.headers.get(_API_VERSION_HEADER, "")[:64]
        if tags.status == 404 and not facts["api_version"] and not tags.error_codes():
            # A web site behind Basic auth passes /v2/ with the credentials; only a
            # registry error body or the API header tells a registry's 404.
            raise _Stop(
                S.NOT_A_REGISTRY,
                f"{host} answered neither /v2/ nor tags/list as a registry "
                "(no Docker-Distribution-API-Version header, no registry error)",
            )
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
        raise _Stop(S.REGISTRY_ERROR, f"{host} answered tags/list with HTTP {tags.status}")

    async def _challenge(self, host: str, facts: dict) -> Challenge | None:
        """`GET /v2/`: the registry's Basic or Bearer challenge, or None when it lets
        anyone in. Records the API version and the scheme in `facts`."""
        ping = await self._get(host, f"{self.base_url(host)}/v2/")
        facts["api_version"] = ping.headers.get(_API_VERSION_HEADER, "")[:64]
        if ping.status == 200:
            if not facts["api_version"].startswith("registry/2."):
                raise _Stop(
                    S.NOT_A_REGISTRY,
                    f"{host} answered /v2/ without the Docker-Distribution-API-Version header",
                )
            facts["scheme"] = AuthScheme.NONE
            return None
        if ping.status == 401:
            challenge = parse_challenge(ping.headers.get("www-authenticate", ""))
            if challenge is None or challenge.scheme not in ("basic", "bearer"):
                raise _Stop(
                    S.NOT_A_REGISTRY,
                    f"{host} answered /v2/ with 401 but no Basic or Bearer challenge",
                )
            facts["scheme"] = AuthScheme.BASIC if challenge.scheme == "basic" else AuthScheme.BEARER
            return challenge
        if ping.status >= 500:
            raise _Stop(S.REGISTRY_ERROR, f"{host} answered /v2/ with HTTP {ping.status}")
        raise _Stop(S.NOT_A_REGISTRY, f"{host} answered /v2/ with HTTP {ping.status}")

    async def pull_access(self, host: str, path: str, credentials: PullCredentials) -> PullAccess:
        """What a runtime needs to pull `host/path`: a token from the registry's
        token flow, the credentials themselves for a Basic registry, or nothing for
        an open one. FailedPrecondition if the registry refuses the credentials,
        Unavailable if it cannot be asked."""
        try:
            async with asyncio.timeout(self._timeout):
                challenge = await self._challenge(host, {})
                if challenge is None:
                    return PullAccess(PullKind.ANONYMOUS)
                if challenge.scheme == "basic":
                    return PullAccess(PullKind.PASSWORD)
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
        try:
            parts = urlsplit(realm)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            parts = urlsplit("")
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
        # Userinfo in a realm URL would make httpx send it instead of the credentials.
        realm = urlunsplit(parts._replace(netloc=realm_host))
        query = {"scope": f"repository:{path}:pull"}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        separator = "&" if parts.query else "?"
        authorization = _basic(credentials)
        service = f"the token service of {host} ({realm_host})"
        answer = await self._get(service, f"{realm}{separator}{urlencode(query)}", authorization)
        if answer.status in (401, 403):
            refused = f"{service} refused the username and password"
            raise _Stop(S.CREDENTIALS_REJECTED, refused)
        if answer.status != 200:
            raise _Stop(S.REGISTRY_ERROR, f"{service} answered HTTP {answer.status}")
        try:
            document = json.loads(answer.body)
            token = document.get("token") or document.get("access_token")
        except (ValueError, AttributeError, TypeError):
            document, token = {}, None
        if not _usable_token(token):
            raise _Stop(S.REGISTRY_ERROR, f"{service} sent no token")
        return PullToken(token, _lifetime(document.get("expires_in")))

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
        """`method` `url`, following same-origin redirects only, reading at most
        MAX_ANSWER_BYTES. `authorization` is sent to `url`'s origin and nowhere else.
        `host` names the server in reasons (the registry, or its token service):
        whatever the exchange raises ends as _Stop naming it."""
        try:
            return await self._exchange(host, url, authorization, method, headers or {})
        except _Stop:
            raise
        except Exception as exc:
            raise self._failure(host, exc) from None

    async def _exchange(
        self,
        host: str,
        url: str,
        authorization: str | None,
        method: str,
        headers: dict[str, str],
    ) -> _Answer:
        origin = _origin(url)
        _check_port(host, url)
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers or {})
            if authorization:
                sent["authorization"] = authorization
            async with self._http().stream(method, url, headers=sent) as response:
                try:
                    body = await read_capped(response, MAX_ANSWER_BYTES)
                except AnswerTooLarge:
                    raise _Stop(
                        S.REGISTRY_ERROR,
                        f"{host} sent an answer larger than {MAX_ANSWER_BYTES // 1024} KiB",
                    ) from None
                except UnreadableEncoding as unreadable:
                    raise _Stop(
                        S.REGISTRY_ERROR,
                        f"{host} sent an answer in a content encoding that cannot be read "
                        f"({unreadable.encoding})",
                    ) from None
            if response.status_code not in _REDIRECTS:
                return _Answer(response.status_code, response.headers, body, url)
            try:
                target = urljoin(url, response.headers.get("location", ""))
            except ValueError:
                raise _Stop(S.REGISTRY_ERROR, f"{host} redirected to an unusable URL") from None
            if _origin(target) != origin:
                raise _Stop(
                    S.REGISTRY_ERROR,
                    f"{host} redirected to another host ({urlsplit(target).netloc[:64]}); "
                    "credentials are not sent there",
                )
            # Without userinfo: httpx would send it in place of `authorization`.
            moved = urlsplit(target)
            url = urlunsplit(moved._replace(netloc=moved.netloc.rpartition("@")[2]))
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
                f"{host} is at {forbidden.address}, an address this service "
                "does not call (loopback, private or link-local); an operator can allow it "
                "with EXTREPO_REGISTRY_ALLOW",
            )
        if _in_chain(exc, httpx.InvalidURL) is not None or isinstance(exc, ValueError):
            # A realm or a redirect's Location that does not parse as a URL.
            return _Stop(S.REGISTRY_ERROR, f"{host} sent an address that is not a usable URL")
        if _in_chain(exc, ssl.SSLError) is not None:
            return _Stop(
                S.TLS_ERROR,
                f"TLS with {host} failed: its certificate is not valid for it or not trusted",
            )
        if isinstance(exc, httpx.ConnectError):
            return _Stop(S.REGISTRY_UNREACHABLE, f"cannot connect to {host}")
        if isinstance(exc, httpx.HTTPError):
            # The connection closed early, or what came was not HTTP.
            return _Stop(S.REGISTRY_UNREACHABLE, f"{host} broke off the exchange")
        # Nothing a registry does should get here; if it does, the caller still gets a
        # state, and the log says where (the type and place only: an exception's text
        # can quote what was sent).
        frame = traceback.extract_tb(exc.__traceback__)[-1:] or [None]
        where = f"{frame[0].filename}:{frame[0].lineno}" if frame[0] else "?"
        log.warning("registry exchange with %s ended by %s at %s", host, type(exc).__name__, where)
        return _Stop(S.REGISTRY_ERROR, f"the exchange with {host} failed")


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that keeps no cookie. The client is shared by every check: a session
    cookie one check earned (Nexus and Artifactory set one after Basic auth) would
    authenticate the next check to that host, perhaps another user's with a wrong
    password."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _usable_token(token: object) -> bool:
    """A bearer token is printable ASCII without spaces (RFC 6750 b64token; JWTs are):
    anything else cannot go into an Authorization header as it is."""
    return (
        isinstance(token, str)
        and len(token) > 0
        and token.isascii()
        and token.isprintable()
        and " " not in token
    )


def _lifetime(expires_in: object) -> int:
    """A token answer's `expires_in`, in seconds, within [1, MAX_TOKEN_SECONDS];
    the spec's default where it is absent or not a finite number."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return DEFAULT_TOKEN_SECONDS
    if not math.isfinite(expires_in) or expires_in < 1:
        return DEFAULT_TOKEN_SECONDS
    return int(min(expires_in, MAX_TOKEN_SECONDS))


def _check_port(host: str, url: str) -> None:
    """_Stop for a URL whose port no connection can use (a realm naming :99999)."""
    try:
        port = urlsplit(url).port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise _Stop(S.REGISTRY_ERROR, f"{host} sent an address that is not a usable URL")


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
