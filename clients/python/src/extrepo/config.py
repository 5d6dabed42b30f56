"""Where a client's settings come from, in one place for the SDK and the command line.

Precedence, highest first: explicit arguments (a `Client(...)` argument, a command-line
flag), `EXTREPO_*` environment variables, the old tools' `DOCKERCLOUD_USER`,
`DOCKERCLOUD_APIKEY` and `DOCKERCLOUD_NAMESPACE`, the user config file that
`extrepo login` writes, then the defaults.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT_SECONDS = 10.0

# Setting name -> environment variables, the first one set wins.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "address": ("EXTREPO_ADDRESS",),
    "username": ("EXTREPO_USERNAME", "DOCKERCLOUD_USER"),
    "api_key": ("EXTREPO_API_KEY", "DOCKERCLOUD_APIKEY"),
    "namespace": ("EXTREPO_NAMESPACE", "DOCKERCLOUD_NAMESPACE"),
    "tls": ("EXTREPO_TLS",),
    "tls_ca_file": ("EXTREPO_TLS_CA_FILE",),
    "tls_client_cert_file": ("EXTREPO_TLS_CLIENT_CERT_FILE",),
    "tls_client_key_file": ("EXTREPO_TLS_CLIENT_KEY_FILE",),
    "tls_server_name": ("EXTREPO_TLS_SERVER_NAME",),
    "timeout": ("EXTREPO_TIMEOUT",),
}
CONFIG_ENV = "EXTREPO_CONFIG"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Everything a client needs to reach the server and authenticate.

    `tls` None (not set) means TLS when any of the `tls_*` files is set; True or False
    decides alone. The API key is kept out of `repr`.
    """

    address: str = DEFAULT_ADDRESS
    username: str | None = None
    api_key: str | None = None
    namespace: str = ""
    tls: bool | None = None
    tls_ca_file: str | None = None
    tls_client_cert_file: str | None = None
    tls_client_key_file: str | None = None
    tls_server_name: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if shown["api_key"]:
            shown["api_key"] = "***"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def uses_tls(self) -> bool:
        if self.tls is not None:
            return self.tls
        return any((self.tls_ca_file, self.tls_client_cert_file, self.tls_client_key_file))

    def require_credentials(self) -> tuple[str, str]:
        if not self.username or not self.api_key:
            raise ConfigError(
                "no credentials: run 'extrepo login', set EXTREPO_USERNAME and "
                "EXTREPO_API_KEY (or DOCKERCLOUD_USER and DOCKERCLOUD_APIKEY), or pass "
                "username= and api_key="
            )
        return self.username, self.api_key


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user config file: $EXTREPO_CONFIG, else the platform's user config folder
    (~/.config/extrepo/config.json on Linux, honouring XDG_CONFIG_HOME)."""
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    return platformdirs.user_config_path("extrepo") / "config.json"


def _convert(name: str, value: Any, source: str) -> Any:
    """A raw value (a string from the environment, JSON from the file) as the setting's type."""
    if value is None:
        return None
    if name == "tls":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{source}: expected true or false, got {str(value)[:20]!r}")
    if name == "timeout":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: expected seconds, got {str(value)[:20]!r}") from None
        if not seconds > 0:
            raise ConfigError(f"{source}: must be more than 0 seconds")
        return seconds
    if not isinstance(value, str):
        raise ConfigError(f"{source}: expected a string")
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings stored in the config file; empty when there is none."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"the config file {path} does not hold a JSON object")
    known = {f.name for f in fields(Settings)}
    return {
        k: _convert(k, v, f"{path}: {k}") for k, v in raw.items() if k in known and v is not None
    }


def write_config_file(path: Path, settings: Settings) -> None:
    """Store settings (the API key included) in a file only its owner can read.

    Written to a temporary file in the same folder, created 0600, then renamed over
    the old one, so no reader ever sees half a file or a world-readable key.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = {k: v for k, v in asdict(settings).items() if v not in (None, "")}
    if stored.get("address") == DEFAULT_ADDRESS:
        del stored["address"]
    if stored.get("timeout") == DEFAULT_TIMEOUT_SECONDS:
        del stored["timeout"]
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out, indent=2)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_config_file(path: Path) -> bool:
    """Forget the stored settings; False when there were none."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name, variables in ENVIRONMENT.items():
        for variable in variables:
            value = environ.get(variable)
            if value is not None and (value != "" or name == "namespace"):
                found[name] = _convert(name, value, variable)
                break
    return found


def resolve(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings from the defaults, the config file, the environment and `overrides`
    (arguments; None means not given), each overriding the one before."""
    path = Path(config_file) if config_file is not None else config_path(environ)
    merged: dict[str, Any] = {}
    merged.update(read_config_file(path))
    merged.update(from_environment(environ))
    for name, value in (overrides or {}).items():
        if value is not None:
            merged[name] = _convert(name, value, name)
    return replace(Settings(), **merged)
