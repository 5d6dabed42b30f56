"""The limits of registry credentials, as Create and Update apply them."""

from __future__ import annotations

import pytest
from extrepo_server.domain.credentials import (
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME_LENGTH,
    length_violations,
)


def test_real_registry_credentials_fit():
    # An Azure AD token with the most group claims a token lists is ~13 KB; a GCR
    # JSON key with a 4096-bit RSA key, base64-encoded, ~4.4 KB.
    assert MAX_PASSWORD_LENGTH >= 2 * 13_000
    assert MAX_USERNAME_LENGTH >= 2 * 254  # an email address
    assert length_violations(username="_json_key", password="k" * MAX_PASSWORD_LENGTH) == []
    assert length_violations(username="u" * MAX_USERNAME_LENGTH, password=None) == []


@pytest.mark.parametrize(
    ("username", "password", "fields"),
    [
        ("u" * (MAX_USERNAME_LENGTH + 1), "p", ["username"]),
        ("u", "p" * (MAX_PASSWORD_LENGTH + 1), ["password"]),
        ("u" * 4_000_000, "p" * 4_000_000, ["username", "password"]),
        (None, "p" * (MAX_PASSWORD_LENGTH + 1), ["password"]),
    ],
)
def test_each_credential_over_its_limit_is_named_with_the_limit(username, password, fields):
    violations = length_violations(username=username, password=password)
    assert [v.field for v in violations] == fields
    for violation in violations:
        limit = MAX_USERNAME_LENGTH if violation.field == "username" else MAX_PASSWORD_LENGTH
        assert f"at most {limit} are allowed" in violation.description
        assert len(violation.description) < 100  # never the credential itself


def test_nothing_sent_is_nothing_wrong():
    assert length_violations(username=None, password=None) == []
    assert length_violations(username="", password="") == []  # empty is Create's and Update's
