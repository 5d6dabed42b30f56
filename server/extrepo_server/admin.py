"""Administration: users, organizations, memberships, API keys, encryption keys.

These run against the database directly (not through the API), from the
`extrepo-server admin` command.

Deleting an account deletes its API keys, memberships and repositories (with their
encrypted credentials) in one transaction, and is refused while it holds
repositories unless forced. Running servers learn of it by themselves: a key they
had verified is trusted at most EXTREPO_AUTH_CACHE_SECONDS longer (their cache is
their own), and a call that meets the deleted account drops it from that cache at
once (see security.authentication).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from . import credential_keys
from .app import Components
from .config import Settings
from .credential_keys import Outcome
from .domain.access import Role
from .domain.audit import Actor, AuditAction, AuditEntry, AuditNamespace, new_entry
from .domain.errors import FailedPrecondition, InvalidArgument
from .domain.names import namespace_problem
from .security import api_keys
from .security.credentials import Keyring, load_key_file, new_key, write_key_file
from .storage.accounts import ORGANIZATION, USER, DeletedAccount, KeyInfo
from .storage.keys import KeyRecords
from .storage.reencryption import CredentialRows


def _check_name(name: str, field: str) -> None:
    if problem := namespace_problem(name):
        raise InvalidArgument.single(field, problem)


ACCOUNT_ROOT = "/api/account/v1"


def _operator() -> Actor:
    """The administration command's actor: `admin:<the OS user running it>`."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        who = "unknown"
    return Actor(f"admin:{who}")


def _entry(
    action: AuditAction, namespace: str, object_uri: str, account_id: int | None = None, detail=""
) -> AuditEntry:
    """An audit entry of the administration command, written by the store in the
    change's transaction (which completes the namespace's id where it was unknown)."""
    return new_entry(
        AuditNamespace(namespace, account_id), action, object_uri, _operator(), detail=detail
    )


def _user_uri(name: str) -> str:
    return f"{ACCOUNT_ROOT}/user/{name}/"


def _organization_uri(name: str) -> str:
    return f"{ACCOUNT_ROOT}/organization/{name}/"


