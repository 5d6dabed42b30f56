"""Conversion between domain views and extrepo.v1 messages."""

from __future__ import annotations

from extrepo.v1 import repository_service_pb2 as pb
from google.protobuf import timestamp_pb2, wrappers_pb2

from ..domain.catalog import Page, RepositoryView


def repository(view: RepositoryView) -> pb.Repository:
    created = timestamp_pb2.Timestamp()
    created.FromDatetime(view.created_at)
    updated = timestamp_pb2.Timestamp()
    updated.FromDatetime(view.updated_at)
    return pb.Repository(
        name=view.name,
        in_use=view.in_use,
        registry=view.registry,
        resource_uri=view.resource_uri,
        namespace=view.namespace,
        create_time=created,
        update_time=updated,
    )


def list_response(page: Page) -> pb.ListResponse:
    meta = pb.ListMeta(limit=page.limit, offset=page.offset, total_count=page.total_count)
    if page.next is not None:
        meta.next.CopyFrom(wrappers_pb2.StringValue(value=page.next))
    if page.previous is not None:
        meta.previous.CopyFrom(wrappers_pb2.StringValue(value=page.previous))
    return pb.ListResponse(meta=meta, objects=[repository(v) for v in page.objects])
