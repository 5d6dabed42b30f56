"""Validation of repository names, registry hosts and namespace names.

Repository names follow the Docker reference grammar (distribution/reference, the
`name` production) with one extra rule: the registry host is required, since an
external repository lives on a third-party registry by definition. A first
component counts as a host exactly when Docker's own rule would take it for one:
it contains a dot or a port, or it is `localhost`.

    name             := host [":" port] "/" path-component ("/" path-component)*
    path-component   := alnum (separator alnum)*      alnum := [a-z0-9]+
    separator        := "_" | "." | "__" | "-"+

Docker's grammar takes any run of hex digits and colons in brackets for an IPv6
address, and a dotted run of digits for a domain; here a bracketed host must be a
real IPv6 address and a host of digits only a real IPv4 one (`ipaddress` decides).
Lengths are checked before anything else looks at an input, and messages quote at
most a short prefix of it (errors.quote).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .errors import InvalidArgument, quote

MAX_NAME_LENGTH = 255
# A host (with its port) leaves room in a name for "/" and one path character.
MAX_HOST_LENGTH = MAX_NAME_LENGTH - 2
MAX_NAMESPACE_LENGTH = 39
_MAX_PORT_DIGITS = 5

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?P<ipv6>[a-fA-F0-9:]+)\]"
_HOST_RE = re.compile(rf"^(?P<host>{_DOMAIN_NAME}|{_IPV6})(?::(?P<port>[0-9]+))?$")
_DIGITS_AND_DOTS_RE = re.compile(r"^[0-9.]+$")
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")

# A namespace is a user or organization name. "repository", "registry" and "usage"
# are collection words of the REST API: a namespace of that name would make the
# routes /api/repo/v1/{namespace}/repository/... ambiguous, so they are reserved
# (usage: the collection the proto header plans for a repository's users).
_NAMESPACE_RE = re.compile(rf"^[a-z0-9](?:[a-z0-9_-]{{0,{MAX_NAMESPACE_LENGTH - 2}}}[a-z0-9])?$")
RESERVED_NAMESPACES = frozenset({"repository", "registry", "usage", "api", "admin", "v1"})


@dataclass(frozen=True)
class RepositoryName:
    """A validated repository name, split into its registry host and path."""

    full: str
    host: str
    path: str


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def host_problem(host: str) -> str | None:
    """Why `host` is not a valid registry host (with optional port), or None."""
    if len(host) > MAX_HOST_LENGTH:
        return (
            f"registry host {quote(host)} is {len(host)} characters long; "
            f"at most {MAX_HOST_LENGTH} are allowed"
        )
    match = _HOST_RE.match(host)
    if match is None:
        return (
            f"{quote(host)} is not a valid registry host: use a domain such as "
            "my.registry.com, an IP address, or localhost, optionally with :port"
        )
    if host != host.lower():
        return f"registry host {quote(host)} must be lowercase"
    port = match.group("port")
    # The digit count first: int() of thousands of digits is slow, then refused.
    if port is not None and (len(port) > _MAX_PORT_DIGITS or not 1 <= int(port) <= 65535):
        return f"port {quote(port, 8)} of registry host {quote(host)} is out of range 1-65535"
    address = match.group("host")
    if match.group("ipv6") is not None:
        try:
            ipaddress.IPv6Address(match.group("ipv6"))
        except ValueError:
            return f"{quote(address)} is not a valid IPv6 address, e.g. [::1] or [fe80::1]"
    elif _DIGITS_AND_DOTS_RE.match(address):
        # Digits only: resolvers read it as an IPv4 address (no top-level domain is
        # numeric), so it must be a whole one.
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            return f"{quote(address)} is not a valid IPv4 address, e.g. 10.0.0.1"
    return None


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid external repository name, or None when it is."""
    if not name:
        return "a repository name is required, e.g. my.registry.com/myrepo"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    if "@" in name:
        return "a digest (@sha256:...) is not part of a repository name; remove it"
    host, sep, path = name.partition("/")
    if not sep:
        return (
            f"{quote(name)} has no registry host: an external repository name starts with "
            "the host of its registry, e.g. my.registry.com/myrepo"
        )
    if not _looks_like_host(host):
        return (
            f"{quote(host)} is not a registry host: a host contains a dot "
            "(my.registry.com), a port (myhost:5000), or is localhost"
        )
    if problem := host_problem(host):
        return problem
    components = path.split("/")
    if ":" in components[-1]:
        return "a tag (:tag) is not part of a repository name; remove it"
    for component in components:
        if not component:
            return "has an empty path component (a leading, trailing or double slash)"
        if not _PATH_COMPONENT_RE.match(component):
            return (
                f"path component {quote(component)} is invalid: use lowercase letters and digits, "
                "with single '.', '_', '__' or '-' between them"
            )
    return None


def parse_name(name: str, field: str = "name") -> RepositoryName:
    """Validate `name`, raising InvalidArgument naming `field` and the reason."""
    if problem := name_problem(name):
        raise InvalidArgument.single(field, problem)
    host, _, path = name.partition("/")
    return RepositoryName(full=name, host=host, path=path)


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` cannot be a user or organization name, or None."""
    if namespace in RESERVED_NAMESPACES:
        return f"'{namespace}' is a reserved word and cannot be a namespace"
    if not _NAMESPACE_RE.match(namespace):
        return (
            f"{quote(namespace)} is not a valid namespace: 1-{MAX_NAMESPACE_LENGTH} lowercase "
            "letters, digits, '-' or '_', starting and ending with a letter or digit"
        )
    return None
