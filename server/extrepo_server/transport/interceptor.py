"""One interceptor around every call: authentication, error mapping, a log line.

Every call must authenticate, whatever its service, except calls to the services
named open when the interceptor is made (health and reflection, as probes and
grpcurl expect): a service added later is closed unless someone opens it on
purpose. Wrapped handlers are built once per method and reused, so the per-call
cost is one dictionary lookup plus the work itself.

Requests reach the wrapped handlers as bytes and are parsed inside them: grpc's own
deserialization runs before any interceptor code, where a corrupt body became
UNKNOWN with the parser's exception class in the answer and a traceback in the log.
Parsed here, after authentication, it is INVALID_ARGUMENT with a plain message and
the call's one log line; parsing costs what it cost in grpc.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

import grpc

from ..domain.access import Principal
from ..domain.audit import current_call
from ..domain.errors import DomainError, NamespaceGone
from ..domain.mesh import MeshPrincipal
from ..observability.metrics import CallMetrics
from ..security.authentication import Authenticator
from ..security.mesh import MeshAuthenticator
from .audit import ACTION_URI_KEY, AUDITED, CallAudit
from .status import STATUS_DETAILS_KEY, rich_status, status_code_of

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("current_principal")
# The caller on the internal listener: a mesh service (MeshInterceptor).
current_mesh_principal: contextvars.ContextVar[MeshPrincipal] = contextvars.ContextVar(
    "current_mesh_principal"
)

# The call's request id: the caller's `x-request-id` if it is a sane one (the gateway
# sends the id it logged), else a new one. It comes back as `x-request-id` trailing
# metadata, is in the call's log line and in every error's google.rpc.RequestInfo.
# Trailing, not initial: sending initial metadata ahead of the response is a batch of
# its own in grpc's core, ~40 us of server CPU per call (same-run A/B, Get 348 ->
# 313 us); trailing metadata leaves with the status, in the call's last batch.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default=""
)
REQUEST_ID_KEY = "x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

call_log = logging.getLogger("extrepo.call")
error_log = logging.getLogger("extrepo.error")

MALFORMED_REQUEST = (
    "the request is not a valid protocol buffers encoding of this method's request "
    "message (corrupt or truncated); send it with a generated client or stub"
)


def _as_is(request: bytes) -> bytes:
    return request


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item[0] == key:
            return item[1]
    return None


def _origin_of(context: grpc.aio.ServicerContext):
    """Where a call comes from, for the throttle of failed authentication; asked
    only when the caller's principal is not cached."""
    return lambda: (context.peer(), _metadata_value(context, "x-forwarded-for"))


def handler_like(handler: grpc.RpcMethodHandler):
    """grpc's factory of method handlers of the same kind (unary or streaming, each
    way) as `handler`."""
    if handler.request_streaming:
        if handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler
        return grpc.stream_unary_rpc_method_handler
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler
    return grpc.unary_unary_rpc_method_handler


