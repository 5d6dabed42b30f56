"""Stopping the server without dropping a call it has accepted.

Why grpc's own `server.stop(grace)` is not enough: the aio server asks grpc core
for one call per method at a time, so under load most calls a client has sent sit
in core's queue of calls not yet handed to Python (the event loop is busy with
another call). `stop()` starts with core's grpc_server_shutdown_and_notify, which
kills that queue at once (Server::KillPendingWorkLocked -> ZombifyPending), and
kills every stream that reaches the server after it (CallData::StartNewRpc): the
clients see CANCELLED, whatever the grace period. The grace only covers calls
that Python had already picked up: with 16 clients, 12 to 14 were CANCELLED.

So the server stops in steps (`GracefulShutdown.run`), and lets grpc close the
port only when no call waits in core's queue and clients have stopped sending:

1. Health turns NOT_SERVING for every service (Check, and Watch streams at once),
   and every call is still served for `drain_seconds`: the time a load balancer
   or a health-checking client takes to send its calls elsewhere.
2. Then every new API call is refused with UNAVAILABLE, a real answer that says
   the call was not carried out, while calls already accepted finish; health and
   reflection still answer. A refusal is held (not answered) until the port is
   closed, or until just before the call's deadline: a client waiting for its
   answer sends nothing else, so once each has a call held, nothing arrives.
3. Once no API call has arrived for QUIET_SECONDS (or after REFUSE_AT_MOST_SECONDS,
   for clients that send without waiting for answers), health Watch streams end
   (OK), grpc's stop closes the port, the held refusals are answered, and the
   calls still running may finish for what is left of `grace_seconds` (counted
   from step 2); grpc cancels any left after that.

A second SIGTERM/SIGINT skips what is left of steps 1 and 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import grpc
from grpc_health.v1 import health

from .interceptor import handler_like, service_of
from .status import STATUS_DETAILS_KEY, rich_status

log = logging.getLogger("extrepo.server")

REFUSAL_MESSAGE = "the server is shutting down; retry the call (it was not carried out)"
# Clients have stopped sending once no call has arrived for this long.
QUIET_SECONDS = 0.1
# Clients that send without waiting for answers never go quiet: close anyway.
REFUSE_AT_MOST_SECONDS = 1.0
# A held refusal is answered this long before the call's deadline, so that the
# client reads UNAVAILABLE rather than DEADLINE_EXCEEDED.
DEADLINE_MARGIN_SECONDS = 0.05


class ShutdownGate(grpc.aio.ServerInterceptor):
    """Refuses new calls to the API's services with UNAVAILABLE once `refuse()` is
    called (held until `release()`); until then it only passes calls on.

    It sits inside the CallInterceptor, so a refused call is authenticated, logged
    and answered like any other failed call."""

    def __init__(self, *, open_services: frozenset[str]) -> None:
        self._open_services = open_services
        self._refusing = False
        self._released = asyncio.Event()
        self._refusals: dict[str, grpc.RpcMethodHandler] = {}
        self._details = rich_status(
            grpc.StatusCode.UNAVAILABLE, REFUSAL_MESSAGE, None, reason="SHUTTING_DOWN"
        ).SerializeToString()
        self.refused = 0
        self.last_arrival = 0.0

    def refuse(self) -> None:
        self._refusing = True
        self.last_arrival = time.monotonic()

    def release(self) -> None:
        """Answer the held refusals (and every later one at once)."""
        self._released.set()

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if not self._refusing or handler is None:
            return handler
        method = handler_call_details.method
        if service_of(method) in self._open_services:
            return handler
        self.refused += 1
        self.last_arrival = time.monotonic()
        refusal = self._refusals.get(method)
        if refusal is None:
            # One handler per method, so the CallInterceptor wraps it once.
            refusal = self._refusals[method] = self._refusal_like(handler)
        return refusal

    def _refusal_like(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """A handler of the same kind as `handler` that answers UNAVAILABLE once
        released, without reading the request (it is left undecoded)."""
        details = self._details
        released = self._released

        async def refuse(request_or_iterator, context: grpc.aio.ServicerContext):
            if not released.is_set():
                remaining = context.time_remaining()
                hold = None if remaining is None else remaining - DEADLINE_MARGIN_SECONDS
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(released.wait(), hold)
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                REFUSAL_MESSAGE,
                trailing_metadata=((STATUS_DETAILS_KEY, details),),
            )

        return handler_like(handler)(refuse, response_serializer=handler.response_serializer)


class HealthServicer(health.aio.HealthServicer):
    """grpc's health service, whose Watch streams end (with OK, after NOT_SERVING)
    when the server closes. grpc's own never end, so one watching client (a
    client-side load balancer does watch) held every stop for the whole grace
    period and then saw its stream cut."""

    def __init__(self) -> None:
        super().__init__()
        self._closed = asyncio.Event()

    def close(self) -> None:
        self._closed.set()

    async def Watch(self, request, context) -> None:
        watching = asyncio.ensure_future(super().Watch(request, context))
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((watching, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            closed.cancel()
        if watching.done() and not watching.cancelled():
            watching.result()  # an error of the stream itself is the call's error


class GracefulShutdown:
    """The steps of a stop (see the module's docstring), for one server."""

    def __init__(
        self,
        server: grpc.aio.Server,
        health_servicer: HealthServicer,
        gate: ShutdownGate,
        *,
        drain_seconds: float,
        grace_seconds: float,
    ) -> None:
        self.server = server
        self.health = health_servicer
        self.gate = gate
        self.drain_seconds = drain_seconds
        self.grace_seconds = grace_seconds
        self.hurry = asyncio.Event()

    async def run(self) -> None:
        started = time.monotonic()
        await self.health.enter_graceful_shutdown()
        log.info(
            "draining: health is NOT_SERVING, calls are still served",
            extra={"drain_seconds": self.drain_seconds},
        )
        await self._unless_hurried(self.drain_seconds)

        self.gate.refuse()
        refusing = time.monotonic()
        deadline = refusing + self.grace_seconds
        log.info("refusing new calls (UNAVAILABLE); calls in flight finish")
        quiet_by = refusing + min(REFUSE_AT_MOST_SECONDS, self.grace_seconds)
        while not self.hurry.is_set():
            wait = min(self.gate.last_arrival + QUIET_SECONDS, quiet_by) - time.monotonic()
            if wait <= 0:
                break
            await self._unless_hurried(wait)

        self.health.close()
        stopping = asyncio.ensure_future(self.server.stop(max(0.0, deadline - time.monotonic())))
        # One turn of the loop runs stop() up to its first wait, past core's
        # shutdown_and_notify: from then on core takes no new call, so the clients
        # whose refusals are answered now cannot send one that core would cancel.
        await asyncio.sleep(0)
        self.gate.release()
        await stopping
        log.info(
            "closed",
            extra={
                "refused_calls": self.gate.refused,
                "seconds": round(time.monotonic() - started, 3),
            },
        )

    async def _unless_hurried(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.hurry.wait(), seconds)
