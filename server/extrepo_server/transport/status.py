"""The one place where domain errors become gRPC statuses.

Each status carries a google.rpc.Status in the `grpc-status-details-bin` trailer;
INVALID_ARGUMENT adds a google.rpc.BadRequest with one field violation per bad field,
an error that knows when a retry makes sense (RESOURCE_EXHAUSTED, a database lock) a
google.rpc.RetryInfo (the gateway's Retry-After), and an error with a reason a
google.rpc.ErrorInfo.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from ..domain import errors

_CODES: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}

STATUS_DETAILS_KEY = "grpc-status-details-bin"
# google.rpc.ErrorInfo's domain for every reason this server gives.
ERROR_DOMAIN = "extrepo.io"


def status_code_of(error: errors.DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def rich_status(
    code: grpc.StatusCode,
    message: str,
    error: Exception | None,
    *,
    reason: str | None = None,
    request_id: str = "",
) -> status_pb2.Status:
    """The google.rpc.Status of an error. An error with a `reason` (or the `reason`
    given) carries a google.rpc.ErrorInfo in the extrepo.io domain: the machine-readable
    cause, and the sign that the message is this server's own (the gateway shows it;
    a gRPC library's own UNAVAILABLE text, naming addresses, it does not)."""
    status = status_pb2.Status(code=code.value[0], message=message)
    reason = reason or getattr(error, "reason", None)
    if reason is not None:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.ErrorInfo(
                reason=reason,
                domain=ERROR_DOMAIN,
                metadata=getattr(error, "metadata", None) or {},
            )
        )
        status.details.append(detail)
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        retry_info = error_details_pb2.RetryInfo()
        retry_info.retry_delay.FromMilliseconds(int(retry_after * 1000))
        detail = any_pb2.Any()
        detail.Pack(retry_info)
        status.details.append(detail)
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    if request_id:  # last: clients that read the first detail find what they did before
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RequestInfo(request_id=request_id))
        status.details.append(detail)
    return status
