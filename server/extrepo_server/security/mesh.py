"""Mesh identities: who a caller on the internal listener is, from the client
certificate that the mutual TLS handshake verified against the mesh CA, and what the
mesh policy file lets that identity do.

The identity is the certificate's first URI SAN (a SPIFFE id,
`spiffe://<trust-domain>/<service>`), else its first DNS SAN: never the subject's
common name, which SPIFFE and browsers alike have stopped trusting. The policy file
(TOML) maps identities to namespaces and calls:

    [[service]]
    identity = "spiffe://example.org/deployer"
    namespaces = ["acme", "shop"]        # or ["*"]
    calls = ["CreateUsage", "DeleteUsage", "ListUsages", "GetPullAccess"]   # or ["*"]
    allow_password = false   # true: may receive the password of a Basic-only registry

A certificate whose identity the file does not name is refused (PERMISSION_DENIED),
as is one without any SAN (UNAUTHENTICATED). The handshake itself refuses a caller
without a certificate, with one from another CA, or an expired one: such a call
never reaches this module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grpc
from cryptography import x509

from ..domain.errors import PermissionDenied, Unauthenticated, quote
from ..domain.mesh import ANY, MeshPrincipal

_CALLS = frozenset({"CreateUsage", "DeleteUsage", "ListUsages", "GetPullAccess", ANY})


class MeshPolicyError(ValueError):
    """The policy file is missing or malformed; the message says where."""


def load_policy(path: Path) -> dict[str, MeshPrincipal]:
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise MeshPolicyError(f"cannot read the mesh policy file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MeshPolicyError(f"the mesh policy file {path} is not TOML: {exc}") from None
    principals: dict[str, MeshPrincipal] = {}
    for index, entry in enumerate(document.get("service", [])):
        where = f"{path}, [[service]] #{index + 1}"
        identity = entry.get("identity")
        namespaces = entry.get("namespaces", [])
        calls = entry.get("calls", [])
        if not isinstance(identity, str) or not identity:
            raise MeshPolicyError(f"{where}: `identity` must be a non-empty string")
        if identity in principals:
            raise MeshPolicyError(f"{where}: identity {identity!r} is listed twice")
        if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
            raise MeshPolicyError(f'{where}: `namespaces` must be a list of names (or ["*"])')
        if not isinstance(calls, list) or not set(calls) <= _CALLS:
            raise MeshPolicyError(f"{where}: `calls` must list some of {', '.join(sorted(_CALLS))}")
        allow_password = entry.get("allow_password", False)
        if not isinstance(allow_password, bool):
            raise MeshPolicyError(f"{where}: `allow_password` must be true or false")
        principals[identity] = MeshPrincipal(
            identity, frozenset(namespaces), frozenset(calls), allow_password
        )
    return principals


def identity_of(pem: bytes) -> str | None:
    """The certificate's first URI SAN, else its first DNS SAN, else None."""
    certificate = x509.load_pem_x509_certificate(pem)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    if uris:
        return uris[0]
    dns = names.get_values_for_type(x509.DNSName)
    return dns[0] if dns else None


class MeshAuthenticator:
    """The principal of a call on the internal listener, from its TLS peer."""

    def __init__(self, policy: dict[str, MeshPrincipal]) -> None:
        self._policy = policy
        self._identities: dict[bytes, str | None] = {}  # certificate PEM -> identity

    def authenticate(self, context: grpc.aio.ServicerContext) -> MeshPrincipal:
        pems = context.auth_context().get("x509_pem_cert") or []
        if not pems:
            raise Unauthenticated(
                "this internal listener needs a client certificate from the mesh CA"
            )
        pem = pems[0]
        identity = self._identities.get(pem)
        if identity is None and pem not in self._identities:
            identity = identity_of(pem)
            if len(self._identities) > 10_000:
                self._identities.clear()
            self._identities[pem] = identity
        if identity is None:
            raise Unauthenticated(
                "the client certificate names no identity: give it a URI SAN "
                "(spiffe://<trust-domain>/<service>) or a DNS SAN"
            )
        principal = self._policy.get(identity)
        if principal is None:
            raise PermissionDenied(
                f"mesh identity {quote(identity, 255)} is not in the mesh policy file"
            )
        return principal
