"""Schemathesis against the OpenAPI description generated from the proto, through the
real gateway to the real server, authenticated: no 5xx, and every answer fits the
description (status code, content type, headers, body schema).

Bounded for CI: at most MAX_EXAMPLES generated cases per operation (10 operations).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks

from tests.support.api import basic_authorization

OPENAPI_FILE = (
    Path(__file__).resolve().parents[2] / "clients/go/gateway/openapi/extrepo.swagger.json"
)
MAX_EXAMPLES = 50

schema = schemathesis.openapi.from_path(OPENAPI_FILE)

# What the contract promises. Left out on purpose: positive_data_acceptance (a
# string the schema allows, like name "a", is still no repository name: the server
# answers 400) and negative_data_rejection (the gateway ignores unknown JSON keys, as
# the original API did).
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def auth_headers(server) -> dict[str, str]:
    name = "fuzzer"
    return {"Authorization": basic_authorization(name, server.create_user(name))}


def test_the_gateway_serves_this_description(gateway_url):
    import httpx

    r = httpx.get(f"{gateway_url}/api/repo/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == json.loads(OPENAPI_FILE.read_text())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms(case, gateway_url, auth_headers):
    case.call_and_validate(base_url=gateway_url, headers=auth_headers, checks=CHECKS)
