"""Limits of the registry credentials a repository is stored with.

Credentials are encrypted and stored with every repository, so without a bound a
caller could store megabytes per row (a 3.9 MB password was). The bounds are what
real registries need, with room to spare. Passwords are tokens and keys too:
GCR's `_json_key` (a service account's JSON key, ~2.3 KB; ~4.4 KB as
`_json_key_base64` with a 4096-bit key), ECR's login passwords (~2.7-3.2 KB),
ACR refresh tokens (above 4 KB with custom roles) and Azure AD access tokens (above
6 KB for members of many groups; up to ~13 KB with the 200 groups a token can
list). User names are short (`AWS`, `_json_key`, a GUID, an email address of at
most 254 characters, Harbor's `robot$<project>+<name>` of a few hundred).
Lengths count characters, as the name's 255 do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import FieldViolation, Unavailable

if TYPE_CHECKING:
    from .ports import Cipher, EncryptedCredentials, PullCredentials

MAX_USERNAME_LENGTH = 1024
MAX_PASSWORD_LENGTH = 32768


def length_violations(*, username: str | None, password: str | None) -> list[FieldViolation]:
    """A violation for each credential sent (not None) that is longer than its limit."""
    violations = []
    for field, value, limit in (
        ("username", username, MAX_USERNAME_LENGTH),
        ("password", password, MAX_PASSWORD_LENGTH),
    ):
        if value is not None and len(value) > limit:
            violations.append(
                FieldViolation(
                    field, f"is {len(value)} characters long; at most {limit} are allowed"
                )
            )
    return violations


def open_credentials(
    cipher: Cipher,
    stored: EncryptedCredentials,
    *,
    username: str | None = None,
    password: str | None = None,
    alternative: str = "",
) -> PullCredentials:
    """The credentials to send to a registry: those given, the stored ones (decrypted)
    for those not given. Unavailable if this server lacks the key they are under (a
    rotation under way: a restart brings it); `alternative` tells the caller what
    else would work."""
    from .ports import PullCredentials

    if username is None:
        username = cipher.reveal(stored.username)
    if password is None:
        password = cipher.reveal(stored.password)
    if username is None or password is None:
        raise Unavailable(
            "this server cannot open the stored credentials yet (they are encrypted "
            f"with a newer key); retry shortly{alternative}",
            reason="ENCRYPTION_KEY_NOT_LOADED",
        )
    return PullCredentials(username, password)
