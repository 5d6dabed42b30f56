"""Schemathesis against the OpenAPI description generated from the proto, through the
real gateway to the real server, authenticated and not: no 5xx, every answer fits the
description (status code, content type, headers, body schema: error answers too, whose
body the description declares as the gateway's), and no error tells of the inside.

Bounded for CI: at most MAX_EXAMPLES generated cases per operation (10 operations), and
ANONYMOUS_EXAMPLES without credentials.
"""

from __future__ import annotations

import json
import re
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
ANONYMOUS_EXAMPLES = 10

schema = schemathesis.openapi.from_path(OPENAPI_FILE)

# What the contract promises. Left out on purpose: positive_data_acceptance (a
# string the schema allows, like name "a", is still no repository name: the server
# answers 400) and negative_data_rejection (the gateway ignores unknown JSON keys, as
# the original API did).
# What no answer may show: the backend's address, the gRPC libraries' texts, a
# traceback or a Python or Go name.
INSIDE = re.compile(
    r"127\.0\.0\.1|dial tcp|connection refused|grpc[:_ ]|metadata|Traceback|<class |strconv\."
)


def no_inside_details(ctx, response, case) -> None:
    """An error answer says what the caller did wrong, and nothing of the inside. What
    the caller sent (a namespace `grpc_code`) may be quoted back: it is left out."""
    if response.status_code < 400:
        return
    text = response.text
    sent = [*(case.path_parameters or {}).values(), *(case.query or {}).values()]
    for value in sorted((str(v) for v in sent if v), key=len, reverse=True):
        text = text.replace(value, "")
    if INSIDE.search(text):
        raise AssertionError(f"the answer tells of the inside: {response.text[:300]}")


CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    no_inside_details,
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


@schema.parametrize()
@settings(
    max_examples=ANONYMOUS_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_without_credentials(case, gateway_url):
    """Every operation answers a call without credentials (401; 400, 405 or 415 for a
    request the gateway refuses first) with the error body the description declares."""
    response = case.call_and_validate(base_url=gateway_url, checks=CHECKS)
    assert response.status_code in (400, 401, 405, 415), response.text
