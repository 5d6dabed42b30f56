"""The rules of credential checks: what a check's outcome means for the call that
asked for it (the policy), and when a repository is checked again.

The check itself is the registry client's (registry/, through ports.Registries): it
does what `docker pull` does up to the image data and answers a VerificationState.
This module decides what to do with that answer.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import FailedPrecondition, ResourceExhausted
from .ports import (
    CheckBudget,
    PullCredentials,
    Registries,
    RegistryCheck,
    Verification,
    VerificationState,
)

S = VerificationState

# The registry answered, and the answer was no: these credentials cannot pull this
# repository. Storing them would only hand a failing pull to a deployment later.
REGISTRY_SAID_NO = frozenset({S.CREDENTIALS_REJECTED, S.REPOSITORY_NOT_FOUND, S.PULL_DENIED})
# Nothing was learned about the credentials: the registry could not be asked (down,
# TLS, something else on the port, an unusable answer). Re-checked with back-off.
NOT_ASKED = frozenset({S.REGISTRY_UNREACHABLE, S.TLS_ERROR, S.NOT_A_REGISTRY, S.REGISTRY_ERROR})


class Policy(enum.Enum):
    """EXTREPO_VERIFICATION: what Create and Update do with a check's outcome."""

    # No outbound calls at all; repositories show NOT_CHECKED.
    OFF = "off"
    # Check and record; never refuse.
    RECORD = "record"
    # The default: refuse what the registry refused (REGISTRY_SAID_NO) and hosts this
    # service will not call (ADDRESS_FORBIDDEN); accept and record the rest, so that a
    # registry that is down does not block registering.
    REFUSE_REJECTED = "refuse-rejected"
    # Refuse anything but VERIFIED (a registry that is down blocks registering).
    REQUIRE_VERIFIED = "require-verified"

    def refuses(self, state: VerificationState) -> bool:
        if self in (Policy.OFF, Policy.RECORD):
            return False
        if self is Policy.REQUIRE_VERIFIED:
            return state is not S.VERIFIED
        return state in REGISTRY_SAID_NO or state is S.ADDRESS_FORBIDDEN


NOT_CHECKED = Verification(S.NOT_CHECKED, None, "credential checks are turned off on this service")


@dataclass(frozen=True)
class Schedule:
    """When background re-checks happen. `interval` 0 turns them off."""

    interval: timedelta
    # Each next check is the interval times a random factor in [1 - jitter, 1 + jitter],
    # so that repositories registered together do not stay checked together.
    jitter: float = 0.1
    # After a check that could not ask the registry (NOT_ASKED), the next comes after
    # first_retry, doubling with each such check in a row, up to the interval.
    first_retry: timedelta = timedelta(minutes=1)

    @property
    def enabled(self) -> bool:
        return self.interval > timedelta(0)

    def next_check(
        self, state: VerificationState, failures: int, now: datetime, rand: Callable[[], float]
    ) -> datetime | None:
        """When to check a repository whose latest check gave `state`, after `failures`
        checks in a row that could not ask the registry (this one included); None
        when re-checks are off or would never change anything."""
        if not self.enabled or state in (S.NOT_CHECKED, S.ADDRESS_FORBIDDEN):
            return None
        delay = self.interval
        if state in NOT_ASKED and failures > 0:
            delay = min(self.interval, self.first_retry * (2 ** min(failures - 1, 30)))
        factor = 1 + self.jitter * (2 * rand() - 1)
        return now + delay * factor


class Verifier:
    """Runs checks for the use cases and applies the policy to their outcome."""

    def __init__(
        self,
        registries: Registries,
        policy: Policy,
        schedule: Schedule,
        budget: CheckBudget | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._registries = registries
        self.policy = policy
        self.schedule = schedule
        self._budget = budget
        self._rand = rand

    @property
    def enabled(self) -> bool:
        return self.policy is not Policy.OFF

    def spend(self, caller: str) -> None:
        """Count one check asked for by `caller`; ResourceExhausted past the budget."""
        if self._budget is None:
            return
        wait = self._budget.take(caller)
        if wait is not None:
            raise ResourceExhausted(
                f"too many credential checks in a short time; retry in {max(1, round(wait))} s",
                retry_after_seconds=max(1, round(wait)),
                reason="CHECKS_THROTTLED",
            )

    async def check(self, host: str, path: str, credentials: PullCredentials) -> RegistryCheck:
        if not self.enabled:
            return RegistryCheck(NOT_CHECKED)
        return await self._registries.check(host, path, credentials)

    def judge(self, host: str, verification: Verification) -> None:
        """FailedPrecondition if the policy refuses to store credentials with this
        outcome; its reason is the state's name, as the proto documents."""
        if self.policy.refuses(verification.state):
            raise FailedPrecondition(
                f"the credentials were not stored: {verification.reason}",
                reason=verification.state.name,
                metadata={"host": host, "state": verification.state.name},
            )

    def next_check(self, verification: Verification, failures: int = 0) -> datetime | None:
        """When to re-check after this outcome, `failures` checks in a row having
        failed to ask the registry before it."""
        failures = self.failures_after(verification, failures)
        now = verification.checked_at or datetime.now(UTC)
        return self.schedule.next_check(verification.state, failures, now, self._rand)

    def failures_after(self, verification: Verification, failures: int) -> int:
        """The count of checks in a row that could not ask the registry, this one in."""
        return failures + 1 if verification.state in NOT_ASKED else 0
