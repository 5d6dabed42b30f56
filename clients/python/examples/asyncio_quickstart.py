"""The same operations with asyncio (extrepo.aio); settings as for quickstart.py."""

import asyncio

import extrepo
import extrepo.aio


async def main() -> None:
    name = "registry.local/quickstart/py-async-app"
    async with extrepo.aio.Client() as client:
        repository = client.Repository.create(name=name, username="puller", password="s3cret")
        await repository.save()
        print("created", repository.resource_uri)

        print("listed", [r.name async for r in client.Repository.iterate()])

        repository = await client.Repository.fetch(name)
        repository.username = "new-puller"
        await repository.save()
        print("updated", repository.name)

        await repository.delete()
        try:
            await client.Repository.fetch(name)
        except extrepo.NotFound:
            print("deleted", name)


asyncio.run(main())
