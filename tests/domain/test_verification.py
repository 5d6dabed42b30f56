"""The rules of credential checks: which outcomes each policy refuses, and when a
repository is checked again (domain/verification.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from extrepo_server.domain.errors import FailedPrecondition
from extrepo_server.domain.ports import Verification, VerificationState
from extrepo_server.domain.verification import (
    NOT_ASKED,
    REGISTRY_SAID_NO,
    Policy,
    Schedule,
    Verifier,
)

S = VerificationState
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def middle() -> float:  # a jitter factor of exactly 1
    return 0.5


@pytest.mark.parametrize("state", list(VerificationState))
def test_default_policy_refuses_only_what_the_registry_refused_and_forbidden_hosts(state):
    refused = Policy.REFUSE_REJECTED.refuses(state)
    assert refused == (state in REGISTRY_SAID_NO or state is S.ADDRESS_FORBIDDEN)
    # A registry that could not be asked never blocks registering by default.
    if state in NOT_ASKED:
        assert not refused


@pytest.mark.parametrize("state", list(VerificationState))
def test_other_policies(state):
    assert not Policy.RECORD.refuses(state)
    assert not Policy.OFF.refuses(state)
    assert Policy.REQUIRE_VERIFIED.refuses(state) == (state is not S.VERIFIED)


def test_a_refusal_names_the_state_and_host_for_programs():
    verifier = Verifier(registries=None, policy=Policy.REFUSE_REJECTED, schedule=Schedule(HOUR))
    with pytest.raises(FailedPrecondition) as caught:
        verifier.judge(
            "reg.example.com",
            Verification(S.CREDENTIALS_REJECTED, NOW, "reg.example.com refused the password"),
        )
    assert caught.value.reason == "CREDENTIALS_REJECTED"
    assert caught.value.metadata == {"host": "reg.example.com", "state": "CREDENTIALS_REJECTED"}
    assert "reg.example.com refused the password" in caught.value.message
    verifier.judge("reg.example.com", Verification(S.REGISTRY_UNREACHABLE, NOW, "down"))


def test_next_check_is_the_interval_with_jitter_within_bounds():
    schedule = Schedule(interval=HOUR, jitter=0.1)
    assert schedule.next_check(S.VERIFIED, 0, NOW, middle) == NOW + HOUR
    assert schedule.next_check(S.VERIFIED, 0, NOW, lambda: 0.0) == NOW + HOUR * 0.9
    assert schedule.next_check(S.CREDENTIALS_REJECTED, 0, NOW, lambda: 1.0) == NOW + HOUR * 1.1


def test_unreachable_registries_are_retried_sooner_backing_off_to_the_interval():
    schedule = Schedule(interval=HOUR, jitter=0.1, first_retry=timedelta(minutes=1))
    delays = [
        schedule.next_check(S.REGISTRY_UNREACHABLE, failures, NOW, middle) - NOW
        for failures in range(1, 10)
    ]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == HOUR  # capped
    assert delays == sorted(delays)


def test_no_recheck_when_off_or_pointless():
    assert Schedule(interval=timedelta(0)).next_check(S.VERIFIED, 0, NOW, middle) is None
    assert Schedule(interval=HOUR).next_check(S.NOT_CHECKED, 0, NOW, middle) is None
    # A host this service will not call stays uncalled.
    assert Schedule(interval=HOUR).next_check(S.ADDRESS_FORBIDDEN, 0, NOW, middle) is None


def test_failures_count_only_checks_that_could_not_ask():
    verifier = Verifier(registries=None, policy=Policy.RECORD, schedule=Schedule(HOUR))
    assert verifier.failures_after(Verification(S.REGISTRY_UNREACHABLE, NOW), 2) == 3
    assert verifier.failures_after(Verification(S.VERIFIED, NOW), 2) == 0
    assert verifier.failures_after(Verification(S.CREDENTIALS_REJECTED, NOW), 2) == 0
