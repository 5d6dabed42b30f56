"""Walking a listing page by page.

`next_request` is the one place that knows how the server says where the next page
is: ListResponse.next_page_token (ListRegistriesResponse's likewise), the next page's
cursor for gRPC callers, sent back as the request's cursor with its filters and limit.
REST callers follow `meta.next` instead, which carries the same cursor in a path.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar


class _PageRequest(Protocol):
    """pb.ListRequest and registry_pb.ListRegistriesRequest alike."""

    cursor: str
    offset: int

    def CopyFrom(self, other_msg: Any, /) -> None: ...


_Request = TypeVar("_Request", bound=_PageRequest)


def next_request(request: _Request, response: Any) -> _Request | None:
    """The request for the page after `response` (a ListResponse or a
    ListRegistriesResponse), or None when it was the last."""
    if not response.next_page_token:
        return None
    following = type(request)()
    following.CopyFrom(request)
    following.cursor = response.next_page_token
    # The offset the cursor carries (0 would do too): stated, so that a request
    # log reads as the pages it walks.
    following.offset = response.meta.offset + len(response.objects)
    return following
