"""What `extrepo` asks on a terminal, driven through a pseudo-terminal with pexpect:
prompts for what is missing, the secret never echoed."""

from __future__ import annotations

import json
import stat

import pexpect
import pytest

from .conftest import EXTREPO


def spawn(cli, *args: str) -> pexpect.spawn:
    return pexpect.spawn(EXTREPO, list(args), env=cli.env, encoding="utf-8", timeout=30)


def finish(child: pexpect.spawn) -> tuple[str, int]:
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


def test_register_asks_for_username_and_hidden_password(cli, server, user, repo_name):
    name = repo_name()
    child = spawn(cli, "repository", "register", name)
    child.expect_exact("Username: ")
    child.sendline("puller")
    child.expect_exact("Password: ")
    child.sendline("s3cret-typed")
    output, status = finish(child)
    assert status == 0
    assert output.strip() == name
    assert "s3cret-typed" not in output, "the password is not echoed"
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "s3cret-typed")


def test_register_asks_only_for_what_is_missing(cli, server, user, repo_name):
    name = repo_name()
    child = spawn(cli, "repository", "register", "-u", "puller", name)
    index = child.expect_exact(["Username: ", "Password: "])
    assert index == 1
    child.sendline("only-the-password")
    output, status = finish(child)
    assert status == 0 and "only-the-password" not in output
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "only-the-password")


def test_an_empty_answer_is_asked_again(cli, server, user, repo_name):
    name = repo_name()
    child = spawn(cli, "repository", "register", "-p", "s3cret", name)
    child.expect_exact("Username: ")
    child.sendline("")
    child.expect_exact("Username: ")
    child.sendline("puller")
    _, status = finish(child)
    assert status == 0
    assert server.admin_api.stored_credentials(user.name, name) == ("puller", "s3cret")


def test_login_asks_and_stores(bare_cli, server, user, config_file):
    child = spawn(bare_cli, "--address", server.address, "login")
    child.expect_exact("Username: ")
    child.sendline(user.name)
    child.expect_exact("API key: ")
    child.sendline(user.api_key)
    output, status = finish(child)
    assert status == 0, output
    assert f"Login Succeeded: {user.name}" in output
    assert user.api_key not in output
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert json.loads(config_file.read_text())["api_key"] == user.api_key

    # A second login offers the stored username as the default.
    child = spawn(bare_cli, "login")
    child.expect_exact(f"Username [{user.name}]: ")
    child.sendline("")
    child.expect_exact("API key: ")
    child.sendline("ek_x_wrong")
    output, status = finish(child)
    assert status == 1 and "invalid username or API key" in output
    assert json.loads(config_file.read_text())["api_key"] == user.api_key, "kept"


@pytest.mark.parametrize("interrupt", ["\x03", "\x04"])
def test_interrupting_a_prompt_stops_without_a_traceback(cli, repo_name, interrupt):
    child = spawn(cli, "repository", "register", repo_name())
    child.expect_exact("Username: ")
    child.send(interrupt)
    output, status = finish(child)
    assert status == 1
    assert "Aborted" in output and "Traceback" not in output
