"""The state of one repository object and its unsaved changes, shared by the
synchronous (extrepo.Repository) and asyncio (extrepo.aio) object models.

As in the original SDK, setting an attribute records it as changed and `save()` sends
only what changed: a new object is created with its name and credentials; a saved one
is updated with just the credentials that were set since it was loaded.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .v1 import repository_service_pb2 as pb

# What the server answers; set from its answers only.
SERVER_FIELDS = (
    "name",
    "in_use",
    "registry",
    "resource_uri",
    "namespace",
    "create_time",
    "update_time",
)
# Write-only: sent, never answered.
CREDENTIALS = ("username", "password")
_SETTABLE = {"name", *CREDENTIALS}


class RepositoryModel:
    name: str
    in_use: bool
    registry: str
    resource_uri: str
    namespace: str
    create_time: datetime | None
    update_time: datetime | None
    username: str | None
    password: str | None
    _changes: set[str]
    _saved: bool
    _target_namespace: str | None

    def __init__(self, namespace: str | None = None, **attributes: Any) -> None:
        unknown = set(attributes) - _SETTABLE
        if unknown:
            raise TypeError(
                f"unknown repository attribute(s) {', '.join(sorted(unknown))}; "
                f"a repository is created with {', '.join(sorted(_SETTABLE))}"
            )
        object.__setattr__(self, "_changes", set())
        object.__setattr__(self, "_saved", False)
        # The namespace a new object is created in; None: the client's default.
        object.__setattr__(self, "_target_namespace", namespace)
        for field, value in (
            ("name", ""),
            ("in_use", False),
            ("registry", ""),
            ("resource_uri", ""),
            ("namespace", namespace or ""),
            ("create_time", None),
            ("update_time", None),
            ("username", None),
            ("password", None),
        ):
            object.__setattr__(self, field, value)
        for field, value in attributes.items():
            setattr(self, field, value)

    def __setattr__(self, field: str, value: Any) -> None:
        if field.startswith("_"):
            object.__setattr__(self, field, value)
            return
        if field not in _SETTABLE:
            if field in SERVER_FIELDS:
                raise AttributeError(f"'{field}' is set by the server and cannot be changed")
            raise AttributeError(f"a repository has no attribute '{field}'")
        if field == "name" and self._saved and value != self.name:
            raise AttributeError(
                "a repository's name never changes; delete it and create one with the new name"
            )
        object.__setattr__(self, field, value)
        self._changes.add(field)

    # -- state -----------------------------------------------------------------

    @property
    def pk(self) -> str:
        """The primary key, as the original SDK called it: the name."""
        return self.name

    @property
    def is_dirty(self) -> bool:
        """Whether there are changes that `save()` would send."""
        return bool(self._changes)

    def get_all_attributes(self) -> dict[str, Any]:
        """The server's fields (never the credentials) as a dict."""
        return {field: getattr(self, field) for field in SERVER_FIELDS}

    def __repr__(self) -> str:
        state = "" if self._saved else ", unsaved"
        return f"{type(self).__name__}(name={self.name!r}, namespace={self.namespace!r}{state})"

    def _load(self, message: pb.Repository) -> None:
        for field in ("name", "in_use", "registry", "resource_uri", "namespace"):
            object.__setattr__(self, field, getattr(message, field))
        created, updated = message.create_time, message.update_time
        object.__setattr__(
            self,
            "create_time",
            created.ToDatetime(tzinfo=timezone.utc) if message.HasField("create_time") else None,
        )
        object.__setattr__(
            self,
            "update_time",
            updated.ToDatetime(tzinfo=timezone.utc) if message.HasField("update_time") else None,
        )
        for field in CREDENTIALS:
            object.__setattr__(self, field, None)
        self._changes.clear()
        object.__setattr__(self, "_saved", True)

    def _forget(self) -> None:
        """After a delete: the object may be saved again, as a new repository."""
        object.__setattr__(self, "_saved", False)
        object.__setattr__(self, "_target_namespace", self.namespace)
        object.__setattr__(self, "resource_uri", "")
        self._changes.clear()

    # -- what save() sends -----------------------------------------------------

    def _pending(self) -> tuple[str, dict[str, Any]] | None:
        """("create" | "update", arguments), or None when nothing changed."""
        if not self._saved:
            missing = [f for f in ("name", *CREDENTIALS) if not getattr(self, f)]
            if missing:
                raise ValueError(
                    f"a new repository needs {', '.join(missing)} before it can be saved"
                )
            return "create", {
                "name": self.name,
                "username": self.username,
                "password": self.password,
                "namespace": self._target_namespace,
            }
        changed = {f: getattr(self, f) for f in CREDENTIALS if f in self._changes}
        if not changed:
            self._changes.clear()
            return None
        return "update", {"name": self.name, "namespace": self.namespace, **changed}
