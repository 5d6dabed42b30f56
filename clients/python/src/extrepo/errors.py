"""Typed exceptions for the server's answers, read from the gRPC status and its details.

The server puts a google.rpc.Status in the `grpc-status-details-bin` trailer;
grpcio-status decodes it. INVALID_ARGUMENT carries a google.rpc.BadRequest (one
field violation per bad field), a retryable refusal a google.rpc.RetryInfo.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

# Neither ships type information (googleapis-common-protos has no py.typed).
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status  # type: ignore[import-untyped]


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, as the server named it: `field` and why."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}"


class ExtrepoError(Exception):
    """Base of every error of this package.

    `code` is the gRPC status code (None for an error raised before any call),
    `message` the server's message, `field_violations` the bad fields of an
    INVALID_ARGUMENT, and `retry_delay` (seconds) the server's hint for when a
    retry makes sense, if it gave one.
    """

    code: grpc.StatusCode | None = None

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
        retry_delay: float | None = None,
        from_server: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field_violations = field_violations
        self.retry_delay = retry_delay
        # True when the server itself answered with a google.rpc.Status (as opposed
        # to the client library failing to reach it).
        self.from_server = from_server


class ConfigError(ExtrepoError):
    """The client is missing a setting (credentials) or one is malformed."""


class NotFound(ExtrepoError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ExtrepoError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(ExtrepoError):
    """The request was refused; `field_violations` says which fields and why."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(ExtrepoError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ExtrepoError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(ExtrepoError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ExtrepoError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ExtrepoError):
    """The server could not be reached, or cannot serve now; retrying later may work.

    Reads (Get, List) were already retried with backoff before this was raised."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ExtrepoError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


# The original SDK's names, for code written against it.
ApiError = ExtrepoError
AuthError = Unauthenticated
ObjectNotFound = NotFound

_BY_CODE: dict[grpc.StatusCode, type[ExtrepoError]] = {
    cls.code: cls
    for cls in (
        NotFound,
        AlreadyExists,
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        FailedPrecondition,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
    )
    if cls.code is not None
}


def from_rpc_error(error: grpc.RpcError) -> ExtrepoError:
    """The typed exception for a failed call (sync or asyncio)."""
    call: grpc.Call = error  # type: ignore[assignment]  # every RpcError raised by a call is one
    code = call.code()
    message = call.details() or code.name
    violations: list[FieldViolation] = []
    retry_delay = None
    try:
        status = rpc_status.from_call(call)
    except ValueError:  # a trailer that does not match the call's status: ignore it
        status = None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations += [
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            ]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry_info = error_details_pb2.RetryInfo()
            detail.Unpack(retry_info)
            retry_delay = retry_info.retry_delay.ToTimedelta().total_seconds()
    cls = _BY_CODE.get(code, ExtrepoError)
    return cls(
        message,
        code=code,
        field_violations=tuple(violations),
        retry_delay=retry_delay,
        from_server=status is not None,
    )
