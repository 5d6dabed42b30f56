"""Conversion between domain views and extrepo.v1 messages."""

from __future__ import annotations

from datetime import datetime

from extrepo.v1 import repository_service_pb2 as pb
from google.protobuf import timestamp_pb2, wrappers_pb2

from ..domain.catalog import Page, RepositoryView


def _timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    # Four times cheaper than Timestamp.FromDatetime, and this runs twice per answer.
    return timestamp_pb2.Timestamp(seconds=int(value.timestamp()), nanos=value.microsecond * 1000)


def repository(view: RepositoryView) -> pb.Repository:
    return pb.Repository(
        name=view.name,
        in_use=view.in_use,
        registry=view.registry,
        resource_uri=view.resource_uri,
        namespace=view.namespace,
        create_time=_timestamp(view.created_at),
        update_time=_timestamp(view.updated_at),
    )


def list_response(page: Page) -> pb.ListResponse:
    meta = pb.ListMeta(limit=page.limit, offset=page.offset, total_count=page.total_count)
    if page.next is not None:
        meta.next.CopyFrom(wrappers_pb2.StringValue(value=page.next))
    if page.previous is not None:
        meta.previous.CopyFrom(wrappers_pb2.StringValue(value=page.previous))
    return pb.ListResponse(meta=meta, objects=[repository(v) for v in page.objects])
