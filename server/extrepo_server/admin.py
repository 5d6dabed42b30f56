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

from dataclasses import dataclass

from .app import Components
from .config import Settings
from .domain.access import Role
from .domain.errors import FailedPrecondition, InvalidArgument
from .domain.names import namespace_problem
from .domain.ports import EncryptedCredentials
from .security import api_keys
from .security.credentials import Keyring, new_key, read_key_file, write_key_file
from .storage.accounts import ORGANIZATION, USER, DeletedAccount, KeyInfo
from .storage.reencryption import CredentialRows


def _check_name(name: str, field: str) -> None:
    if problem := namespace_problem(name):
        raise InvalidArgument.single(field, problem)


@dataclass
class Admin:
    components: Components
    settings: Settings

    def create_user(self, name: str) -> None:
        _check_name(name, "user")
        self.components.accounts.create_account(name, USER)

    def create_organization(self, name: str, owner: str) -> None:
        _check_name(name, "organization")
        accounts = self.components.accounts
        owner_id = accounts.account_id(owner, USER)
        accounts.create_account(name, ORGANIZATION, owner_id=owner_id)

    def delete_user(self, name: str, *, force: bool = False) -> DeletedAccount:
        """Delete a user with their keys and memberships; their repositories only
        with `force`. Refused while they are the last owner of an organization."""
        return self.components.accounts.delete_account(name, USER, force=force)

    def delete_organization(self, name: str, *, force: bool = False) -> DeletedAccount:
        """Delete an organization with its memberships; its repositories only with `force`."""
        return self.components.accounts.delete_account(name, ORGANIZATION, force=force)

    def set_member(self, organization: str, user: str, role: Role) -> None:
        accounts = self.components.accounts
        accounts.set_membership(
            accounts.account_id(organization, ORGANIZATION), accounts.account_id(user, USER), role
        )

    def remove_member(self, organization: str, user: str) -> None:
        accounts = self.components.accounts
        accounts.remove_membership(
            accounts.account_id(organization, ORGANIZATION), accounts.account_id(user, USER)
        )

    def accounts(self) -> list[tuple[str, str, int]]:
        return self.components.accounts.list_accounts()

    def create_key(self, user: str, label: str = "") -> api_keys.NewKey:
        accounts = self.components.accounts
        user_id = accounts.account_id(user, USER)
        key = api_keys.generate()
        accounts.add_key(key.id, user_id, key.secret_sha256, label)
        return key

    def keys(self, user: str) -> list[KeyInfo]:
        accounts = self.components.accounts
        return accounts.list_keys(accounts.account_id(user, USER))

    def revoke_key(self, key_id: str) -> None:
        self.components.accounts.revoke_key(key_id)

    def stored_credentials(self, namespace: str, name: str) -> tuple[str, str]:
        """The decrypted username and password of a repository (what a pull would use)."""
        accounts = self.components.accounts
        account_id = accounts.namespace_id(namespace)
        encrypted = self._credential_rows().get(account_id, name)
        keyring = self.components.keyring
        return keyring.decrypt(encrypted.username), keyring.decrypt(encrypted.password)

    # -- encryption keys -----------------------------------------------------

    def rotate_encryption_key(self) -> int:
        """Put a new key first in the key file and re-encrypt every credential with it.

        The old keys stay in the file (decrypt-only) until `prune_encryption_keys`,
        so servers still running with the old keyring lose nothing meanwhile.
        """
        path = self._key_file()
        keys = [new_key(), *read_key_file(path)]
        write_key_file(path, keys)
        return self._reencrypt(Keyring(keys))

    def reencrypt(self) -> int:
        """Re-encrypt every credential with the primary key of the current keyring."""
        return self._reencrypt(self.components.keyring)

    def prune_encryption_keys(self) -> int:
        """Drop every key but the primary, once no credential needs them any more."""
        path = self._key_file()
        keyring = Keyring(read_key_file(path))
        stale = sum(
            not (keyring.primary_decrypts(c.username) and keyring.primary_decrypts(c.password))
            for _, c in self._credential_rows().all()
        )
        if stale:
            raise FailedPrecondition(
                f"{stale} credentials are still encrypted with an old key (a server with the "
                "old keyring wrote them); restart the servers, run 'secrets rotate' or "
                "'secrets reencrypt' again, then prune"
            )
        dropped = len(keyring.keys) - 1
        write_key_file(path, keyring.keys[:1])
        return dropped

    def _reencrypt(self, keyring: Keyring) -> int:
        credential_rows = self._credential_rows()
        rows = [
            (
                row_id,
                EncryptedCredentials(keyring.reencrypt(c.username), keyring.reencrypt(c.password)),
            )
            for row_id, c in credential_rows.all()
        ]
        credential_rows.replace(rows)
        return len(rows)

    def _credential_rows(self) -> CredentialRows:
        return CredentialRows(self.components.engine)

    def _key_file(self):
        if self.settings.secret_keys:
            raise FailedPrecondition(
                "keys come from EXTREPO_SECRET_KEYS: put a new key first in that list, restart, "
                "and run 'secrets reencrypt'"
            )
        return self.settings.effective_key_file
