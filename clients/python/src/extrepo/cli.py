"""`extrepo`: the command line, with the original `docker-cloud repository` verbs.

    extrepo login
    extrepo repository ls [-q]
    extrepo repository register [-u USER] [-p PASS | --password-stdin] NAME
    extrepo repository inspect NAME...
    extrepo repository update [-u|-n USER] [-p PASS | --password-stdin] NAME...
    extrepo repository rm NAME...
    extrepo repository validate [-u USER] [-p PASS | --password-stdin] NAME...

Commands that take several names try each one, print each name done on stdout and each
failure on stderr, and exit 1 at the end if any failed. Exit 2: the command line or
the settings are wrong (nothing was tried).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from click.shell_completion import CompletionItem, get_completion_class
from google.protobuf import json_format

from . import config
from ._version import __version__
from .client import Client
from .errors import (
    ConfigError,
    DeadlineExceeded,
    ExtrepoError,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from .v1 import repository_service_pb2 as pb

EXIT_FAILED = 1
EXIT_USAGE = 2
SHELLS = ("bash", "zsh", "fish")
_F = TypeVar("_F", bound=Callable[..., Any])

# The columns of `ls`. When repositories carry a verification state (the registries
# issue), it is one more entry here.
COLUMNS: list[tuple[str, Callable[[pb.Repository], str]]] = [
    ("NAME", lambda r: r.name),
    ("IN_USE", lambda r: "yes" if r.in_use else "no"),
]


def short(text: str, limit: int = 80) -> str:
    """At most a short prefix of what the user typed, for messages."""
    return text if len(text) <= limit else text[:limit] + "..."


def as_dict(repository: pb.Repository) -> dict[str, Any]:
    """The repository as the REST API shows it (snake_case keys, in_use always there)."""
    return json_format.MessageToDict(
        repository, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def print_json(value: Any) -> None:
    # Sorted keys: the original API's order (in_use, name, registry, resource_uri).
    click.echo(json.dumps(value, indent=2, sort_keys=True))


# -- settings and client ----------------------------------------------------------


class State:
    """The root options; every command makes its client from them."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def resolve(self, namespace: str | None = None, **overrides: Any) -> config.Settings:
        """The settings: these options over the environment and the config file."""
        o = self.options
        given = {
            "address": o.get("address"),
            "namespace": namespace if namespace is not None else o.get("namespace"),
            "tls": o.get("tls"),
            "tls_ca_file": o.get("tls_ca_file"),
            "tls_client_cert_file": o.get("tls_client_cert"),
            "tls_client_key_file": o.get("tls_client_key"),
            "tls_server_name": o.get("tls_server_name"),
            "timeout": o.get("timeout"),
            **overrides,
        }
        return config.resolve(given, config_file=o.get("config_file"))

    def settings(self, namespace: str | None = None, **overrides: Any) -> config.Settings:
        try:
            return self.resolve(namespace, **overrides)
        except ConfigError as exc:
            fail_usage(exc.message)

    def client(self, namespace: str | None = None) -> Client:
        settings = self.settings(namespace)
        try:
            return Client(settings=settings)
        except ConfigError as exc:
            fail_usage(exc.message)

    def output(self, output: str | None) -> str:
        return output or self.options.get("output") or "table"

    def config_path(self) -> Path:
        given = self.options.get("config_file")
        return Path(given) if given else config.config_path()


