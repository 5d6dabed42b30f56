"""One interceptor around every call: authentication, error mapping, a log line.

Every call must authenticate, whatever its service, except calls to the services
named open when the interceptor is made (health and reflection, as probes and
grpcurl expect): a service added later is closed unless someone opens it on
purpose. Wrapped handlers are built once per method and reused, so the per-call
cost is one dictionary lookup plus the work itself.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable

import grpc

from ..domain.access import Principal
from ..domain.errors import DomainError, NamespaceGone
from ..security.authentication import Authenticator
from .status import STATUS_DETAILS_KEY, rich_status, status_code_of

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("current_principal")

call_log = logging.getLogger("extrepo.call")
error_log = logging.getLogger("extrepo.error")


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item[0] == key:
            return item[1]
    return None


def _origin_of(context: grpc.aio.ServicerContext):
    """Where a call comes from, for the throttle of failed authentication; asked
    only when the caller's principal is not cached."""
    return lambda: (context.peer(), _metadata_value(context, "x-forwarded-for"))


def service_of(method: str) -> str:
    """`extrepo.v1.RepositoryService` of `/extrepo.v1.RepositoryService/Get`."""
    return method.split("/")[1] if method.count("/") == 2 else ""


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator, *, open_services: frozenset[str]) -> None:
        self._authenticator = authenticator
        self._open_services = open_services
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
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._wrap(method, handler.unary_unary, authenticated=authenticated),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        elif authenticated:
            wrapped = self._authenticate_stream(handler)
        else:
            wrapped = handler  # open streaming calls (health Watch, reflection) pass untouched
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(
        self, method: str, behavior: Callable[..., Awaitable], *, authenticated: bool
    ) -> Callable[..., Awaitable]:
        authenticate = self._authenticator.authenticate

        async def call(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            caller = "-"
            code = grpc.StatusCode.OK
            principal = None
            try:
                if authenticated:
                    principal = authenticate(
                        _metadata_value(context, "authorization"), _origin_of(context)
                    )
                    caller = principal.username
                    current_principal.set(principal)
                return await behavior(request, context)
            except DomainError as error:
                if isinstance(error, NamespaceGone):  # its account was deleted meanwhile
                    error = self._authenticator.namespace_gone(error, principal)
                code = status_code_of(error)
                await _abort(context, code, error.message, error)
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                error_log.exception("unexpected error in %s", method)
                await _abort(context, code, "internal error; the server log has the details", None)
            finally:
                call_log.info(
                    "call",
                    extra={
                        "method": method,
                        "code": code.name,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "caller": caller,
                        "peer": context.peer(),
                    },
                )

        return call

    def _authenticate_stream(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """A streaming handler that authenticates before it starts. None of extrepo's
        own services streams yet; this keeps a streaming RPC added later from being
        served to anyone."""
        authenticate = self._authenticator.authenticate

        async def check(context: grpc.aio.ServicerContext) -> None:
            try:
                current_principal.set(
                    authenticate(_metadata_value(context, "authorization"), _origin_of(context))
                )
            except DomainError as error:
                await _abort(context, status_code_of(error), error.message, error)

        def guarded(behavior, *, streams_out: bool):
            if streams_out:

                async def stream_out(request_or_iterator, context):
                    await check(context)
                    responses = behavior(request_or_iterator, context)
                    if hasattr(responses, "__aiter__"):
                        async for response in responses:
                            yield response
                    else:  # a coroutine that writes with context.write()
                        await responses

                return stream_out

            async def single_out(request_iterator, context):
                await check(context)
                return await behavior(request_iterator, context)

            return single_out

        kinds = {
            "unary_stream": grpc.unary_stream_rpc_method_handler,
            "stream_unary": grpc.stream_unary_rpc_method_handler,
            "stream_stream": grpc.stream_stream_rpc_method_handler,
        }
        for kind, make in kinds.items():
            behavior = getattr(handler, kind)
            if behavior is not None:
                return make(
                    guarded(behavior, streams_out=kind != "stream_unary"),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        raise ValueError("a method handler with no behaviour")


async def _abort(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    error: Exception | None,
) -> None:
    details = rich_status(code, message, error).SerializeToString()
    await context.abort(code, message, trailing_metadata=((STATUS_DETAILS_KEY, details),))
