"""Typed domain errors. Transport maps each to one canonical gRPC status, in one place.

Messages are shown to callers as they are, so they must be actionable and must never
contain a password, an API key or anything else secret.
"""

from __future__ import annotations

from dataclasses import dataclass

# How much of a caller's input an error message may quote. Messages travel back in
# the grpc-message trailer (and over REST in the body): quoting a whole input there
# once made a 1 MB filter's error too big to send at all.
QUOTE_LIMIT = 64


def quote(value: str, limit: int = QUOTE_LIMIT) -> str:
    """`value` for an error message: in quotes, at most `limit` characters of it and an
    ellipsis after a cut, with characters that do not print (newlines, controls)
    escaped so that a message stays one readable line."""
    cut = value[:limit]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in cut)
    return f"'{cut}...'" if len(value) > limit else f"'{cut}'"


class DomainError(Exception):
    """Base of every error a caller can cause or be told about.

    `retry_after_seconds`, when set, tells the caller when trying again makes sense
    (a google.rpc.RetryInfo detail over gRPC); `reason`, a machine-readable cause (a
    google.rpc.ErrorInfo), is set by a subclass or where the error is raised.
    """

    retry_after_seconds: float | None = None
    # A machine-readable cause (google.rpc.ErrorInfo's reason), UPPER_SNAKE_CASE.
    reason: str | None = None
    # Facts about the cause, for programs (google.rpc.ErrorInfo's metadata); never secret.
    metadata: dict[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if retry_after_seconds is not None:
            self.retry_after_seconds = retry_after_seconds
        if reason is not None:
            self.reason = reason
        if metadata is not None:
            self.metadata = metadata


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(DomainError):
    """One or more request fields are wrong; each violation names the field and why."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid request: {summary}")

    @classmethod
    def single(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(DomainError):
    pass


class NamespaceGone(NotFound):
    """The namespace's account was deleted while the caller still held access to it
    (a principal cached before the deletion, or a call racing it). The transport
    answers UNAUTHENTICATED when the namespace is the caller's own account."""

    def __init__(self, namespace: str, account_id: int) -> None:
        super().__init__(f"namespace '{namespace}' no longer exists")
        self.namespace = namespace
        self.account_id = account_id


class AlreadyExists(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class ResourceExhausted(DomainError):
    """Too many attempts (failed authentication, or registry checks); retrying after
    `retry_after_seconds` may succeed."""

    reason = "AUTHENTICATION_THROTTLED"

    def __init__(
        self, message: str, *, retry_after_seconds: int, reason: str | None = None
    ) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, reason=reason)


class Unavailable(DomainError):
    """The database (or another dependency) cannot serve the call now; retrying later
    may succeed. Raisers say why in `reason` (storage.errors.DatabaseUnavailable for
    the database itself)."""
