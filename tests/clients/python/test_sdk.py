"""The Python SDK against the real server: the original page's snippets as written,
paging, saving only what changed, and the typed exceptions."""

from __future__ import annotations

import json
import subprocess
import sys

import extrepo
import grpc
import pytest
from extrepo.v1 import repository_service_pb2 as pb

from .conftest import clean_environ, closed_address

# The original page's five Python snippets (shared/reference/docker-cloud-repository-api.html),
# verbatim; only the import name changes, below. `username` and `password` are the
# page's free variables: the reader's own.
ORIGINAL_SNIPPETS = {
    "list": """\
import dockercloud
repositories = dockercloud.Repository.list()
""",
    "create": """\
import dockercloud
repository = dockercloud.Repository.create(name="registry.local/user1/image1", username=username, password=password)
repository.save()
""",  # noqa: E501
    "fetch": """\
import dockercloud
repository = dockercloud.Repository.fetch("registry.local/user1/image1")
""",
    "update": """\
import dockercloud
repository = dockercloud.Repository.fetch("registry.local/user1/image1")
repository.username = "new username"
repository.password = "new password"
repository.save()
""",
    "delete": """\
import dockercloud
repository = dockercloud.Repository.fetch("registry.local/user1/image1")
repository.delete()
""",
}
SNIPPETS = {k: v.replace("dockercloud", "extrepo") for k, v in ORIGINAL_SNIPPETS.items()}
NAME = "registry.local/user1/image1"


