"""Quoting a caller's input in an error message: a short, printable prefix."""

from __future__ import annotations

import pytest
from extrepo_server.domain.errors import QUOTE_LIMIT, quote


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("reg.io", "'reg.io'"),
        ("", "''"),
        ("x" * QUOTE_LIMIT, "'" + "x" * QUOTE_LIMIT + "'"),
        ("x" * (QUOTE_LIMIT + 1), "'" + "x" * QUOTE_LIMIT + "...'"),
        ("a\nb\x00c", "'a\\nb\\x00c'"),
        ("\u202eevil", "'\\u202eevil'"),
        ("café ünïcode", "'café ünïcode'"),
    ],
)
def test_a_quote_is_a_bounded_printable_prefix(value, quoted):
    assert quote(value) == quoted


def test_a_megabyte_is_quoted_in_a_few_characters():
    assert len(quote("y" * 1_000_000)) == QUOTE_LIMIT + len("'...'")
    assert quote("abcdef", 3) == "'abc...'"
