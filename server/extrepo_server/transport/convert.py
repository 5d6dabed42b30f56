"""Conversion from domain records to extrepo.v1 messages.

Messages are filled in place, field by field: building sub-messages first and
passing them as keyword arguments makes protobuf copy each one into its parent,
which costs about three times as much (List fills 25 repositories per call).
"""

from __future__ import annotations

from datetime import datetime

from extrepo.v1 import repository_service_pb2 as pb
from google.protobuf import timestamp_pb2

from ..domain.catalog import Validation
from ..domain.paging import Page
from ..domain.ports import AuthScheme, Repository, Verification, VerificationState


def set_time(target: timestamp_pb2.Timestamp, value: datetime) -> None:
    # Four times cheaper than Timestamp.FromDatetime.
    target.seconds = int(value.timestamp())
    target.nanos = value.microsecond * 1000


# VerificationState -> Verification.State: the enum values share their names.
_STATE = {state: pb.Verification.State.Value(state.name) for state in VerificationState}


def fill_verification(target: pb.Verification, verification: Verification) -> None:
    target.state = _STATE[verification.state]
    if verification.checked_at is not None:
        set_time(target.check_time, verification.checked_at)
    target.reason = verification.reason


def fill_repository(target: pb.Repository, repository: Repository) -> None:
    target.name = repository.name
    target.in_use = repository.in_use
    target.registry = repository.registry
    target.resource_uri = repository.resource_uri
    target.namespace = repository.namespace
    set_time(target.create_time, repository.created_at)
    set_time(target.update_time, repository.updated_at)
    fill_verification(target.verification, repository.verification)


def fill_envelope(response, page: Page) -> None:
    """The original envelope's `meta`, and gRPC's `next_page_token`, of any listing
    response (ListResponse, ListRegistriesResponse)."""
    meta = response.meta
    meta.limit = page.limit
    meta.offset = page.offset
    meta.total_count = page.total_count
    if page.next is not None:
        meta.next.value = page.next
    if page.previous is not None:
        meta.previous.value = page.previous
    if page.next_cursor is not None:
        response.next_page_token = page.next_cursor


def list_response(page: Page[Repository]) -> pb.ListResponse:
    response = pb.ListResponse()
    fill_envelope(response, page)
    add = response.objects.add
    for repository in page.objects:
        fill_repository(add(), repository)
    return response


_AUTH_SCHEME = {
    None: pb.ValidateRepositoryResponse.AUTH_SCHEME_UNSPECIFIED,
    **{
        scheme: pb.ValidateRepositoryResponse.AuthScheme.Value(scheme.name) for scheme in AuthScheme
    },
}


def validate_response(validation: Validation) -> pb.ValidateRepositoryResponse:
    check = validation.check
    response = pb.ValidateRepositoryResponse(
        auth_scheme=_AUTH_SCHEME[check.auth_scheme],
        token_realm_host=check.token_realm_host,
        api_version=check.api_version,
        registry=validation.registry,
    )
    fill_verification(response.verification, check.verification)
    return response
