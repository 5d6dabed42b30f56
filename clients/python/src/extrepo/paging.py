"""Walking a listing page by page.

`next_request` is the one place that knows how the server says where the next page
is. Today that is `meta.next`, a REST path whose query string holds the ListRequest
fields (filters, limit, offset and a keyset cursor); when ListResponse carries a plain
cursor for gRPC callers, only this function changes.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .v1 import repository_service_pb2 as pb

_STRING_FIELDS = ("name", "registry", "cursor")
_INT_FIELDS = ("limit", "offset")


def next_request(request: pb.ListRequest, response: pb.ListResponse) -> pb.ListRequest | None:
    """The request for the page after `response`, or None when it was the last."""
    if not response.meta.HasField("next") or not response.objects:
        return None
    query = parse_qs(urlsplit(response.meta.next.value).query)
    following = pb.ListRequest(namespace=request.namespace)
    for field in _STRING_FIELDS:
        if field in query:
            setattr(following, field, query[field][-1])
    for field in _INT_FIELDS:
        if field in query:
            setattr(following, field, int(query[field][-1]))
    return following
