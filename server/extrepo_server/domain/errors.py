"""Typed domain errors. Transport maps each to one canonical gRPC status, in one place.

Messages are shown to callers as they are, so they must be actionable and must never
contain a password, an API key or anything else secret.
"""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error a caller can cause or be told about."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    """Too many attempts (failed authentication); retrying after `retry_after_seconds`
    may succeed."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    """The database (or another dependency) cannot be reached; retrying later may succeed."""
