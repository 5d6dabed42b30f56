"""The `extrepo-server` command: `serve`, and `admin ...` for accounts and keys."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import sys
from pathlib import Path

from pydantic import ValidationError

from . import logs
from .admin import Admin
from .app import build, safe_url, serve
from .config import Settings
from .credential_keys import Outcome
from .domain.access import Role
from .domain.errors import DomainError, Unavailable
from .security.credentials import KeyringError
from .storage import schema
from .storage.database import create_engine


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (env EXTREPO_DATA_DIR; default ./data)")
    parser.add_argument("--database-url", help="SQLAlchemy database URL (env EXTREPO_DATABASE_URL)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extrepo-server", description="extrepo: external repositories over gRPC"
    )
    # The installed package's version, which is the repository's VERSION
    # (tests/packaging/test_one_version.py checks that they agree).
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {importlib.metadata.version('extrepo-server')}",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the gRPC server")
    _common(serve_cmd)
    serve_cmd.add_argument(
        "--address", help="host:port to listen on (env EXTREPO_ADDRESS; default 127.0.0.1:50051)"
    )
    serve_cmd.add_argument(
        "--port-file", type=Path, help="write the bound port to this file once serving"
    )

    migrate = commands.add_parser(
        "migrate", help="bring the database's schema to this version (Alembic migrations)"
    )
    _common(migrate)
    migrate.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if the schema is behind (or ahead of) this version",
    )

    admin = commands.add_parser("admin", help="manage users, organizations and keys")
    _common(admin)
    groups = admin.add_subparsers(dest="group", required=True)

    user = groups.add_parser("user", help="users").add_subparsers(dest="action", required=True)
    user.add_parser("create", help="create a user").add_argument("name")
    user.add_parser("list", help="list users and organizations")
    delete_user = user.add_parser(
        "delete",
        help="delete a user, their API keys and memberships (refused if they own repositories)",
    )
    delete_user.add_argument("name")
    delete_user.add_argument(
        "--force", action="store_true", help="also delete their repositories and credentials"
    )

    org = groups.add_parser("org", help="organizations").add_subparsers(
        dest="action", required=True
    )
    create_org = org.add_parser("create", help="create an organization with its first owner")
    create_org.add_argument("name")
    create_org.add_argument("--owner", required=True, help="an existing user")
    add_member = org.add_parser("add-member", help="add a member, or change a member's role")
    add_member.add_argument("name")
    add_member.add_argument("user")
    add_member.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
    remove_member = org.add_parser("remove-member", help="remove a member")
    remove_member.add_argument("name")
    remove_member.add_argument("user")
    delete_org = org.add_parser(
        "delete",
        help="delete an organization and its memberships (refused if it owns repositories)",
    )
    delete_org.add_argument("name")
    delete_org.add_argument(
        "--force", action="store_true", help="also delete its repositories and credentials"
    )

    key = groups.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    create_key = key.add_parser("create", help="create an API key; prints it once, on stdout")
    create_key.add_argument("user")
    create_key.add_argument("--label", default="", help="a note to recognize the key by")
    key.add_parser("list", help="list a user's keys (ids only)").add_argument("user")
    key.add_parser("revoke", help="revoke a key by its id").add_argument("key_id")

    secrets = groups.add_parser("secrets", help="encryption keys of stored credentials")
    secrets_actions = secrets.add_subparsers(dest="action", required=True)
    secrets_actions.add_parser("rotate", help="add a new key file key and re-encrypt all")
    secrets_actions.add_parser("reencrypt", help="re-encrypt all with the primary key")
    secrets_actions.add_parser("prune", help="drop old keys once nothing needs them")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        "address": getattr(args, "address", None),
    }
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _admin(admin: Admin, args: argparse.Namespace) -> int:
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731 - messages go to stderr
    match args.group, args.action:
        case "user", "create":
            admin.create_user(args.name)
            say(f"created user '{args.name}'; now run: extrepo-server admin key create {args.name}")
        case "user", "list":
            for name, kind, count in admin.accounts():
                print(f"{name}\t{kind}\t{count} repositories")
        case "user", "delete":
            deleted = admin.delete_user(args.name, force=args.force)
            say(
                f"deleted user '{args.name}' with {_count(deleted.keys, 'API key')}, "
                f"{_count(deleted.memberships, 'organization membership')} and "
                f"{_count(deleted.repositories, 'repository', 'repositories')} (with their "
                "credentials); running servers refuse the keys within EXTREPO_AUTH_CACHE_SECONDS"
            )
        case "org", "create":
            admin.create_organization(args.name, args.owner)
            say(f"created organization '{args.name}' owned by '{args.owner}'")
        case "org", "add-member":
            admin.set_member(args.name, args.user, Role(args.role))
            say(f"'{args.user}' is now {args.role} of '{args.name}'")
        case "org", "delete":
            deleted = admin.delete_organization(args.name, force=args.force)
            say(
                f"deleted organization '{args.name}' with "
                f"{_count(deleted.memberships, 'membership')} and "
                f"{_count(deleted.repositories, 'repository', 'repositories')} (with their "
                "credentials)"
            )
        case "org", "remove-member":
            admin.remove_member(args.name, args.user)
            say(f"removed '{args.user}' from '{args.name}'")
        case "key", "create":
            key = admin.create_key(args.user, args.label)
            say(f"API key {key.id} for '{args.user}' (shown only now; store it safely):")
            print(key.token)
        case "key", "list":
            for info in admin.keys(args.user):
                state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
                print(f"{info.id}\t{state}\t{info.created_at:%Y-%m-%d %H:%M}\t{info.label}")
        case "key", "revoke":
            admin.revoke_key(args.key_id)
            say(f"revoked API key {args.key_id}")
        case "secrets", "rotate":
            outcome = admin.rotate_encryption_key()
            say("new primary key in place (the old keys stay in the key file, decrypt-only)")
            if _report(outcome, say):
                return 1
            say("restart running servers, then run: extrepo-server admin secrets reencrypt")
            say("and then: extrepo-server admin secrets prune")
        case "secrets", "reencrypt":
            if _report(admin.reencrypt(), say):
                return 1
        case "secrets", "prune":
            dropped = admin.prune_encryption_keys()
            say(f"dropped {len(dropped)} old keys{': ' if dropped else ''}{', '.join(dropped)}")
            if dropped and admin.settings.secret_keys:
                say("now remove them from EXTREPO_SECRET_KEYS and restart the servers")
    return 0


def _report(outcome: Outcome, say) -> bool:
    """Say what a re-encryption did, row failures first; whether any row failed."""
    for failure in outcome.failures:
        say(f"cannot re-encrypt {failure}: no configured key opens its credentials")
    say(f"re-encrypted {outcome.rewritten} repositories' credentials")
    if outcome.changed_meanwhile:
        say(
            f"{outcome.changed_meanwhile} were changed by a server meanwhile and kept as it "
            "wrote them; if a server still runs with an old key, restart it and run again"
        )
    if outcome.failures:
        say(
            f"{len(outcome.failures)} could not be re-encrypted and are left as they were: "
            "add the key that opens them (the key file, or EXTREPO_SECRET_KEYS) and run again"
        )
    return bool(outcome.failures)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _migrate(settings: Settings, *, check_only: bool) -> None:
    engine = create_engine(
        settings.effective_database_url, connect_timeout=settings.db_connect_timeout_seconds
    )
    try:
        if check_only:
            schema.check(engine)
            print(
                f"the schema is current ({', '.join(sorted(schema.head_revisions()))})",
                file=sys.stderr,
            )
            return
        result = schema.upgrade(engine)
    finally:
        engine.dispose()
    after = ", ".join(sorted(result.after))
    if result.adopted:
        print(f"adopted a database made before migrations; now at {after}", file=sys.stderr)
    elif result.before == result.after:
        print(f"the schema is current ({after}); nothing to do", file=sys.stderr)
    else:
        before = ", ".join(sorted(result.before)) or "an empty database"
        print(f"migrated {before} -> {after}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            print(f"error: setting '{field}': {error['msg']}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_flush_seconds)
    try:
        if args.command == "serve":
            asyncio.run(serve(settings, args.port_file))
        elif args.command == "migrate":
            _migrate(settings, check_only=args.check)
        else:
            components = build(settings, with_keyring=args.group == "secrets")
            return _admin(Admin(components, settings), args)
    except Unavailable as exc:
        cause = getattr(exc.__cause__, "orig", None) or exc.__cause__
        print(f"error: cannot reach the database {safe_url(settings)}: {cause}", file=sys.stderr)
        return 1
    except (DomainError, KeyringError, schema.SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
