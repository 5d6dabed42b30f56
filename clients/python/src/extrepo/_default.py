"""The client behind `extrepo.Repository` when no Client is named, as the original SDK
had one configuration per process (`dockercloud.user`, `dockercloud.apikey`,
`dockercloud.namespace`, or DOCKERCLOUD_* in the environment).

Its settings are resolved again on each use, so a change to `extrepo.user` and friends
(or to the environment, or a new `extrepo login`) takes effect at the next call; the
channel is reused while they stay the same.
"""

from __future__ import annotations

import threading

from . import config
from .client import Client

_lock = threading.Lock()
_current: tuple[config.Settings, Client] | None = None


def default_client() -> Client:
    """The Client for the module-level settings: `extrepo.address`, `extrepo.user`,
    `extrepo.apikey`, `extrepo.namespace` when set, else the environment and config."""
    global _current
    import extrepo

    settings = config.resolve(
        {
            "address": extrepo.address,
            "username": extrepo.user,
            "api_key": extrepo.apikey,
            "namespace": extrepo.namespace,
        }
    )
    with _lock:
        if _current is None or _current[0] != settings:
            # The previous client is left to the garbage collector rather than closed:
            # another thread may be in the middle of a call on it.
            _current = (settings, Client(settings=settings))
        return _current[1]
