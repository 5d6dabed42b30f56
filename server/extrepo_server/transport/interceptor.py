"""One interceptor around every unary call: authentication, error mapping, a log line.

Calls to RepositoryService must authenticate; the health and reflection services are
open, as probes and grpcurl expect. Wrapped handlers are built once per method and
reused, so the per-call cost is one dictionary lookup plus the work itself.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable

import grpc

from ..domain.access import Principal
from ..domain.errors import DomainError
from ..security.authentication import Authenticator
from .status import STATUS_DETAILS_KEY, rich_status, status_code_of

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("current_principal")

call_log = logging.getLogger("extrepo.call")
error_log = logging.getLogger("extrepo.error")

AUTHENTICATED_PREFIX = "/extrepo.v1.RepositoryService/"


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item[0] == key:
            return item[1]
    return None


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # streaming calls (health Watch, reflection) pass untouched
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, behavior: Callable[..., Awaitable]) -> Callable[..., Awaitable]:
        authenticated = method.startswith(AUTHENTICATED_PREFIX)
        authenticate = self._authenticator.authenticate

        async def call(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            caller = "-"
            code = grpc.StatusCode.OK
            try:
                if authenticated:
                    principal = authenticate(_metadata_value(context, "authorization"))
                    caller = principal.username
                    current_principal.set(principal)
                return await behavior(request, context)
            except DomainError as error:
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


async def _abort(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    error: Exception | None,
) -> None:
    details = rich_status(code, message, error).SerializeToString()
    await context.abort(code, message, trailing_metadata=((STATUS_DETAILS_KEY, details),))
