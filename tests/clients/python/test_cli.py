"""The `extrepo` command, run as a process against the real server: every command
and flag, JSON output, exit codes, several names at once, and where settings come from."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from .conftest import closed_address
from .proxy import Proxy

REPO_ROOT = Path(__file__).resolve().parents[3]


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_version_and_help(bare_cli):
    version = (REPO_ROOT / "VERSION").read_text().strip()
    assert bare_cli.ok("--version") == f"extrepo {version}\n"
    top = bare_cli.ok("--help")
    assert "Examples:" in top and "Exit codes:" in top and "DOCKERCLOUD_APIKEY" in top
    group = bare_cli.ok("repository", "--help")
    for command in ("ls", "register", "inspect", "update", "rm"):
        assert f"  {command} " in group
        assert "Examples:" in bare_cli.ok("repository", command, "--help")
    assert "Examples:" in bare_cli.ok("login", "--help")
    assert "-u, -n, --username" in bare_cli.ok("repository", "update", "-h")


def test_the_original_verbs_in_order(cli, server, user, repo_name):
    name = repo_name()
    assert cli.ok("repository", "ls") == "NAME   IN_USE\n"
    assert cli.ok("repository", "register", "-u", "puller", "-p", "s3cret", name) == name + "\n"
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "s3cret")

    table = lines(cli.ok("repository", "ls"))
    assert table[0].split() == ["NAME", "IN_USE"]
    assert table[1].split() == [name, "no"]
    assert table[0].index("IN_USE") == table[1].index("no"), "columns line up"
    assert cli.ok("repository", "ls", "-q") == name + "\n"

    shown = cli.ok("repository", "inspect", name)
    assert shown.startswith('{\n  "create_time": ')  # JSON, indent 2, keys in order
    inspected = json.loads(shown)
    assert inspected["name"] == name and inspected["in_use"] is False
    assert inspected["resource_uri"] == f"/api/repo/v1/{user.name}/repository/{name}/"
    assert "password" not in shown and "s3cret" not in shown

    # The original docs' -n and the original CLI's -u both name the username.
    assert cli.ok("repository", "update", "-n", "new username", "-p", "new password", name) == (
        name + "\n"
    )
    assert server.admin_api.stored_credentials(user.name, name) == ("new username", "new password")
    cli.ok("repository", "update", "-u", "puller", name)
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "new password")

    assert cli.ok("repository", "rm", name) == name + "\n"
    assert cli.ok("repository", "ls", "-q") == ""


def test_ls_filters_and_json_output(cli, user, repo_name):
    names = sorted([repo_name(), repo_name()])
    for name in [*names, "localhost:5000/team/app"]:
        cli.ok("repository", "register", "-u", "puller", "-p", "s3cret", name)

    listed = json.loads(cli.ok("repository", "ls", "-o", "json"))
    assert [r["name"] for r in listed] == ["localhost:5000/team/app", *names]
    assert all(r["namespace"] == user.name and r["in_use"] is False for r in listed)
    # --output also goes before the command.
    assert json.loads(cli.ok("--output", "json", "repository", "ls")) == listed

    assert lines(cli.ok("repository", "ls", "-q", "--registry", "localhost:5000")) == [
        "localhost:5000/team/app"
    ]
    assert lines(cli.ok("repository", "ls", "-q", "--name", names[1])) == [names[1]]

    registered = json.loads(
        cli.ok("repository", "register", "-o", "json", "-u", "u", "-p", "p", repo_name())
    )
    assert registered["in_use"] is False and registered["registry"].endswith("/registry.local/")
    updated = json.loads(cli.ok("-o", "json", "repository", "update", "-p", "x", *names))
    assert [r["name"] for r in updated] == names
    inspected = json.loads(cli.ok("repository", "inspect", "-o", "json", *names))
    assert [r["name"] for r in inspected] == names
    assert json.loads(cli.ok("repository", "rm", "-o", "json", *names)) == [
        {"name": n} for n in names
    ]


def test_several_names_with_one_failing(cli, repo_name):
    first, missing, last = repo_name(), repo_name(), repo_name()
    for name in (first, last):
        cli.ok("repository", "register", "-u", "puller", "-p", "s3cret", name)

    inspected = cli("repository", "inspect", first, missing, last)
    assert inspected.returncode == 1
    decoder = json.JSONDecoder()
    one, end = decoder.raw_decode(inspected.stdout)
    two, _ = decoder.raw_decode(inspected.stdout[end:].lstrip())
    assert [one["name"], two["name"]] == [first, last]
    assert inspected.stderr == f"Error: Cannot find a repository with the identifier '{missing}'\n"

    updated = cli("repository", "update", "-p", "n3w", first, missing, last)
    assert (updated.returncode, lines(updated.stdout)) == (1, [first, last])
    assert missing in updated.stderr

    removed = cli("repository", "rm", first, missing, last)
    assert (removed.returncode, lines(removed.stdout)) == (1, [first, last])
    assert lines(removed.stderr) == [
        f"Error: Cannot find a repository with the identifier '{missing}'"
    ]
    assert cli.ok("repository", "ls", "-q") == ""


def test_messages_a_person_understands(cli, repo_name):
    name = repo_name()
    cli.ok("repository", "register", "-u", "puller", "-p", "s3cret", name)
    again = cli("repository", "register", "-u", "puller", "-p", "s3cret", name)
    assert again.returncode == 1
    assert again.stderr == (f"Error: repository '{name}' is already registered in this namespace\n")

    refused = cli("repository", "register", "-u", "", "-p", "", "UBUNTU")
    assert refused.returncode == 1
    [first, *violations] = lines(refused.stderr)
    assert first == "Error: UBUNTU: the request was refused:"
    # Every bad field, one per line, all at once.
    assert sorted(v.split(":")[0].strip() for v in violations) == ["name", "password", "username"]

    long_name = "registry.local/" + "a" * 300
    too_long = cli("repository", "inspect", long_name)
    assert too_long.returncode == 1 and long_name not in too_long.stderr
    for result in (again, refused, too_long):
        assert "Traceback" not in result.stderr


def test_password_stdin(cli, server, user, repo_name):
    name = repo_name()
    cli.ok("repository", "register", "-u", "puller", "--password-stdin", name, input="s3cret\n")
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "s3cret")
    cli.ok("repository", "update", "--password-stdin", name, input="with space\r\n")
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "with space")

    both = cli("repository", "update", "-p", "x", "--password-stdin", name, input="y")
    assert both.returncode == 2 and "cannot be used together" in both.stderr
    no_user = cli("repository", "register", "--password-stdin", repo_name(), input="y")
    assert no_user.returncode == 2 and "needs --username" in no_user.stderr
    empty = cli("repository", "register", "-u", "u", "--password-stdin", repo_name(), input="")
    assert empty.returncode == 2 and "no password on stdin" in empty.stderr


def test_nothing_asked_without_a_terminal(cli, repo_name):
    result = cli("repository", "register", repo_name())
    assert result.returncode == 2
    assert "no terminal to ask on" in result.stderr
    nothing = cli("repository", "update", repo_name())
    assert nothing.returncode == 2 and "nothing to update" in nothing.stderr


def test_exit_codes(cli, bare_cli, server, user):
    assert cli("repository", "ls", "--bogus").returncode == 2
    assert cli("repository", "inspect").returncode == 2  # a name is required

    no_credentials = bare_cli("--address", server.address, "repository", "ls")
    assert no_credentials.returncode == 2
    assert "no credentials: run 'extrepo login'" in no_credentials.stderr

    wrong_key = cli("repository", "ls", env={"EXTREPO_API_KEY": "ek_x_wrong"})
    assert wrong_key.returncode == 1
    assert "check EXTREPO_USERNAME and EXTREPO_API_KEY" in wrong_key.stderr

    unreachable = cli("--address", closed_address(), "repository", "rm", "registry.local/a/b")
    assert unreachable.returncode == 1
    assert "cannot reach the extrepo server at 127.0.0.1:" in unreachable.stderr

    bad_setting = cli("repository", "ls", env={"EXTREPO_TIMEOUT": "soon"})
    assert bad_setting.returncode == 2 and "EXTREPO_TIMEOUT" in bad_setting.stderr


def test_timeout(cli, server):
    with Proxy(server.address, hold=True) as proxy:
        held = cli("--address", proxy.address, "--timeout", "0.5", "repository", "ls")
        assert held.returncode == 1
        assert "did not answer within 0.5 s" in held.stderr
        from_env = cli(
            "repository", "rm", "registry.local/a/b",
            env={"EXTREPO_ADDRESS": proxy.address, "EXTREPO_TIMEOUT": "0.3"},
        )  # fmt: skip
        assert "did not answer within 0.3 s" in from_env.stderr


def test_namespace_flag_and_organizations(cli, server, new_user, user, repo_name):
    owner = new_user("owner")
    org = f"org{owner.name}"
    server.create_org(org, owner.name)
    server.add_member(org, user.name)
    owner_env = {"EXTREPO_USERNAME": owner.name, "EXTREPO_API_KEY": owner.api_key}
    name = repo_name()
    cli.ok("repository", "register", "--namespace", org, "-u", "u", "-p", "p", name, env=owner_env)
    cli.ok("repository", "update", "--namespace", org, "-p", "p2", name, env=owner_env)
    assert server.admin_api.stored_credentials(org, name) == ("u", "p2")

    # The member reads the organization's repositories (flag before or after the command).
    assert cli.ok("--namespace", org, "repository", "ls", "-q") == name + "\n"
    assert cli.ok("repository", "ls", "-q", "--namespace", org) == name + "\n"
    assert json.loads(cli.ok("repository", "inspect", "--namespace", org, name))["namespace"] == org
    assert cli.ok("repository", "ls", "-q") == ""

    denied = cli("repository", "rm", "--namespace", org, name)
    assert denied.returncode == 1 and "owners" in denied.stderr
    missing = cli("repository", "inspect", "--namespace", org, repo_name())
    assert f"in namespace '{org}'" in missing.stderr


def test_login_stores_an_owner_only_config_and_logout_removes_it(
    bare_cli, server, user, config_file, repo_name
):
    logged_in = bare_cli(
        "--address", server.address, "login", "-u", user.name, "--api-key-stdin",
        input=user.api_key + "\n",
    )  # fmt: skip
    assert logged_in.returncode == 0, logged_in.stderr
    assert logged_in.stdout == f"Login Succeeded: {user.name} on {server.address}\n"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    stored = json.loads(config_file.read_text())
    assert stored == {"address": server.address, "username": user.name, "api_key": user.api_key}

    # No flags, no environment: the stored settings are enough.
    name = repo_name()
    bare_cli.ok("repository", "register", "-u", "puller", "-p", "s3cret", name)
    assert bare_cli.ok("repository", "ls", "-q") == name + "\n"

    assert bare_cli.ok("logout") == f"Removed {config_file}\n"
    assert not config_file.exists()
    assert bare_cli("repository", "ls").returncode == 2
    assert "Not logged in" in bare_cli.ok("logout")


def test_login_refuses_a_wrong_key_and_stores_nothing(bare_cli, server, user, config_file):
    refused = bare_cli("--address", server.address, "login", "-u", user.name, "-p", "ek_x_bad")
    assert refused.returncode == 1 and "check EXTREPO_USERNAME" in refused.stderr
    assert not config_file.exists()
    both = bare_cli("login", "-u", "x", "-p", "y", "--password-stdin", input="z")
    assert both.returncode == 2


def test_config_flag_and_environment_variable(bare_cli, server, user, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    bare_cli.ok(
        "--config", str(elsewhere), "--address", server.address, "login",
        "-u", user.name, "--password", user.api_key,
    )  # fmt: skip
    assert json.loads(elsewhere.read_text())["username"] == user.name
    assert bare_cli("repository", "ls").returncode == 2  # the default file is still empty
    assert bare_cli.ok("--config", str(elsewhere), "repository", "ls") == "NAME   IN_USE\n"
    assert bare_cli.ok("repository", "ls", env={"EXTREPO_CONFIG": str(elsewhere)}) == (
        "NAME   IN_USE\n"
    )


def test_settings_precedence(bare_cli, server, new_user, config_file, repo_name):
    """Flags, then EXTREPO_*, then DOCKERCLOUD_*, then the config file."""
    users = {key: new_user(key) for key in ("stored", "extrepo", "dockercloud")}
    # Made before any call: the server trusts what it knows of a key's user for seconds.
    org = f"org{users['stored'].name}"
    server.create_org(org, users["stored"].name)
    for key, owner in users.items():
        env = {
            "EXTREPO_ADDRESS": server.address,
            "EXTREPO_USERNAME": owner.name,
            "EXTREPO_API_KEY": owner.api_key,
        }
        bare_cli.ok(
            "repository", "register", "-u", "u", "-p", "p", f"registry.local/{key}/app", env=env
        )
    stored = users["stored"]
    bare_cli.ok("--address", server.address, "login", "-u", stored.name, "-p", stored.api_key)

    def whose(env: dict[str, str] | None = None, *flags: str) -> str:
        listed = bare_cli.ok(*flags, "repository", "ls", "-q", env=env).split()
        assert len(listed) == 1, listed
        return listed[0].split("/")[1]

    extrepo_env = {
        "EXTREPO_USERNAME": users["extrepo"].name,
        "EXTREPO_API_KEY": users["extrepo"].api_key,
    }
    dockercloud_env = {
        "DOCKERCLOUD_USER": users["dockercloud"].name,
        "DOCKERCLOUD_APIKEY": users["dockercloud"].api_key,
    }
    assert whose() == "stored"
    assert whose(dockercloud_env) == "dockercloud"
    assert whose(extrepo_env) == "extrepo"
    assert whose({**dockercloud_env, **extrepo_env}) == "extrepo"

    # The address: flag over EXTREPO_ADDRESS over the stored one.
    nowhere = closed_address()
    assert (
        bare_cli("repository", "rm", "x.local/a", env={"EXTREPO_ADDRESS": nowhere}).returncode == 1
    )
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "address": nowhere}))
    assert whose({"EXTREPO_ADDRESS": server.address}) == "stored"
    assert whose({"EXTREPO_ADDRESS": nowhere}, "--address", server.address) == "stored"

    # The namespace: --namespace over EXTREPO_NAMESPACE over DOCKERCLOUD_NAMESPACE.
    env = {"EXTREPO_ADDRESS": server.address}
    bare_cli.ok(
        "repository",
        "register",
        "--namespace",
        org,
        "-u",
        "u",
        "-p",
        "p",
        "registry.local/org/app",
        env=env,
    )
    assert whose({**env, "DOCKERCLOUD_NAMESPACE": org}) == "org"
    assert whose({**env, "DOCKERCLOUD_NAMESPACE": "nobody", "EXTREPO_NAMESPACE": org}) == "org"
    assert whose({**env, "EXTREPO_NAMESPACE": "nobody"}, "--namespace", org) == "org"


def test_shell_completion(cli, repo_name):
    script = cli.ok("completion", "bash")
    assert "_EXTREPO_COMPLETE" in script and "complete " in script
    assert "compdef" in cli.ok("completion", "zsh")
    assert "--command extrepo" in cli.ok("completion", "fish")
    name = repo_name()
    cli.ok("repository", "register", "-u", "u", "-p", "p", name)
    prefix = name.rsplit("/", 1)[0]
    completed = cli(
        env={
            "_EXTREPO_COMPLETE": "bash_complete",
            "COMP_WORDS": f"extrepo repository inspect {prefix}",
            "COMP_CWORD": "3",
        }
    )
    assert completed.returncode == 0
    assert completed.stdout.splitlines() == [f"plain,{name}"]
    commands = cli(
        env={
            "_EXTREPO_COMPLETE": "bash_complete",
            "COMP_WORDS": "extrepo repository r",
            "COMP_CWORD": "2",
        }
    )
    assert "register" in commands.stdout and "rm" in commands.stdout


def test_the_cli_never_writes_the_api_key_anywhere_but_the_config(cli, user, config_file):
    results = [
        cli("repository", "ls"),
        cli("repository", "inspect", "registry.local/none"),
        cli("repository", "ls", env={"EXTREPO_USERNAME": "someone-else"}),
    ]
    for result in results:
        assert user.api_key not in result.stdout + result.stderr
    assert not os.path.exists(config_file)
