"""The original SDK's object model, over gRPC:

    repositories = extrepo.Repository.list()
    repository = extrepo.Repository.create(name="registry.local/user1/image1",
                                           username=username, password=password)
    repository.save()
    repository = extrepo.Repository.fetch("registry.local/user1/image1")
    repository.username = "new username"
    repository.password = "new password"
    repository.save()
    repository.delete()

`extrepo.Repository` uses the default client (see extrepo.default_client);
`client.Repository` is the same class bound to one Client.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._model import RepositoryModel
from .v1 import repository_service_pb2 as pb

if TYPE_CHECKING:
    from .client import Client

_R = TypeVar("_R", bound="Repository")
FILTERS = ("name", "registry")
MAX_PAGE_SIZE = 100


def check_filters(filters: dict[str, Any]) -> None:
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise TypeError(
            f"unknown filter(s) {', '.join(sorted(unknown))}; "
            f"a listing is filtered by {' and '.join(FILTERS)}"
        )


class Repository(RepositoryModel):
    """An external repository: a repository on a third-party registry, registered with
    the credentials to pull from it. Credentials are write-only: set them and save."""

    _bound_client: ClassVar[Client | None] = None

    @classmethod
    def _client(cls) -> Client:
        if cls._bound_client is not None:
            return cls._bound_client
        from ._default import default_client

        return default_client()

    @classmethod
    def _from_message(cls: type[_R], message: pb.Repository) -> _R:
        instance = cls()
        instance._load(message)
        return instance

    @classmethod
    def iterate(cls: type[_R], namespace: str | None = None, **filters: str) -> Iterator[_R]:
        """Every repository of the namespace, fetching page after page as needed."""
        check_filters(filters)
        messages = cls._client().iter_repositories(
            namespace, name=filters.get("name", ""), registry=filters.get("registry", "")
        )
        for message in messages:
            yield cls._from_message(message)

    @classmethod
    def list(
        cls: type[_R], namespace: str | None = None, limit: int | None = None, **filters: str
    ) -> builtins.list[_R]:
        """Every repository of the namespace (the caller's own by default), in name order,
        across all pages; `limit` stops after that many, as in the original SDK.
        Filters: `name` (exact) and `registry` (a host or a registry resource URI)."""
        check_filters(filters)
        page_size = min(limit, MAX_PAGE_SIZE) if limit else 0
        messages = cls._client().iter_repositories(
            namespace,
            name=filters.get("name", ""),
            registry=filters.get("registry", ""),
            page_size=page_size,
        )
        return [cls._from_message(m) for m in itertools.islice(messages, limit or None)]

    @classmethod
    def fetch(cls: type[_R], name: str, namespace: str | None = None) -> _R:
        """The repository of that name; raises extrepo.NotFound when there is none."""
        return cls._from_message(cls._client().get(name, namespace))

    @classmethod
    def create(cls: type[_R], namespace: str | None = None, **attributes: Any) -> _R:
        """A new, unsaved repository (`name`, `username`, `password`); `save()` registers it."""
        return cls(namespace=namespace, **attributes)

    def save(self) -> bool:
        """Create the repository, or send the credentials changed since it was loaded."""
        pending = self._pending()
        if pending is None:
            return True
        action, arguments = pending
        client = self._client()
        if action == "create":
            self._load(client.create(**arguments))
        else:
            self._load(client.update(**arguments))
        return True

    def delete(self) -> bool:
        """Remove the repository (the one on the third-party registry is untouched)."""
        if not self._saved:
            raise ValueError("this repository was never saved; there is nothing to delete")
        self._client().delete(self.name, self.namespace)
        self._forget()
        return True

    def refresh(self) -> bool:
        """Read the repository again from the server; unsaved changes are dropped."""
        if not self._saved:
            raise ValueError("this repository was never saved; there is nothing to refresh")
        self._load(self._client().get(self.name, self.namespace))
        return True
