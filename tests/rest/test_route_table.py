"""Which RPC every path reaches, read from the server's own call log.

`{name=**}` also matches zero segments, and grpc-gateway tries the handler
registered last first: a wrong order or a lost gateway option would send
`GET .../repository` to Get with an empty name. Each row makes one request as a
fresh caller and reads the server's `call` lines for that caller: the RPC must be
the one named, or none at all for the gateway's own 404/405.
"""

from __future__ import annotations

import json
import time

import pytest

SVC = "/extrepo.v1.RepositoryService/"
REGISTRIES = "/extrepo.v1.RegistryService/"
REPO = "reg.io/team/app"
BODY = {"name": "new.io/x/y", "username": "u", "password": "p"}

# (method, path, RPC or None, HTTP status). {ns} is an organization the caller owns.
ROUTES = [
    ("GET", "/api/repo/v1/repository", "List", 200),
    ("GET", "/api/repo/v1/repository/", "List", 200),
    ("GET", "/api/repo/v1/{ns}/repository", "List", 200),
    ("GET", "/api/repo/v1/{ns}/repository/", "List", 200),
    ("POST", "/api/repo/v1/repository", "Create", 201),
    ("POST", "/api/repo/v1/repository/", "Create", 201),
    ("POST", "/api/repo/v1/{ns}/repository/", "Create", 201),
    ("GET", f"/api/repo/v1/repository/{REPO}", "Get", 200),
    ("GET", f"/api/repo/v1/repository/{REPO}/", "Get", 200),
    ("GET", f"/api/repo/v1/{{ns}}/repository/{REPO}/", "Get", 200),
    ("GET", "/api/repo/v1/repository/reg.io%2Fteam%2Fapp/", "Get", 200),
    ("GET", "/api/repo/v1/repository/localhost:5000/team/app/", "Get", 404),
    ("PATCH", f"/api/repo/v1/repository/{REPO}/", "Update", 200),
    ("PATCH", f"/api/repo/v1/{{ns}}/repository/{REPO}", "Update", 200),
    ("DELETE", f"/api/repo/v1/repository/{REPO}/", "Delete", 204),
    ("DELETE", f"/api/repo/v1/{{ns}}/repository/{REPO}", "Delete", 204),
    # Get with an empty name: `repository//` keeps an empty segment after the one
    # stripped slash; it reaches Get, which refuses the empty name.
    ("GET", "/api/repo/v1/repository//", "Get", 400),
    # A namespace literally named `repository` is the one overlap of the two
    # bindings: the namespaced List wins, and the server refuses the reserved word.
    ("GET", "/api/repo/v1/repository/repository/", "List", 400),
    # The gateway's own answers: no RPC.
    ("PATCH", "/api/repo/v1/repository/", None, 405),
    ("DELETE", "/api/repo/v1/{ns}/repository", None, 405),
    ("POST", f"/api/repo/v1/repository/{REPO}/", None, 405),
    ("PUT", f"/api/repo/v1/repository/{REPO}/", None, 405),
    ("GET", "/api/repo/v1/", None, 404),
    ("GET", "/api/repo/v1/{ns}/", None, 404),
    # The Registry resource (a full method name: another service).
    ("GET", "/api/repo/v1/{ns}/registry/reg.io/", REGISTRIES + "GetRegistry", 200),
    ("GET", "/api/repo/v1/registry/reg.io", REGISTRIES + "GetRegistry", 200),
    ("GET", "/api/repo/v1/registry/localhost:5000/", REGISTRIES + "GetRegistry", 404),
    ("GET", "/api/repo/v1/registry/", REGISTRIES + "ListRegistries", 200),
    ("GET", "/api/repo/v1/{ns}/registry", REGISTRIES + "ListRegistries", 200),
    ("POST", "/api/repo/v1/{ns}/registry/", None, 405),
    # A custom action after the name; a name with a port still reaches it whole.
    ("POST", f"/api/repo/v1/repository/{REPO}:validate/", "ValidateRepository", 200),
    ("POST", f"/api/repo/v1/{{ns}}/repository/{REPO}:validate", "ValidateRepository", 200),
    ("POST", "/api/repo/v1/repository/localhost:5000/a:validate/", "ValidateRepository", 200),
    ("GET", "/api/repo/v2/repository/", None, 404),
]


def calls(server, caller: str) -> list[str]:
    out = []
    for line in server.log_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "call" and entry.get("caller") == caller:
            out.append(entry["method"])
    return out


def wait_calls(server, caller: str, count: int) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        seen = calls(server, caller)
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


@pytest.mark.parametrize(("method", "path", "rpc", "status"), ROUTES)
def test_route(http_as, new_user, server, method, path, rpc, status):
    user = new_user("route")
    org = user.name + "org"
    server.create_org(org, user.name)
    http = http_as(user)
    for prefix in ("/api/repo/v1/repository/", f"/api/repo/v1/{org}/repository/"):
        r = http.post(prefix, json={"name": REPO, "username": "u", "password": "p"})
        assert r.status_code == 201, r.text
    before = len(wait_calls(server, user.name, 2))

    kwargs = {"json": BODY if method == "POST" else {"password": "p2"}}
    if method in ("GET", "DELETE"):
        kwargs = {}
    r = http.request(method, path.replace("{ns}", org), **kwargs)
    assert r.status_code == status, r.text

    if rpc is None:
        # A request that surely reaches List marks the end: nothing else came between.
        assert http.get("/api/repo/v1/repository/").status_code == 200
        assert wait_calls(server, user.name, before + 1)[before:] == [SVC + "List"]
    else:
        method_name = rpc if rpc.startswith("/") else SVC + rpc
        assert wait_calls(server, user.name, before + 1)[before:] == [method_name]
