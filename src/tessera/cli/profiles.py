"""Client credentials and endpoint for the CLI, aliyun-CLI compatible (spec/sts-ram.md §5.4).

Owns: the ``--profile``/``--access-key-id``/… flags, the ``ALIBABA_CLOUD_*`` environment
variables, and ``~/.aliyun/config.json`` (the aliyun CLI's file): resolving them into one
``Profile`` with precedence flags > environment > config-file profile, turning a profile into
``Credentials`` (AssumeRole for ``RamRoleArn``, through the official STS client), and the
atomic, owner-only write that ``tessera configure`` does.
Must not: write the config file while reading it, print or log a secret, or sign requests
itself (the official clients sign).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_ENDPOINT = "127.0.0.1:9800"
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_CONFIG_PATH = "~/.aliyun/config.json"
DEFAULT_DURATION_SECONDS = 3600

# aliyun CLI mode names (case-insensitive in the file) that Tessera can use
_MODES = {"ak": "AK", "ststoken": "StsToken", "ramrolearn": "RamRoleArn"}
_FILE_ONLY_MODES = ("EcsRamRole", "RamRoleArnWithRoleName", "ChainableRamRoleArn", "RsaKeyPair")

_REFRESH_MARGIN_SECONDS = 180


class ProfileError(Exception):
    """A problem with the configured credentials; the message is shown to the user (exit 2)."""


@dataclass(frozen=True)
class Credentials:
    """What a client signs with."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Profile:
    """Where to send requests and with which credentials (secrets kept out of ``repr``)."""

    name: str
    mode: str  # "AK" | "StsToken" | "RamRoleArn" | "Env" | "Flags"
    region_id: str = DEFAULT_REGION
    endpoint: str | None = None  # "host:port" or a URL; None = DEFAULT_ENDPOINT over http
    insecure: bool = False  # plain http
    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)
    sts_token: str | None = field(default=None, repr=False)
    ram_role_arn: str | None = None
    role_session_name: str | None = None
    external_id: str | None = field(default=None, repr=False)
    expired_seconds: int = DEFAULT_DURATION_SECONDS
    sts_endpoint: str | None = None  # RamRoleArn: where AssumeRole goes (default: endpoint)

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` for ``endpoint`` (a URL prefix wins over ``insecure``)."""
        return _split_endpoint(self.endpoint, self.insecure)[0]

    @property
    def host(self) -> str:
        """``host[:port]`` of ``endpoint``, without scheme or path."""
        return _split_endpoint(self.endpoint, self.insecure)[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def credentials(self) -> Credentials:
        """The credentials to sign with; ``RamRoleArn`` calls AssumeRole (cached in-process)."""
        source = Credentials(self.access_key_id, self.access_key_secret, self.sts_token or None)
        if self.mode != "RamRoleArn":
            return source
        if not self.ram_role_arn or not self.role_session_name:
            raise ProfileError(
                f"profile {self.name!r}: RamRoleArn needs ram_role_arn and a session"
            )
        scheme, host = _split_endpoint(self.sts_endpoint or self.endpoint, self.insecure)
        key = (
            source.access_key_id,
            self.ram_role_arn,
            self.role_session_name,
            self.external_id,
            self.expired_seconds,
            scheme,
            host,
        )
        with _CACHE_LOCK:
            cached = _ASSUMED.get(key)
            if cached is not None and cached[1] - time.time() > _REFRESH_MARGIN_SECONDS:
                return cached[0]
        assumed, expires_at = _assume_role(self, source, scheme, host)
        with _CACHE_LOCK:
            _ASSUMED[key] = (assumed, expires_at)
        return assumed

    def tea_config(self, credentials: Credentials | None = None) -> Any:
        """An ``alibabacloud_tea_openapi`` ``Config`` pointed at this profile's endpoint."""
        from alibabacloud_tea_openapi.models import Config  # type: ignore[import-untyped]

        creds = credentials if credentials is not None else self.credentials()
        config = Config(
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            endpoint=self.host,
            protocol=self.scheme,
            region_id=self.region_id,
            read_timeout=30_000,
            connect_timeout=10_000,
        )
        if creds.security_token:
            config.security_token = creds.security_token
        return config


_CACHE_LOCK = threading.Lock()
_ASSUMED: dict[tuple[object, ...], tuple[Credentials, float]] = {}


def _split_endpoint(endpoint: str | None, insecure: bool) -> tuple[str, str]:
    if not endpoint:
        return "http", DEFAULT_ENDPOINT
    for scheme in ("http", "https"):
        prefix = f"{scheme}://"
        if endpoint.lower().startswith(prefix):
            return scheme, endpoint[len(prefix) :].split("/", 1)[0]
    return ("http" if insecure else "https"), endpoint.split("/", 1)[0]


def _assume_role(
    profile: Profile, source: Credentials, scheme: str, host: str
) -> tuple[Credentials, float]:
    from alibabacloud_sts20150401 import models  # type: ignore[import-untyped]
    from alibabacloud_sts20150401.client import Client  # type: ignore[import-untyped]

    source_profile = Profile(
        name=profile.name, mode="AK", region_id=profile.region_id, endpoint=f"{scheme}://{host}"
    )
    client = Client(source_profile.tea_config(source))
    request = models.AssumeRoleRequest(
        role_arn=profile.ram_role_arn,
        role_session_name=profile.role_session_name,
        duration_seconds=profile.expired_seconds,
        external_id=profile.external_id,
    )
    try:
        body = client.assume_role(request).body
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code is None:
            from tessera.cli.output import connection_problem

            raise ProfileError(
                f"profile {profile.name!r}: AssumeRole at {scheme}://{host} got no answer: "
                f"{connection_problem(exc)}"
            ) from exc
        message = (getattr(exc, "data", None) or {}).get("Message") or getattr(exc, "message", "")
        raise ProfileError(
            f"profile {profile.name!r}: AssumeRole {profile.ram_role_arn} failed: {code}: {message}"
        ) from exc
    got = body.credentials
    try:
        expiration = datetime.strptime(got.expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise ProfileError(
            f"profile {profile.name!r}: AssumeRole answered without a usable Expiration"
        ) from None
    return (
        Credentials(got.access_key_id, got.access_key_secret, got.security_token),
        expiration.timestamp(),
    )


# ---- flags ------------------------------------------------------------------------------------


def add_profile_flags(parser: argparse.ArgumentParser) -> None:
    """The aliyun-CLI credential and endpoint flags."""
    group = parser.add_argument_group(
        "credentials and endpoint",
        "Precedence: these flags, then the ALIBABA_CLOUD_* environment variables "
        "(ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN, "
        "ALIBABA_CLOUD_REGION_ID, ALIBABA_CLOUD_ENDPOINT, ALIBABA_CLOUD_STS_ENDPOINT, "
        "ALIBABA_CLOUD_PROFILE), then a profile of the aliyun CLI config file. "
        f"Default endpoint: {DEFAULT_ENDPOINT} over http.",
    )
    group.add_argument("--profile", help="profile name in the config file (default: current)")
    group.add_argument(
        "--mode", help="credential mode: AK, StsToken or RamRoleArn (default: from the fields)"
    )
    group.add_argument("--access-key-id", metavar="ID")
    group.add_argument("--access-key-secret", metavar="SECRET")
    group.add_argument("--sts-token", metavar="TOKEN", help="SecurityToken of STS credentials")
    group.add_argument("--ram-role-arn", metavar="ARN", help="RamRoleArn: the role to assume")
    group.add_argument("--role-session-name", metavar="NAME", help="RamRoleArn: session name")
    group.add_argument("--external-id", metavar="ID", help="RamRoleArn: ExternalId")
    group.add_argument(
        "--expired-seconds", type=int, metavar="N", help="RamRoleArn: DurationSeconds"
    )
    group.add_argument("--sts-endpoint", metavar="ENDPOINT", help="RamRoleArn: STS endpoint")
    group.add_argument("--region", metavar="ID", help=f"RegionId (default {DEFAULT_REGION})")
    group.add_argument(
        "--endpoint",
        metavar="ENDPOINT",
        help=f"host:port or http(s)://host:port (default {DEFAULT_ENDPOINT} over http); "
        "a bare host:port means https unless --insecure",
    )
    group.add_argument("--insecure", action="store_true", help="plain http to --endpoint")
    group.add_argument(
        "--config-path",
        default=DEFAULT_CONFIG_PATH,
        metavar="FILE",
        help=f"aliyun CLI config file (default {DEFAULT_CONFIG_PATH})",
    )


# ---- the config file --------------------------------------------------------------------------


def config_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "config_path", None) or DEFAULT_CONFIG_PATH).expanduser()


def load_config(path: Path) -> dict[str, Any]:
    """The parsed config file (read-only); ``{}`` when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("profiles", []), list):
        raise ProfileError(f"{path}: not an aliyun CLI config (an object with a profiles list)")
    return data


def find_profile(config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for entry in config.get("profiles", []):
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def save_profile(path: Path, entry: Mapping[str, Any], *, make_current: bool = True) -> None:
    """Add or update profile ``entry["name"]``; other profiles and unknown fields are kept.

    Written atomically (temp file in the same directory + rename), owner-only (0600).
    """
    config = load_config(path)
    if not config:
        config = {"current": "", "profiles": [], "meta_path": ""}
    profiles: list[Any] = config.setdefault("profiles", [])
    existing = find_profile(config, str(entry["name"]))
    if existing is None:
        profiles.append(dict(entry))
    else:
        existing.update(entry)
    if make_current or not config.get("current"):
        config["current"] = entry["name"]
    text = json.dumps(config, indent="\t", ensure_ascii=False) + "\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


# ---- resolution -------------------------------------------------------------------------------


def canonical_mode(mode: str, where: str) -> str:
    canonical = _MODES.get(mode.strip().lower())
    if canonical is not None:
        return canonical
    if mode.strip().lower() in {m.lower() for m in _FILE_ONLY_MODES}:
        raise ProfileError(f"{where}: mode {mode} is not supported by tessera")
    raise ProfileError(f"{where}: unknown mode {mode!r} (use AK, StsToken or RamRoleArn)")


def missing_fields(mode: str, entry: Mapping[str, Any]) -> list[str]:
    """The config-file fields ``mode`` needs that ``entry`` lacks (empty = usable)."""
    needed = ["access_key_id", "access_key_secret"]
    if mode == "StsToken":
        needed.append("sts_token")
    if mode == "RamRoleArn":
        needed += ["ram_role_arn", "ram_session_name"]
    return [name for name in needed if _text(entry.get(name)) is None]


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _int(value: object, where: str) -> int | None:
    if value is None or value == "" or value == 0:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ProfileError(f"{where}: expired_seconds must be a number, not {value!r}") from None


def resolve_profile(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Profile:
    """Flags > ``ALIBABA_CLOUD_*`` environment > config-file profile (``--profile`` or current).

    Credentials are taken whole from one source: credential flags, else the environment
    (unless ``--profile`` names a profile explicitly), else the profile. Region and endpoint
    are taken field by field with the same precedence.
    """
    env = os.environ if environ is None else environ

    def flag(name: str) -> Any:
        return getattr(args, name, None)

    explicit_name = _text(flag("profile"))
    flag_creds = any(
        _text(flag(name))
        for name in ("access_key_id", "access_key_secret", "sts_token", "ram_role_arn")
    )
    env_creds = bool(
        _text(env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"))
        or _text(env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"))
    )

    entry: Mapping[str, Any] = {}
    name = explicit_name or "default"
    if explicit_name is not None or not (flag_creds or env_creds):
        path = config_path(args)
        config = load_config(path)
        name = (
            explicit_name
            or _text(env.get("ALIBABA_CLOUD_PROFILE"))
            or _text(config.get("current"))
            or "default"
        )
        found = find_profile(config, name)
        if found is not None:
            entry = found
        elif explicit_name is not None or not flag_creds:
            if not config:
                raise ProfileError(
                    "no credentials: pass --access-key-id/--access-key-secret, set "
                    "ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run "
                    f"`tessera configure` (no config file at {path})"
                )
            raise ProfileError(f"{path}: no profile named {name!r}")

    where: str
    if flag_creds:
        where = "flags"
        source: dict[str, Any] = {
            "access_key_id": _text(flag("access_key_id")),
            "access_key_secret": _text(flag("access_key_secret")),
            "sts_token": _text(flag("sts_token")),
            "ram_role_arn": _text(flag("ram_role_arn")),
            "ram_session_name": _text(flag("role_session_name")),
            "external_id": _text(flag("external_id")),
            "expired_seconds": flag("expired_seconds"),
        }
        default_mode = "RamRoleArn" if source["ram_role_arn"] else "Flags"
        mode = _text(flag("mode"))
    elif env_creds and explicit_name is None:
        where = "environment"
        source = {
            "access_key_id": _text(env.get("ALIBABA_CLOUD_ACCESS_KEY_ID")),
            "access_key_secret": _text(env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")),
            "sts_token": _text(env.get("ALIBABA_CLOUD_SECURITY_TOKEN")),
        }
        default_mode = "Env"
        mode = None
    else:
        where = f"profile {name!r}"
        source = dict(entry)
        default_mode = "AK"
        mode = _text(flag("mode")) or _text(entry.get("mode"))
        if mode is None:
            raise ProfileError(f"{where}: no mode (AK, StsToken or RamRoleArn)")

    resolved_mode = canonical_mode(mode, where) if mode else default_mode
    if _text(flag("role_session_name")):
        source["ram_session_name"] = _text(flag("role_session_name"))
    missing = missing_fields(resolved_mode, source)
    if missing:
        raise ProfileError(f"{where}: mode {resolved_mode} needs {', '.join(missing)}")
    access_key_id = _text(source.get("access_key_id"))
    access_key_secret = _text(source.get("access_key_secret"))
    sts_token = _text(source.get("sts_token"))
    ram_role_arn = _text(source.get("ram_role_arn"))
    session_name = _text(source.get("ram_session_name"))
    assert access_key_id is not None and access_key_secret is not None

    expired = _int(flag("expired_seconds"), "--expired-seconds") or _int(
        source.get("expired_seconds"), where
    )
    endpoint = (
        _text(flag("endpoint"))
        or _text(env.get("ALIBABA_CLOUD_ENDPOINT"))
        or _text(entry.get("endpoint"))
    )
    return Profile(
        name=name if where.startswith("profile") else where,
        mode=resolved_mode,
        region_id=(
            _text(flag("region"))
            or _text(env.get("ALIBABA_CLOUD_REGION_ID"))
            or _text(entry.get("region_id"))
            or DEFAULT_REGION
        ),
        endpoint=endpoint,
        insecure=bool(flag("insecure")),
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        sts_token=sts_token if resolved_mode != "AK" else None,
        ram_role_arn=ram_role_arn if resolved_mode == "RamRoleArn" else None,
        role_session_name=session_name if resolved_mode == "RamRoleArn" else None,
        external_id=_text(flag("external_id")) or _text(source.get("external_id")),
        expired_seconds=expired or DEFAULT_DURATION_SECONDS,
        sts_endpoint=(
            _text(flag("sts_endpoint"))
            or _text(env.get("ALIBABA_CLOUD_STS_ENDPOINT"))
            or _text(entry.get("sts_endpoint"))
        ),
    )


def mask(value: str | None) -> str:
    """``***`` plus the last 3 characters (nothing of short values) for listings."""
    if not value:
        return ""
    return "***" + (value[-3:] if len(value) > 8 else "")
