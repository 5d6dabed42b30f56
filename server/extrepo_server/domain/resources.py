"""Resource URIs of the original API, derived from a namespace and a name (never stored)."""

from __future__ import annotations

import re

from .errors import InvalidArgument, quote
from .names import MAX_HOST_LENGTH, MAX_NAMESPACE_LENGTH, host_problem

API_ROOT = "/api/repo/v1"
# The longest registry filter that can be right: a resource URI with the longest
# namespace and host. Anything longer is refused before a pattern looks at it.
MAX_REGISTRY_FILTER_LENGTH = len(f"{API_ROOT}//registry//") + MAX_NAMESPACE_LENGTH + MAX_HOST_LENGTH


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
    if len(value) > MAX_REGISTRY_FILTER_LENGTH:
        raise InvalidArgument.single(
            field,
            f"is {len(value)} characters long; a registry host or resource URI is at most "
            f"{MAX_REGISTRY_FILTER_LENGTH}",
        )
    host = value
    if value.startswith("/"):
        match = _REGISTRY_URI_RE.match(value)
        if match is None:
            raise InvalidArgument.single(
                field,
                f"{quote(value)} is not a registry resource URI; expected "
                f"{API_ROOT}/{namespace}/registry/<host>/ or a bare host",
            )
        if match.group("ns") not in (None, namespace):
            raise InvalidArgument.single(
                field,
                f"registry {quote(value)} belongs to namespace {quote(match.group('ns'))}, "
                f"but namespace '{namespace}' is being listed",
            )
        host = match.group("host")
    if problem := host_problem(host):
        raise InvalidArgument.single(field, problem)
    return host
