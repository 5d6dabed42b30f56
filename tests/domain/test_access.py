"""Who may do what in which namespace: owners write, members read, others learn nothing."""

from __future__ import annotations

import pytest
from extrepo_server.domain.access import (
    Action,
    NamespaceGrant,
    OrganizationAccess,
    Principal,
    Role,
    authorize,
)
from extrepo_server.domain.errors import InvalidArgument, PermissionDenied

ALICE = Principal(
    user_id=1,
    username="alice",
    organizations={
        "owned": OrganizationAccess(10, Role.OWNER),
        "joined": OrganizationAccess(20, Role.MEMBER),
    },
)


@pytest.mark.parametrize("namespace", ["", "alice"])
@pytest.mark.parametrize("action", list(Action))
def test_the_own_namespace_allows_everything(namespace, action):
    assert authorize(ALICE, namespace, action) == NamespaceGrant("alice", 1)


@pytest.mark.parametrize("action", list(Action))
def test_an_owner_reads_and_writes(action):
    assert authorize(ALICE, "owned", action) == NamespaceGrant("owned", 10)


def test_a_member_reads():
    assert authorize(ALICE, "joined", Action.READ) == NamespaceGrant("joined", 20)


def test_a_member_may_not_write():
    with pytest.raises(PermissionDenied, match="only its owners"):
        authorize(ALICE, "joined", Action.WRITE)


@pytest.mark.parametrize("action", list(Action))
def test_any_other_namespace_gets_one_and_the_same_answer(action):
    messages = set()
    for namespace in ("bob", "no-such-org"):
        with pytest.raises(PermissionDenied) as caught:
            authorize(ALICE, namespace, action)
        messages.add(caught.value.message.replace(namespace, "<ns>"))
    assert len(messages) == 1


def test_a_malformed_namespace_is_invalid_not_denied():
    with pytest.raises(InvalidArgument) as caught:
        authorize(ALICE, "Not/A/Namespace", Action.READ)
    assert caught.value.violations[0].field == "namespace"