@dataclass
class Admin:
    components: Components
    settings: Settings

    def create_user(self, name: str) -> None:
        _check_name(name, "user")
        self.components.accounts.create_account(
            name, USER, audit=_entry(AuditAction.USER_CREATE, name, _user_uri(name))
        )

    def create_organization(self, name: str, owner: str) -> None:
        _check_name(name, "organization")
        accounts = self.components.accounts
        owner_id = accounts.account_id(owner, USER)
        accounts.create_account(
            name,
            ORGANIZATION,
            owner_id=owner_id,
            audit=_entry(
                AuditAction.ORGANIZATION_CREATE,
                name,
                _organization_uri(name),
                detail=f"owner={owner}",
            ),
        )

    def delete_user(self, name: str, *, force: bool = False) -> DeletedAccount:
        """Delete a user with their keys and memberships; their repositories only
        with `force`. Refused while they are the last owner of an organization."""
        return self.components.accounts.delete_account(
            name,
            USER,
            force=force,
            audit=_entry(AuditAction.USER_DELETE, name, _user_uri(name), detail=f"force={force}"),
        )

    def delete_organization(self, name: str, *, force: bool = False) -> DeletedAccount:
        """Delete an organization with its memberships; its repositories only with `force`."""
        return self.components.accounts.delete_account(
            name,
            ORGANIZATION,
            force=force,
            audit=_entry(
                AuditAction.ORGANIZATION_DELETE,
                name,
                _organization_uri(name),
                detail=f"force={force}",
            ),
        )

    def set_member(self, organization: str, user: str, role: Role) -> None:
        accounts = self.components.accounts
        accounts.set_membership(
            accounts.account_id(organization, ORGANIZATION),
            accounts.account_id(user, USER),
            role,
            _entry(
                AuditAction.MEMBER_ADD,
                organization,
                f"{_organization_uri(organization)}member/{user}/",
                detail=f"role={role.value}",
            ),
        )

    def remove_member(self, organization: str, user: str) -> None:
        accounts = self.components.accounts
        accounts.remove_membership(
            accounts.account_id(organization, ORGANIZATION),
            accounts.account_id(user, USER),
            _entry(
                AuditAction.MEMBER_REMOVE,
                organization,
                f"{_organization_uri(organization)}member/{user}/",
            ),
        )

    def accounts(self) -> list[tuple[str, str, int]]:
        return self.components.accounts.list_accounts()

    def create_key(self, user: str, label: str = "") -> api_keys.NewKey:
        accounts = self.components.accounts
        user_id = accounts.account_id(user, USER)
        key = api_keys.generate()
        accounts.add_key(
            key.id,
            user_id,
            key.secret_sha256,
            label,
            _entry(
                AuditAction.KEY_CREATE,
                user,
                f"{_user_uri(user)}key/{key.id}/",
                detail=f"label={label}" if label else "",
            ),
        )
        return key

    def keys(self, user: str) -> list[KeyInfo]:
        accounts = self.components.accounts
        return accounts.list_keys(accounts.account_id(user, USER))

    def revoke_key(self, key_id: str) -> None:
        self.components.accounts.revoke_key(
            key_id,
            lambda owner, owner_id: _entry(
                AuditAction.KEY_REVOKE, owner, f"{_user_uri(owner)}key/{key_id}/", owner_id
            ),
        )

    def stored_credentials(self, namespace: str, name: str) -> tuple[str, str]:
        """The decrypted username and password of a repository (what a pull would use)."""
        accounts = self.components.accounts
        account_id = accounts.namespace_id(namespace)
        encrypted = CredentialRows(self.components.engine).get(account_id, name)
        keyring = self._keyring()
        return keyring.decrypt(encrypted.username), keyring.decrypt(encrypted.password)

    # -- encryption keys -----------------------------------------------------

    def rotate_encryption_key(self) -> Outcome:
        """Put a new key first in the key file and re-encrypt every credential with it.

        The new key is on disk (synced) before any row is encrypted with it, and the
        old keys stay in the file (decrypt-only) until `prune_encryption_keys`, so
        servers still running with the old keyring lose nothing meanwhile. A row no
        key opens is reported and left as it is; the others are re-encrypted.
        """
        path = self._key_file(
            "put a new key first in that list, restart, and run 'secrets reencrypt'"
        )
        keys = [new_key(), *self._keyring().keys]
        write_key_file(path, keys)
        return credential_keys.reencrypt(load_key_file(path), self.components.engine)

    def reencrypt(self) -> Outcome:
        """Re-encrypt every credential not under the primary key of the current keyring."""
        return credential_keys.reencrypt(self._keyring(), self.components.engine)

    def prune_encryption_keys(self) -> list[str]:
        """Forget every key but the primary, once no credential needs them any more:
        first in the database (so that a server still encrypting with an old key is
        refused from then on), then in the key file. The ids of the keys dropped."""
        keyring = self._keyring()
        records = KeyRecords(self.components.engine)
        credential_keys.register_primary(keyring, records)
        stale = records.count_not_under(keyring.key_id)
        if stale:
            counts = ", ".join(
                f"{count} under {key_id or 'no recorded key'}"
                for key_id, count in sorted(stale.items(), key=lambda kv: kv[0] or "")
            )
            raise FailedPrecondition(
                f"{sum(stale.values())} credentials are still encrypted with an old key "
                f"({counts}); restart the servers with the new key first, run "
                "'secrets reencrypt', then prune"
            )
        dropped = set(records.retire_all_but(keyring.key_id))
        dropped.update(keyring.key_ids[1:])
        if not self.settings.secret_keys and len(keyring.keys) > 1:
            write_key_file(self.settings.effective_key_file, keyring.keys[:1])
        return sorted(dropped)

    def _keyring(self) -> Keyring:
        if self.components.keyring is None:
            raise FailedPrecondition("built without the credential keyring")
        return self.components.keyring

    def _key_file(self, instead: str) -> Path:
        if self.settings.secret_keys:
            raise FailedPrecondition(f"keys come from EXTREPO_SECRET_KEYS: {instead}")
        return self.settings.effective_key_file