def fail_usage(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def describe(error: ExtrepoError, settings: config.Settings, name: str | None = None) -> str:
    """A message a person can act on, without a traceback."""
    # The name leads the message, unless the server's message already says it.
    subject = f"{short(name)}: " if name and name not in error.message else ""
    if isinstance(error, NotFound) and name:
        where = f" in namespace '{short(settings.namespace)}'" if settings.namespace else ""
        return f"Cannot find a repository with the identifier '{short(name)}'{where}"
    if isinstance(error, InvalidArgument) and error.field_violations:
        # The violations say what is wrong, not which name: lead with the name.
        lead = f"{short(name)}: " if name else ""
        lines = [f"{lead}the request was refused:"]
        lines += [f"  {v.field}: {v.description}" for v in error.field_violations]
        return "\n".join(lines)
    if isinstance(error, Unauthenticated):
        return (
            f"{error.message} (check EXTREPO_USERNAME and EXTREPO_API_KEY, or run 'extrepo login')"
        )
    if isinstance(error, Unavailable) and not error.from_server:
        return (
            f"cannot reach the extrepo server at {settings.address}: is it running, and "
            f"are --address (EXTREPO_ADDRESS) and the TLS settings right?\n"
            f"  ({short(error.message, 200)})"
        )
    if isinstance(error, DeadlineExceeded):
        return (
            f"{subject}the server at {settings.address} did not answer within "
            f"{settings.timeout:g} s (--timeout, EXTREPO_TIMEOUT)"
        )
    return f"{subject}{error.message}"


def report(error: ExtrepoError, settings: config.Settings, name: str | None = None) -> None:
    click.echo(f"Error: {describe(error, settings, name)}", err=True)


def for_each(
    names: Iterable[str], settings: config.Settings, action: Callable[[str], Any]
) -> tuple[list[Any], bool]:
    """Run `action` for every name, reporting failures as they happen; returns the
    results of those that worked and whether any failed."""
    results, failed = [], False
    for name in names:
        try:
            results.append(action(name))
        except ExtrepoError as exc:
            report(exc, settings, name)
            failed = True
    return results, failed


# -- shell completion of repository names ------------------------------------------


def complete_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Repository names for shell completion: nothing, and nothing printed, when the
    server cannot be asked; at most 2 s, since someone is waiting on a TAB."""
    state = State(dict(ctx.find_root().params))
    try:
        settings = state.resolve(ctx.params.get("namespace"), timeout=2)
        with Client(settings=settings) as client:
            names = [r.name for r in client.iter_repositories()]
    except ExtrepoError:
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


# -- the commands ----------------------------------------------------------------


def leaf_options(command: _F) -> _F:
    """`--namespace` and `--output`, also accepted after the command's name."""
    command = click.option(
        "--namespace",
        metavar="NAMESPACE",
        help="An organization (or user) namespace; default: your own.",
    )(command)
    command = click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json"]),
        help="table (default) or json.",
    )(command)
    return command


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  extrepo login                                  # address, username, API key
  extrepo repository ls
  extrepo repository register -u puller registry.local/user1/image1
  extrepo repository inspect registry.local/user1/image1
  extrepo repository update -u puller -p s3cret registry.local/user1/image1
  extrepo repository rm registry.local/user1/image1
  extrepo --namespace acme repository ls -o json

\b
Settings, highest first: flags; EXTREPO_ADDRESS, EXTREPO_USERNAME,
EXTREPO_API_KEY, EXTREPO_NAMESPACE, EXTREPO_TLS, EXTREPO_TLS_CA_FILE,
EXTREPO_TLS_CLIENT_CERT_FILE, EXTREPO_TLS_CLIENT_KEY_FILE,
EXTREPO_TLS_SERVER_NAME, EXTREPO_TIMEOUT; DOCKERCLOUD_USER,
DOCKERCLOUD_APIKEY, DOCKERCLOUD_NAMESPACE; the file 'extrepo login'
writes (EXTREPO_CONFIG names another); defaults (127.0.0.1:50051,
plaintext, 10 s).

