"""The one place where domain errors become gRPC statuses.

Each status carries a google.rpc.Status in the `grpc-status-details-bin` trailer;
INVALID_ARGUMENT adds a google.rpc.BadRequest with one field violation per bad field;
RESOURCE_EXHAUSTED a google.rpc.RetryInfo saying when to retry (the gateway's Retry-After).
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


def status_code_of(error: errors.DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def rich_status(code: grpc.StatusCode, message: str, error: Exception | None) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
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
    elif isinstance(error, errors.ResourceExhausted):
        retry_info = error_details_pb2.RetryInfo()
        retry_info.retry_delay.seconds = error.retry_after_seconds
        detail = any_pb2.Any()
        detail.Pack(retry_info)
        status.details.append(detail)
    return status
