"""Fixtures for the REST-only cases: raw httpx clients on the real gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.api import basic_authorization
from tests.support.rest_api import make_client


@pytest.fixture
def http_as(gateway_url) -> Iterator[Callable[..., httpx.Client]]:
    """`http_as(user)`: an httpx client on the gateway with that user's Basic credentials;
    `http_as(None)` sends none."""
    clients: list[httpx.Client] = []

    def make(user=None) -> httpx.Client:
        auth = basic_authorization(user.name, user.api_key) if user else None
        client = make_client(gateway_url, auth)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def user(new_user):
    return new_user("rest")


@pytest.fixture
def http(http_as, user) -> httpx.Client:
    """A fresh user's authenticated client."""
    return http_as(user)