\b
Exit codes: 0 done; 1 something failed (each failure on stderr);
2 wrong command line or settings, nothing tried.
Shell completion: eval "$(extrepo completion bash)" (or zsh, fish).""",
)
@click.version_option(__version__, "--version", prog_name="extrepo", message="%(prog)s %(version)s")
@click.option("--address", metavar="HOST:PORT", help="The extrepo gRPC server.")
@click.option("--namespace", metavar="NAMESPACE", help="Default namespace; default: your own.")
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), help="table (default) or json."
)
@click.option(
    "--tls/--no-tls",
    default=None,
    help="Use TLS (implied by the --tls-* files), or plaintext even with them.",
)
@click.option(
    "--tls-ca-file",
    type=click.Path(dir_okay=False),
    help="PEM file of the CAs to trust (default: the system's).",
)
@click.option("--tls-client-cert", type=click.Path(dir_okay=False), help="PEM client certificate.")
@click.option(
    "--tls-client-key", type=click.Path(dir_okay=False), help="PEM key of the client certificate."
)
@click.option(
    "--tls-server-name", metavar="NAME", help="Expect this name in the server's certificate."
)
@click.option(
    "--timeout", type=float, metavar="SECONDS", help="Deadline of each call (default 10)."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help=f"Config file (default: {config.config_path()}).",
)
@click.pass_context
def cli(ctx: click.Context, /, **options: Any) -> None:
    """extrepo: register repositories of third-party registries, with the credentials
    to pull from them, on an extrepo server."""
    ctx.obj = State(options)


pass_state = click.make_pass_decorator(State)


@cli.command()
@click.option("-u", "--username", help="Your extrepo user name.")
@click.option(
    "-p", "--api-key", "--password", "api_key", help="Your API key (insecure on a command line)."
)
@click.option(
    "--api-key-stdin",
    "--password-stdin",
    "api_key_stdin",
    is_flag=True,
    help="Read the API key from stdin.",
)
@pass_state
def login(state: State, username: str | None, api_key: str | None, api_key_stdin: bool) -> None:
    """Check an API key against the server, then store the address, username and
    key in the config file (readable by you only).

    \b
    Examples:
      extrepo login
      extrepo --address extrepo.internal:50051 --tls login -u alice
      printf '%s' "$KEY" | extrepo login -u alice --api-key-stdin
    """
    if api_key_stdin:
        if api_key:
            fail_usage("--api-key and --api-key-stdin cannot be used together")
        if not username:
            fail_usage("--api-key-stdin needs --username")
        api_key = read_secret_from_stdin("API key")
    known = state.settings()
    if not username:
        username = ask("Username", default=known.username)
    if not api_key:
        api_key = ask("API key", hidden=True)
    settings = state.settings(username=username, api_key=api_key)
    try:
        with Client(settings=settings) as client:
            client.list_page(pb.ListRequest(limit=1))
    except ExtrepoError as exc:
        report(exc, settings)
        sys.exit(EXIT_FAILED)
    path = state.config_path()
    config.write_config_file(path, settings)
    click.echo(f"Login Succeeded: {username} on {settings.address}")
    click.echo(f"Saved to {path}", err=True)


@cli.command()
@pass_state
def logout(state: State) -> None:
    """Remove the stored address, username and API key."""
    path = state.config_path()
    if config.remove_config_file(path):
        click.echo(f"Removed {path}")
    else:
        click.echo(f"Not logged in ({path} does not exist)")


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS), default="bash")
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(extrepo completion bash)"."""
    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "extrepo", "_EXTREPO_COMPLETE").source())


@cli.group()
def repository() -> None:
    """Manage external repositories (the original 'docker-cloud repository')."""


