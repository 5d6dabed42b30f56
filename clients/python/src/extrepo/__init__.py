"""extrepo: a Python SDK and the `extrepo` command line for extrepo's gRPC API, shaped
like Docker Cloud's python-dockercloud SDK.

    import extrepo
    repositories = extrepo.Repository.list()
    repository = extrepo.Repository.fetch("registry.local/user1/image1")

Settings come from `extrepo.Client(...)` arguments, else the module attributes below,
else `EXTREPO_*` (or `DOCKERCLOUD_USER`, `DOCKERCLOUD_APIKEY`, `DOCKERCLOUD_NAMESPACE`)
environment variables, else the file `extrepo login` writes. The generated messages and
stubs are in `extrepo.v1`.
"""

from ._default import default_client
from ._version import __version__
from .client import Client
from .config import Settings
from .errors import (
    AlreadyExists,
    ApiError,
    AuthError,
    ConfigError,
    DeadlineExceeded,
    ExtrepoError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ObjectNotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from .repository import Repository

# Module-level settings for `extrepo.Repository`, as `dockercloud.user` and
# `dockercloud.apikey` were; None: from the environment or the config file.
address: str | None = None
user: str | None = None
apikey: str | None = None
namespace: str | None = None

__all__ = [
    "AlreadyExists",
    "ApiError",
    "AuthError",
    "Client",
    "ConfigError",
    "DeadlineExceeded",
    "ExtrepoError",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "ObjectNotFound",
    "PermissionDenied",
    "Repository",
    "ResourceExhausted",
    "Settings",
    "Unauthenticated",
    "Unavailable",
    "__version__",
    "default_client",
]
