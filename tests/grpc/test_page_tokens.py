"""Paging for gRPC callers: ListResponse.next_page_token, sent back as the cursor
alone, walks a listing page by page, with its filters, to an empty token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc

from tests.support.api import basic_authorization


@pytest.fixture
def lister(grpc_channel, new_user):
    user = new_user("pager")
    stub = pb_grpc.RepositoryServiceStub(grpc_channel)
    metadata = (("authorization", basic_authorization(user.name, user.api_key)),)
    names = sorted(f"reg{i % 2}.example.com/app{i:02d}" for i in range(11))
    for name in names:
        stub.Create(pb.CreateRequest(name=name, username="u", password="p"), metadata=metadata)

    def call(**fields) -> pb.ListResponse:
        return stub.List(pb.ListRequest(**fields), metadata=metadata, timeout=10)

    return call, names


def test_next_page_token_walks_every_page(lister):
    call, names = lister
    seen, token, pages = [], "", 0
    while True:
        page = call(limit=4, cursor=token)
        pages += 1
        seen += [o.name for o in page.objects]
        if page.meta.HasField("next"):
            # The token is the cursor that meta.next carries.
            query = parse_qs(urlsplit(page.meta.next.value).query)
            assert page.next_page_token == query["cursor"][0]
        token = page.next_page_token
        if not token:
            break
    assert seen == names and pages == 3
    assert not page.meta.HasField("next")


def test_a_token_keeps_its_filters_and_knows_its_offset(lister):
    call, names = lister
    first = call(limit=2, registry="reg1.example.com")
    second = call(limit=2, registry="reg1.example.com", cursor=first.next_page_token)
    on_host = [n for n in names if n.startswith("reg1.")]
    assert [o.name for o in second.objects] == on_host[2:4]
    assert second.meta.offset == 2
    with pytest.raises(grpc.RpcError) as caught:
        call(limit=2, cursor=first.next_page_token)  # without the filter it belongs to
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