@repository.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Print the names only.")
@click.option("--name", "name_filter", metavar="NAME", help="Only the repository of this name.")
@click.option("--registry", metavar="HOST", help="Only repositories on this registry.")
@leaf_options
@pass_state
def ls(
    state: State,
    quiet: bool,
    name_filter: str | None,
    registry: str | None,
    namespace: str | None,
    output: str | None,
) -> None:
    """List repositories (every page), in name order.

    \b
    Examples:
      extrepo repository ls
      extrepo repository ls -q
      extrepo repository ls --registry registry.local -o json
    """
    client = state.client(namespace)
    try:
        found = list(client.iter_repositories(name=name_filter or "", registry=registry or ""))
    except ExtrepoError as exc:
        report(exc, client.settings)
        sys.exit(EXIT_FAILED)
    if quiet:
        for r in found:
            click.echo(r.name)
    elif state.output(output) == "json":
        print_json([as_dict(r) for r in found])
    else:
        rows = [[header for header, _ in COLUMNS]]
        rows += [[cell(r) for _, cell in COLUMNS] for r in found]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        for row in rows:
            click.echo("   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def read_secret_from_stdin(what: str) -> str:
    # As `docker login --password-stdin`: the whole input, less its line ending.
    secret = sys.stdin.read().rstrip("\r\n")
    if not secret:
        fail_usage(f"no {what} on stdin")
    return secret


def ask(prompt: str, *, hidden: bool = False, default: str | None = None) -> str:
    """Ask on the terminal; without one, say which flag to give instead."""
    if not sys.stdin.isatty():
        fail_usage(f"{prompt.lower()} missing, and no terminal to ask on: give it as a flag")
    value: str = click.prompt(prompt, hide_input=hidden, default=default, err=True)
    return value


def credentials_options(command: _F) -> _F:
    command = click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")(
        command
    )
    command = click.option(
        "-p", "--password", help="Password for the registry (insecure on a command line)."
    )(command)
    return command


def stdin_password(
    password: str | None, password_stdin: bool, *, needs_username: bool
) -> str | None:
    """The password from stdin with --password-stdin. stdin then cannot also answer a
    username prompt, so a command that would ask for one needs --username."""
    if not password_stdin:
        return password
    if password:
        fail_usage("--password and --password-stdin cannot be used together")
    if needs_username:
        fail_usage("--password-stdin needs --username")
    return read_secret_from_stdin("password")


@repository.command()
@click.argument("name")
@click.option("-u", "--username", help="Username for the registry (asked when missing).")
@credentials_options
@leaf_options
@pass_state
def register(
    state: State,
    name: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    namespace: str | None,
    output: str | None,
) -> None:
    """Register a repository of a third-party registry, with the credentials to pull
    from it. A missing username or password is asked for (the password hidden).

    \b
    Examples:
      extrepo repository register -u puller -p s3cret registry.local/user1/image1
      extrepo repository register registry.local/user1/image1      # asks
      echo "$PASS" | extrepo repository register -u puller --password-stdin localhost:5000/app
    """
    password = stdin_password(password, password_stdin, needs_username=username is None)
    client = state.client(namespace)
    # Asked only when not given at all: an empty one given is sent, and refused.
    if username is None:
        username = ask("Username")
    if password is None:
        password = ask("Password", hidden=True)
    try:
        created = client.create(name, username, password)
    except ExtrepoError as exc:
        report(exc, client.settings, name)
        sys.exit(EXIT_FAILED)
    if state.output(output) == "json":
        print_json(as_dict(created))
    else:
        click.echo(created.name)


@repository.command()
@click.argument("names", metavar="NAME...", nargs=-1, required=True, shell_complete=complete_names)
@leaf_options
@pass_state
def inspect(
    state: State, names: tuple[str, ...], namespace: str | None, output: str | None
) -> None:
    """Show repositories as JSON.

    \b
    Examples:
      extrepo repository inspect registry.local/user1/image1
      extrepo repository inspect -o json registry.local/user1/image1 registry.local/user1/image2
    """
    client = state.client(namespace)
    as_list = state.output(output) == "json"

    def show(name: str) -> dict[str, Any]:
        found = as_dict(client.get(name))
        if not as_list:
            print_json(found)
        return found

    results, failed = for_each(names, client.settings, show)
    if as_list:
        print_json(results)
    sys.exit(EXIT_FAILED if failed else 0)


