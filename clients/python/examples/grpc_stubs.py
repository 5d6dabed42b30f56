"""The generated stubs alone, without the SDK: Basic credentials by hand, then
create, get, list, update and delete, and a NOT_FOUND."""

import base64
import os

import grpc

from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc

address = os.environ.get("EXTREPO_ADDRESS", "127.0.0.1:50051")
username = os.environ.get("EXTREPO_USERNAME", "alice")
api_key = os.environ.get("EXTREPO_API_KEY", "")

# Every call carries `authorization: Basic base64(username:apikey)`.
token = base64.b64encode(f"{username}:{api_key}".encode()).decode()
auth = (("authorization", f"Basic {token}"),)

with grpc.insecure_channel(address) as channel:
    client = pb_grpc.RepositoryServiceStub(channel)
    name = "registry.local/quickstart/py-app"

    created = client.Create(
        pb.CreateRequest(name=name, username="puller", password="s3cret"), metadata=auth
    ).repository
    print("created", created.resource_uri)

    got = client.Get(pb.GetRequest(name=name), metadata=auth).repository
    print("got", got.name, "in_use:", got.in_use)

    page = client.List(pb.ListRequest(name=name), metadata=auth)
    print("listed", page.meta.total_count, [r.name for r in page.objects])

    # Only the password changes: the username is not set, so it is kept.
    updated = client.Update(
        pb.UpdateRequest(name=name, password="n3w-s3cret"), metadata=auth
    ).repository
    print("updated", updated.name)

    client.Delete(pb.DeleteRequest(name=name), metadata=auth)
    print("deleted", name)

    try:
        client.Get(pb.GetRequest(name=name), metadata=auth)
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.NOT_FOUND:
            raise
        print("not found after delete, as expected")
