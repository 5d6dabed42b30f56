"""The keyring's key ids and check values (what the database records instead of keys),
and which key opens a token."""

from __future__ import annotations

import pytest
from extrepo_server.security.credentials import (
    Keyring,
    KeyringError,
    check_value_of,
    key_id_of,
    keyring_from_list,
    new_key,
)


def test_ids_and_check_values_prove_a_key_without_showing_it():
    old, new = new_key(), new_key()
    keyring = Keyring([new, old])
    assert keyring.key_id == key_id_of(new) and keyring.key_ids == [key_id_of(new), key_id_of(old)]
    assert key_id_of(new) == key_id_of(new) and key_id_of(new) != key_id_of(old), "stable, distinct"
    assert len(key_id_of(new)) == 16 and len(check_value_of(new)) == 64
    assert keyring.holds(key_id_of(old), check_value_of(old))
    assert not keyring.holds(key_id_of(old), check_value_of(new)), "the check value must match"
    assert not Keyring([new]).holds(key_id_of(old), check_value_of(old))
    for derived in (key_id_of(new), check_value_of(new)):
        assert derived not in new and new.rstrip("=") not in derived


def test_which_key_opens_a_token_and_rewrapping_under_the_primary():
    old, new, stranger = new_key(), new_key(), new_key()
    keyring = Keyring([new, old])
    token = Keyring([old]).encrypt("secret")
    assert keyring.opener(token) == key_id_of(old)
    rewrapped = keyring.rewrap(token)
    assert rewrapped is not None and Keyring([new]).decrypt(rewrapped) == "secret"
    assert keyring.opener(rewrapped) == key_id_of(new)
    foreign = Keyring([stranger]).encrypt("secret")
    assert keyring.opener(foreign) is None and keyring.rewrap(foreign) is None


def test_a_bad_key_list_is_refused_without_echoing_it():
    with pytest.raises(KeyringError, match="EXTREPO_SECRET_KEYS") as caught:
        keyring_from_list("not-a-key-at-all")
    assert "not-a-key-at-all" not in str(caught.value)
    with pytest.raises(KeyringError, match="no encryption key"):
        keyring_from_list(" , ")
