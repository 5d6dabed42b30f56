"""Walking a listing page by page.

`next_request` is the one place that knows how the server says where the next page
is: ListResponse.next_page_token, the next page's cursor for gRPC callers, sent back
as the request's cursor with its filters and limit.
REST callers follow `meta.next` instead, which carries the same cursor in a path.
"""

from __future__ import annotations

from .v1 import repository_service_pb2 as pb


def next_request(request: pb.ListRequest, response: pb.ListResponse) -> pb.ListRequest | None:
    """The request for the page after `response`, or None when it was the last."""
    if not response.next_page_token:
        return None
    following = pb.ListRequest()
    following.CopyFrom(request)
    following.cursor = response.next_page_token
    # The offset the cursor carries (0 would do too): stated, so that a request
    # log reads as the pages it walks.
    following.offset = response.meta.offset + len(response.objects)
    return following
