"""Cursor signing: HMAC-SHA256 under HKDF-derived keys, any key of the keyring verifies."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet
from extrepo_server.security.cursors import TAG_SIZE, CursorSigner

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_signature_verifies_under_the_same_keys_anywhere():
    signed = CursorSigner([OLD]).sign(b"payload")
    assert len(signed) == len(b"payload") + TAG_SIZE
    assert CursorSigner([OLD]).verify(signed) == b"payload"  # another replica, same keys


def test_the_first_key_signs_and_every_key_verifies():
    rotated = CursorSigner([NEW, OLD])
    assert rotated.verify(CursorSigner([OLD]).sign(b"old")) == b"old"
    signed = rotated.sign(b"new")
    assert CursorSigner([NEW]).verify(signed) == b"new"
    assert CursorSigner([OLD]).verify(signed) is None


def test_the_signing_key_is_derived_not_the_key_itself():
    signed = CursorSigner([OLD]).sign(b"payload")
    raw_hmac = hmac.digest(OLD.encode(), b"payload", hashlib.sha256)
    assert signed[-TAG_SIZE:] != raw_hmac


@pytest.mark.parametrize(
    "signed",
    [
        b"",
        b"short",
        b"\x00" * TAG_SIZE,
        b"payload" + b"\x00" * TAG_SIZE,
    ],
)
def test_anything_not_signed_is_refused(signed):
    assert CursorSigner([NEW, OLD]).verify(signed) is None


def test_a_signer_needs_a_key():
    with pytest.raises(ValueError, match="at least one key"):
        CursorSigner([])
