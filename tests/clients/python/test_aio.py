"""The asyncio variant against the real server: the same object model, awaited."""

from __future__ import annotations

import asyncio

import extrepo
import extrepo.aio
import grpc
import pytest


class AioRecorder(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self) -> None:
        self.requests: list[tuple[str, object]] = []

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        self.requests.append((method.rsplit("/", 1)[-1], request))
        return await continuation(client_call_details, request)


def test_asyncio_object_model_and_paging(server, user, repo_name):
    names = sorted(repo_name() for _ in range(5))
    recorder = AioRecorder()

    async def scenario() -> None:
        async with extrepo.aio.Client(
            server.address, username=user.name, api_key=user.api_key, interceptors=[recorder]
        ) as client:
            for name in names:
                repository = client.Repository.create(
                    name=name, username="puller", password="s3cret"
                )
                assert await repository.save() is True
                assert repository.resource_uri.endswith(f"/repository/{name}/")

            recorder.requests.clear()
            listed = [r.name async for r in client.Repository.iterate()]
            assert listed == names
            assert [r.name async for r in client.iter_repositories(page_size=2)] == names
            pages = [r for m, r in recorder.requests if m == "List"]
            assert [(r.limit, r.offset) for r in pages[1:]] == [(2, 0), (2, 2), (2, 4)]
            assert [r.name for r in await client.Repository.list(limit=3)] == names[:3]

            fetched = await client.Repository.fetch(names[0])
            fetched.password = "n3w-s3cret"
            recorder.requests.clear()
            await fetched.save()
            [(method, request)] = recorder.requests
            assert method == "Update" and not request.HasField("username")
            assert await fetched.delete() is True
            with pytest.raises(extrepo.NotFound):
                await client.Repository.fetch(names[0])
            with pytest.raises(extrepo.AlreadyExists):
                await client.create(names[1], "puller", "s3cret")
            with pytest.raises(extrepo.InvalidArgument) as caught:
                await client.create("UBUNTU", "puller", "s3cret")
            assert [v.field for v in caught.value.field_violations] == ["name"]

    asyncio.run(scenario())
    assert server.admin_api.stored_credentials(user.name, names[1]) == ("puller", "s3cret")


def test_asyncio_repository_needs_a_client():
    with pytest.raises(TypeError, match=r"client\.Repository"):
        asyncio.run(extrepo.aio.Repository.fetch("registry.local/user1/image1"))


def test_asyncio_unauthenticated(server, user):
    async def scenario() -> None:
        async with extrepo.aio.Client(
            server.address, username=user.name, api_key="ek_x_wrong"
        ) as client:
            await client.Repository.list()

    with pytest.raises(extrepo.Unauthenticated):
        asyncio.run(scenario())


def test_asyncio_registries(server, user):
    async def scenario() -> None:
        async with extrepo.aio.Client(
            server.address, username=user.name, api_key=user.api_key
        ) as client:
            for host in ("aio-b.example.com", "aio-a.example.com"):
                await client.create(f"{host}/app", "puller", "s3cret")
            hosts = [r.host async for r in client.iter_registries(page_size=1)]
            assert hosts == ["aio-a.example.com", "aio-b.example.com"]
            registry = await client.registry("aio-a.example.com")
            assert (registry.repository_count, registry.port) == (1, 443)
            with pytest.raises(extrepo.NotFound):
                await client.registry("aio-c.example.com")

    asyncio.run(scenario())
