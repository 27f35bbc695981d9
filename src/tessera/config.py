"""Settings: read once at start-up into a frozen object and passed down.

Owns: the only reads of environment variables and of the config file. Precedence is
flags > environment (``TESSERA_*``) > config file (TOML) > defaults. A bad value fails at boot.
Must not: be imported for its side effects; nothing here touches the data directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from tessera.secret import Secret

DEFAULT_PORT = 9800
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_DOMAIN = "oss.localhost"
DEFAULT_DATA_DIR = "tessera-data"

_ACCOUNT_ID = re.compile(r"\d{16}")
_REGION = re.compile(r"[a-z0-9-]{2,64}")


class SettingsError(ValueError):
    """A setting has a value Tessera cannot start with."""


MAX_WORKERS = 64


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION
    domain: str = DEFAULT_DOMAIN
    tls: bool = False
    account_id: str | None = None
    root_access_key_id: str | None = None
    root_access_key_secret: Secret | None = None
    master_key: Secret | None = None
    access_log: bool = True
    log_level: str = "info"
    timestamp_window_seconds: int = 900
    max_rpc_body_bytes: int = 64 * 1024
    policy_cache_seconds: float = 5.0
    #: a broker.toml: run the token broker in-process on its own port (development)
    broker_config: Path | None = None
    #: serving processes sharing the port (SO_REUSEPORT) and the data directory
    workers: int = 1

    def validate(self) -> Settings:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port out of range: {self.port}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(f"workers must be 1 to {MAX_WORKERS}: {self.workers}")
        if self.workers > 1 and self.broker_config is not None:
            raise SettingsError(
                "the in-process broker runs with one worker; run `tessera broker` beside "
                "a multi-worker server"
            )
        if not _REGION.fullmatch(self.region):
            raise SettingsError(f"region is not a region id: {self.region!r}")
        if self.account_id is not None and not _ACCOUNT_ID.fullmatch(self.account_id):
            raise SettingsError("TESSERA_ACCOUNT_ID must be 16 digits")
        if (self.root_access_key_id is None) != (self.root_access_key_secret is None):
            raise SettingsError(
                "set both TESSERA_ROOT_ACCESS_KEY_ID and TESSERA_ROOT_ACCESS_KEY_SECRET, or neither"
            )
        if self.root_access_key_id is not None and not re.fullmatch(
            r"[A-Za-z0-9]{16,64}", self.root_access_key_id
        ):
            raise SettingsError("TESSERA_ROOT_ACCESS_KEY_ID must be 16-64 letters and digits")
        return self


_ENV = {
    "TESSERA_DATA_DIR": "data_dir",
    "TESSERA_HOST": "host",
    "TESSERA_PORT": "port",
    "TESSERA_REGION": "region",
    "TESSERA_DOMAIN": "domain",
    "TESSERA_TLS": "tls",
    "TESSERA_ACCOUNT_ID": "account_id",
    "TESSERA_ROOT_ACCESS_KEY_ID": "root_access_key_id",
    "TESSERA_ROOT_ACCESS_KEY_SECRET": "root_access_key_secret",
    "TESSERA_MASTER_KEY": "master_key",
    "TESSERA_ACCESS_LOG": "access_log",
    "TESSERA_LOG_LEVEL": "log_level",
    "TESSERA_BROKER_CONFIG": "broker_config",
    "TESSERA_WORKERS": "workers",
}
_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = str(_FIELD_TYPES[name])
    if value is None:
        return None
    if "Path" in kind:
        return Path(str(value)).expanduser()
    if "Secret" in kind:
        return value if isinstance(value, Secret) else Secret(str(value))
    if kind.startswith("bool"):
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise SettingsError(f"{name}: not a boolean: {value!r}")
        return lowered in {"1", "true", "yes", "on"}
    if kind.startswith("int"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{name}: not an integer: {value!r}") from None
    if kind.startswith("float"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{name}: not a number: {value!r}") from None
    return str(value)


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
    section = data.get("tessera", data)
    unknown = set(section) - set(_FIELD_TYPES)
    if unknown:
        raise SettingsError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return {name: _coerce(name, value) for name, value in section.items()}


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from defaults, then the config file, then ``environ``, then ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_path or (
        Path(environ["TESSERA_CONFIG"]) if environ.get("TESSERA_CONFIG") else None
    )
    if path is not None:
        values.update(_from_file(path))
    for env_name, field_name in _ENV.items():
        if environ.get(env_name):
            values[field_name] = _coerce(field_name, environ[env_name])
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return replace(Settings(), **values).validate()