def service_of(method: str) -> str:
    """`extrepo.v1.RepositoryService` of `/extrepo.v1.RepositoryService/Get`."""
    return method.split("/")[1] if method.count("/") == 2 else ""


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        authenticator: Authenticator,
        *,
        open_services: frozenset[str],
        audit: CallAudit | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._open_services = open_services
        self._audit = audit
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # no such method: grpc answers UNIMPLEMENTED
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        authenticated = service_of(method) not in self._open_services
        parse = handler.request_deserializer or _as_is
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._wrap(method, handler.unary_unary, parse, authenticated=authenticated),
                request_deserializer=None,  # bytes: parsed in the call
                response_serializer=handler.response_serializer,
            )
        else:
            wrapped = self._wrap_stream(method, handler, parse, authenticated=authenticated)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _authenticate(self, context: grpc.aio.ServicerContext) -> tuple[Principal, str]:
        """The caller (set in its context variable) and its name for the call log."""
        principal = self._authenticator.authenticate(
            _metadata_value(context, "authorization"), _origin_of(context)
        )
        current_principal.set(principal)
        return principal, principal.username

    def _wrap(
        self,
        method: str,
        behavior: Callable[..., Awaitable],
        parse: Callable[[bytes], object],
        *,
        authenticated: bool,
    ) -> Callable[..., Awaitable]:
        authenticate = self._authenticate
        audit = self._audit
        audited = AUDITED.get(method) if audit is not None else None
        metrics = CallMetrics(method, "unary")
        count_start, in_flight = metrics.started.inc, metrics.in_flight
        observe, handled = metrics.seconds.observe, metrics.handled

        async def failed_entry_uri(code, error, principal, request) -> str:
            # A failed audited call's entry (transport/audit.py), "" when not audited.
            if audited is None:
                return ""
            return await audit.failed(audited, principal, request, code, error)

        async def call(body: bytes, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            count_start()
            in_flight.inc()
            request_id = _metadata_value(context, REQUEST_ID_KEY)
            if request_id is None or not _REQUEST_ID.fullmatch(request_id):
                request_id = secrets.token_hex(8)
            current_request_id.set(request_id)
            record = None
            if audited is not None:
                # What the call's audit entry needs from here (domain/audit.py).
                record = audit.begin(method, audited, context, request_id)
                current_call.set(record)
            caller = "-"
            code = grpc.StatusCode.OK
            principal = request = None
            try:
                if authenticated:
                    principal, caller = authenticate(context)
                try:
                    request = parse(body)
                except Exception:  # whatever the parser raises, the bytes were the caller's
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    await _abort(context, code, MALFORMED_REQUEST, None)
                response = await behavior(request, context)
                if record is not None and record.entry_uri:
                    context.set_trailing_metadata(
                        ((REQUEST_ID_KEY, request_id), (ACTION_URI_KEY, record.entry_uri))
                    )
                else:
                    context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
                return response
            except DomainError as error:
                if isinstance(error, NamespaceGone) and isinstance(principal, Principal):
                    # Its account was deleted meanwhile.
                    error = self._authenticator.namespace_gone(error, principal)
                code = status_code_of(error)
                action_uri = await failed_entry_uri(code, error, principal, request)
                await _abort(context, code, error.message, error, action_uri)
            except grpc.aio.AbortError:
                if code is grpc.StatusCode.OK:  # aborted by the servicer itself
                    code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                error_log.exception("unexpected error in %s", method)
                action_uri = await failed_entry_uri(code, None, principal, request)
                await _abort(
                    context,
                    code,
                    "internal error; the server log has the details",
                    None,
                    action_uri,
                )
            finally:
                elapsed = time.perf_counter() - started
                in_flight.dec()
                observe(elapsed)
                handled(code.name).inc()
                call_log.info(
                    "call",
                    extra={
                        "method": method,
                        "code": code.name,
                        "duration_ms": round(elapsed * 1000, 3),
                        "request_id": request_id,
                        "caller": caller,
                        "peer": context.peer(),
                    },
                )

        return call

    def _wrap_stream(
        self,
        method: str,
        handler: grpc.RpcMethodHandler,
        parse: Callable[[bytes], object],
        *,
        authenticated: bool,
    ) -> grpc.RpcMethodHandler:
        """A streaming handler that authenticates (unless its service is open) before
        it starts, and parses its requests itself. None of extrepo's own services
        streams yet; health's Watch and reflection do. Authentication keeps a
        streaming RPC added later from being served to anyone. A servicer that reads
        with context.read() instead of its request iterator gets bytes."""
        authenticate = self._authenticate

        async def check(context: grpc.aio.ServicerContext) -> None:
            if not authenticated:
                return
            try:
                authenticate(context)
            except DomainError as error:
                await _abort(context, status_code_of(error), error.message, error)

        async def parsed(body: bytes, context: grpc.aio.ServicerContext):
            try:
                return parse(body)
            except Exception:  # whatever the parser raises, the bytes were the caller's
                call_log.info(
                    "malformed request",
                    extra={"method": method, "code": "INVALID_ARGUMENT", "peer": context.peer()},
                )
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, MALFORMED_REQUEST, None)

        async def parsed_stream(bodies, context: grpc.aio.ServicerContext):
            async for body in bodies:
                yield await parsed(body, context)

        def guarded(behavior, *, streams_in: bool, streams_out: bool):
            async def requests(request_or_iterator, context):
                if streams_in:
                    return parsed_stream(request_or_iterator, context)
                return await parsed(request_or_iterator, context)

            if streams_out:

                async def stream_out(request_or_iterator, context):
                    await check(context)
                    responses = behavior(await requests(request_or_iterator, context), context)
                    if hasattr(responses, "__aiter__"):
                        async for response in responses:
                            yield response
                    else:  # a coroutine that writes with context.write()
                        await responses

                return stream_out

            async def single_out(request_iterator, context):
                await check(context)
                return await behavior(await requests(request_iterator, context), context)

            return single_out

        behavior = handler.unary_stream or handler.stream_unary or handler.stream_stream
        return handler_like(handler)(
            guarded(
                behavior,
                streams_in=handler.request_streaming,
                streams_out=handler.response_streaming,
            ),
            request_deserializer=None,  # bytes: parsed in the call
            response_serializer=handler.response_serializer,
        )


class MeshInterceptor(CallInterceptor):
    """The interceptor of the internal listener: callers are mesh services, known by
    their verified client certificate; an API key (`authorization`) means nothing
    here."""

    def __init__(
        self,
        authenticator: MeshAuthenticator,
        *,
        open_services: frozenset[str],
        audit: CallAudit | None = None,
    ) -> None:
        super().__init__(authenticator, open_services=open_services, audit=audit)  # type: ignore[arg-type]
        self._mesh = authenticator

    def _authenticate(self, context: grpc.aio.ServicerContext) -> tuple[MeshPrincipal, str]:
        principal = self._mesh.authenticate(context)
        current_mesh_principal.set(principal)
        return principal, principal.identity


async def _abort(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    error: Exception | None,
    action_uri: str = "",
) -> None:
    details = rich_status(
        code, message, error, request_id=current_request_id.get()
    ).SerializeToString()
    trailers: tuple[tuple[str, str | bytes], ...] = (
        (STATUS_DETAILS_KEY, details),
        (REQUEST_ID_KEY, current_request_id.get()),
    )
    if action_uri:
        trailers += ((ACTION_URI_KEY, action_uri),)
    await context.abort(code, message, trailing_metadata=trailers)