def run_snippet(code: str, env: dict[str, str]) -> object:
    """Run a snippet as its own program; it prints what the test checks as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_original_pages_python_snippets_run_as_written(server, new_user, config_home):
    user = new_user("snippets")
    # Configured as the old SDK was: DOCKERCLOUD_USER and DOCKERCLOUD_APIKEY.
    env = {
        **clean_environ(config_home),
        "EXTREPO_ADDRESS": server.address,
        "DOCKERCLOUD_USER": user.name,
        "DOCKERCLOUD_APIKEY": user.api_key,
    }
    show = "\nimport json\nprint(json.dumps({}))\n"

    assert run_snippet(SNIPPETS["list"] + show.format("[r.name for r in repositories]"), env) == []

    created = run_snippet(
        'username = "puller"\npassword = "s3cret"\n'
        + SNIPPETS["create"]
        + show.format("[repository.resource_uri, repository.in_use]"),
        env,
    )
    assert created == [f"/api/repo/v1/{user.name}/repository/{NAME}/", False]
    assert server.admin_api.stored_credentials(user.name, NAME) == ("puller", "s3cret")

    assert run_snippet(SNIPPETS["list"] + show.format("[r.name for r in repositories]"), env) == [
        NAME
    ]

    fetched = run_snippet(
        SNIPPETS["fetch"] + show.format("[repository.name, repository.registry]"), env
    )
    assert fetched == [NAME, f"/api/repo/v1/{user.name}/registry/registry.local/"]

    run_snippet(SNIPPETS["update"] + show.format("repository.name"), env)
    assert server.admin_api.stored_credentials(user.name, NAME) == (
        "new username",
        "new password",
    )

    run_snippet(SNIPPETS["delete"] + show.format("repository.name"), env)
    client = extrepo.Client(server.address, username=user.name, api_key=user.api_key)
    with client, pytest.raises(extrepo.NotFound):
        client.get(NAME)


def test_list_follows_next_across_pages(recorded, repo_name):
    client, recorder = recorded
    names = sorted(repo_name(f"app{i}") for i in range(7))
    for name in names:
        client.create(name, "puller", "s3cret")
    recorder.calls.clear()

    assert [r.name for r in client.iter_repositories(page_size=3)] == names

    requests = [r for m, r in recorder.calls if m == "List"]
    assert [(r.limit, r.offset) for r in requests] == [(3, 0), (3, 3), (3, 6)]
    assert requests[0].cursor == "" and requests[1].cursor and requests[2].cursor


def test_repository_list_walks_every_page_and_honours_limit_and_filters(recorded, repo_name):
    client, recorder = recorded
    names = sorted(repo_name() for _ in range(27))  # more than the default page of 25
    for name in names:
        client.create(name, "puller", "s3cret")
    client.create("localhost:5000/team/app", "puller", "s3cret")
    recorder.calls.clear()

    listed = client.Repository.list()
    assert [r.name for r in listed] == sorted([*names, "localhost:5000/team/app"])
    assert recorder.methods() == ["List", "List"]
    assert all(isinstance(r, extrepo.Repository) for r in listed)

    recorder.calls.clear()
    assert [r.name for r in client.Repository.list(limit=4)] == [r.name for r in listed[:4]]
    assert recorder.methods() == ["List"]

    assert [r.name for r in client.Repository.list(registry="localhost:5000")] == [
        "localhost:5000/team/app"
    ]
    assert [r.name for r in client.Repository.list(name=names[3])] == [names[3]]
    with pytest.raises(TypeError, match="unknown filter"):
        client.Repository.list(image=names[3])


def test_save_sends_only_what_changed(recorded, server, user, repo_name):
    client, recorder = recorded
    name = repo_name()
    repository = client.Repository.create(name=name, username="puller", password="s3cret")
    assert repository.is_dirty
    assert repository.save() is True
    assert not repository.is_dirty
    assert repository.resource_uri == f"/api/repo/v1/{user.name}/repository/{name}/"
    assert repository.create_time is not None and repository.create_time.tzinfo is not None
    assert repository.username is None and repository.password is None, "write-only"

    fetched = client.Repository.fetch(name)
    recorder.calls.clear()
    assert fetched.save() is True
    assert recorder.calls == [], "nothing changed: nothing sent"

    fetched.password = "n3w-s3cret"
    fetched.save()
    [(method, request)] = recorder.calls
    assert method == "Update"
    assert request.HasField("password") and not request.HasField("username")
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "n3w-s3cret")

    recorder.calls.clear()
    fetched.username = "other"
    fetched.save()
    [(_, request)] = recorder.calls
    assert request.HasField("username") and not request.HasField("password")
    assert server.admin_api.stored_credentials(user.name, name) == ("other", "n3w-s3cret")

    with pytest.raises(AttributeError, match="never changes"):
        fetched.name = "registry.local/renamed"
    with pytest.raises(AttributeError, match="set by the server"):
        fetched.in_use = True

    assert fetched.delete() is True
    with pytest.raises(extrepo.NotFound):
        client.Repository.fetch(name)


def test_a_new_repository_needs_its_credentials_before_save(client, repo_name):
    repository = client.Repository.create(name=repo_name(), username="puller")
    with pytest.raises(ValueError, match="password"):
        repository.save()
    with pytest.raises(TypeError, match="unknown repository attribute"):
        client.Repository.create(name=repo_name(), image="x")


def test_refresh_reads_the_server_again(client, repo_name):
    name = repo_name()
    client.create(name, "puller", "s3cret")
    repository = client.Repository.fetch(name)
    before = repository.update_time
    client.update(name, password="changed")
    assert repository.refresh() is True
    assert repository.update_time is not None and before is not None
    assert repository.update_time > before


def test_module_level_settings_as_the_original_sdk(server, user, repo_name):
    name = repo_name()
    extrepo.address = server.address
    extrepo.user = user.name
    extrepo.apikey = user.api_key
    repository = extrepo.Repository.create(name=name, username="puller", password="s3cret")
    repository.save()
    assert [r.name for r in extrepo.Repository.list()] == [name]
    assert extrepo.Repository.fetch(name).namespace == user.name

    extrepo.apikey = "ek_wrong_key"
    with pytest.raises(extrepo.Unauthenticated):
        extrepo.Repository.list()


def test_namespace_of_an_organization(server, new_user, repo_name):
    owner, member = new_user("owner"), new_user("member")
    org = f"org{owner.name}"
    server.create_org(org, owner.name)
    server.add_member(org, member.name)
    name = repo_name()
    with extrepo.Client(
        server.address, username=owner.name, api_key=owner.api_key, namespace=org
    ) as client:
        client.Repository.create(name=name, username="puller", password="s3cret").save()
        assert client.Repository.fetch(name).namespace == org
    with extrepo.Client(server.address, username=member.name, api_key=member.api_key) as client:
        assert [r.name for r in client.Repository.list(namespace=org)] == [name]
        assert client.Repository.list() == []
        with pytest.raises(extrepo.PermissionDenied, match="owners"):
            client.Repository.create(
                namespace=org, name=repo_name(), username="puller", password="s3cret"
            ).save()


# -- each exception type -------------------------------------------------------------


def test_not_found(client, repo_name):
    with pytest.raises(extrepo.NotFound) as caught:
        client.Repository.fetch(repo_name())
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.from_server
    assert isinstance(caught.value, extrepo.ObjectNotFound)  # the original SDK's name


def test_already_exists(client, repo_name):
    name = repo_name()
    client.create(name, "puller", "s3cret")
    with pytest.raises(extrepo.AlreadyExists, match="already registered"):
        client.Repository.create(name=name, username="puller", password="s3cret").save()


def test_invalid_argument_carries_every_field_violation(client):
    with pytest.raises(extrepo.InvalidArgument) as caught:
        client.create("UBUNTU", "", "")
    fields = {v.field for v in caught.value.field_violations}
    assert fields == {"name", "username", "password"}
    assert all(v.description for v in caught.value.field_violations)


def test_unauthenticated(server, user):
    client = extrepo.Client(server.address, username=user.name, api_key="ek_x_wrong")
    with client, pytest.raises(extrepo.Unauthenticated) as caught:
        client.Repository.list()
    assert isinstance(caught.value, extrepo.AuthError)


def test_permission_denied(server, new_user, client):
    other = new_user("other")
    with pytest.raises(extrepo.PermissionDenied, match="no access"):
        client.Repository.list(namespace=other.name)


def test_unavailable_when_nothing_listens(user):
    client = extrepo.Client(closed_address(), username=user.name, api_key=user.api_key)
    with client, pytest.raises(extrepo.Unavailable) as caught:
        client.Repository.list()  # a read: retried with backoff first
    assert not caught.value.from_server


def test_no_credentials_is_a_config_error(server):
    with pytest.raises(extrepo.ConfigError, match="extrepo login"):
        extrepo.Client(server.address)


def test_the_generated_stubs_are_still_there(server, user):
    """The SDK sits beside extrepo.v1; code written against the stubs keeps working."""
    client = extrepo.Client(server.address, username=user.name, api_key=user.api_key)
    with client:
        response = client.list_page(pb.ListRequest(limit=1))
    assert response.meta.limit == 1 and response.meta.total_count == 0


# -- the registries those repositories live on -----------------------------------------


def test_registries_of_the_namespace_page_by_page(recorded, server, new_user):
    client, recorder = recorded
    hosts = ["a.example.com", "b.example.com", "localhost:5000"]
    for host in reversed(hosts):
        client.create(f"{host}/team/app", "puller", "s3cret")
    client.create("a.example.com/team/other", "puller", "s3cret")
    recorder.calls.clear()

    listed = list(client.iter_registries(page_size=2))
    assert [r.host for r in listed] == hosts
    requests = [r for m, r in recorder.calls if m == "ListRegistries"]
    assert [(r.limit, r.offset) for r in requests] == [(2, 0), (2, 2)]
    assert requests[0].cursor == "" and requests[1].cursor
    assert [r.repository_count for r in listed] == [2, 1, 1]

    local = client.registry("localhost:5000")
    assert (local.port, local.is_ssl, local.name) == (5000, True, "localhost:5000")
    assert local.resource_uri == f"/api/repo/v1/{local.namespace}/registry/localhost:5000/"
    with pytest.raises(extrepo.NotFound, match="is not used by any repository"):
        client.registry("c.example.com")
    with pytest.raises(extrepo.InvalidArgument) as bad:
        client.registry("Not A Host")
    assert [v.field for v in bad.value.field_violations] == ["host"]
    outsider = new_user("outsider")
    with extrepo.Client(server.address, username=outsider.name, api_key=outsider.api_key) as other:
        assert list(other.iter_registries()) == []
        with pytest.raises(extrepo.PermissionDenied):
            other.registry("a.example.com", namespace=local.namespace)