@repository.command()
@click.argument("names", metavar="NAME...", nargs=-1, required=True, shell_complete=complete_names)
@click.option("-u", "-n", "--username", help="New username (-n as the original docs wrote it).")
@credentials_options
@leaf_options
@pass_state
def update(
    state: State,
    names: tuple[str, ...],
    username: str | None,
    password: str | None,
    password_stdin: bool,
    namespace: str | None,
    output: str | None,
) -> None:
    """Change the credentials of repositories: what is given changes, the rest is kept.

    \b
    Examples:
      extrepo repository update -u puller -p n3w-s3cret registry.local/user1/image1
      extrepo repository update -n "new username" registry.local/user1/image1
      echo "$PASS" | extrepo repository update --password-stdin registry.local/user1/image1
    """
    password = stdin_password(password, password_stdin, needs_username=False)
    if username is None and password is None:
        fail_usage("nothing to update: give -u/--username, -p/--password or --password-stdin")
    client = state.client(namespace)
    as_json = state.output(output) == "json"

    def change(name: str) -> dict[str, Any]:
        updated = client.update(name, username=username, password=password)
        if not as_json:
            click.echo(updated.name)
        return as_dict(updated)

    results, failed = for_each(names, client.settings, change)
    if as_json:
        print_json(results)
    sys.exit(EXIT_FAILED if failed else 0)


@repository.command()
@click.argument("names", metavar="NAME...", nargs=-1, required=True, shell_complete=complete_names)
@click.option("-u", "-n", "--username", help="Username to try (default: the stored one).")
@credentials_options
@leaf_options
@pass_state
def validate(
    state: State,
    names: tuple[str, ...],
    username: str | None,
    password: str | None,
    password_stdin: bool,
    namespace: str | None,
    output: str | None,
) -> None:
    """Check credentials against the registry, storing nothing: the ones given, the
    stored ones for what is not given. Prints each name and the outcome; exits 1 if
    any is not VERIFIED.

    \b
    Examples:
      extrepo repository validate registry.local/user1/image1
      echo "$PASS" | extrepo repository validate -u puller --password-stdin localhost:5000/app
    """
    password = stdin_password(password, password_stdin, needs_username=False)
    client = state.client(namespace)
    as_json = state.output(output) == "json"
    unverified: list[str] = []

    def check(name: str) -> dict[str, Any]:
        answer = client.validate(name, username=username, password=password)
        verification = answer.verification
        state_name = pb.Verification.State.Name(verification.state)
        if state_name != "VERIFIED":
            unverified.append(name)
        if not as_json:
            click.echo(f"{name}\t{state_name}\t{verification.reason}")
        return json_format.MessageToDict(
            answer, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )

    results, failed = for_each(names, client.settings, check)
    if as_json:
        print_json(results)
    sys.exit(EXIT_FAILED if failed or unverified else 0)


@repository.command()
@click.argument("names", metavar="NAME...", nargs=-1, required=True, shell_complete=complete_names)
@leaf_options
@pass_state
def rm(state: State, names: tuple[str, ...], namespace: str | None, output: str | None) -> None:
    """Remove repositories (the repositories on their registries are not touched).

    \b
    Examples:
      extrepo repository rm registry.local/user1/image1
      extrepo repository rm registry.local/user1/image1 registry.local/user1/image2
    """
    client = state.client(namespace)
    as_json = state.output(output) == "json"

    def remove(name: str) -> dict[str, str]:
        client.delete(name)
        if not as_json:
            click.echo(name)
        return {"name": name}

    results, failed = for_each(names, client.settings, remove)
    if as_json:
        print_json(results)
    sys.exit(EXIT_FAILED if failed else 0)


def main() -> None:
    try:
        cli(prog_name="extrepo")
    except ExtrepoError as exc:  # raised outside a command's own handling
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(EXIT_FAILED)
    except OSError as exc:  # e.g. the config file cannot be written
        click.echo(f"Error: {exc.strerror}: {exc.filename}", err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
