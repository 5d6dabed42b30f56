"""Resource URIs of the original API, derived from a namespace and a name (never stored)."""

from __future__ import annotations

import re

from .errors import InvalidArgument
from .names import host_problem

API_ROOT = "/api/repo/v1"


def repository_uri(namespace: str, name: str) -> str:
    return f"{API_ROOT}/{namespace}/repository/{name}/"


def registry_uri(namespace: str, host: str) -> str:
    return f"{API_ROOT}/{namespace}/registry/{host}/"


def repository_list_path(namespace: str) -> str:
    return f"{API_ROOT}/{namespace}/repository/"


_REGISTRY_URI_RE = re.compile(
    rf"^{re.escape(API_ROOT)}/(?:(?P<ns>[^/]+)/)?registry/(?P<host>[^/]+)/?$"
)


def parse_registry_filter(value: str, namespace: str, field: str = "registry") -> str:
    """The registry host that a `registry` list filter selects.

    The original API filters by the registry's resource URI; a bare host is accepted too.
    A URI naming another namespace is refused rather than silently matching nothing.
    """
    host = value
    if value.startswith("/"):
        match = _REGISTRY_URI_RE.match(value)
        if match is None:
            raise InvalidArgument.single(
                field,
                f"'{value}' is not a registry resource URI; expected "
                f"{API_ROOT}/{namespace}/registry/<host>/ or a bare host",
            )
        if match.group("ns") not in (None, namespace):
            raise InvalidArgument.single(
                field,
                f"registry '{value}' belongs to namespace '{match.group('ns')}', "
                f"but namespace '{namespace}' is being listed",
            )
        host = match.group("host")
    if problem := host_problem(host):
        raise InvalidArgument.single(field, problem)
    return host
