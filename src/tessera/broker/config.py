"""Broker settings: ``broker.toml`` read once, validated, frozen.

Owns: the file format (sections ``[broker]``, ``[sts]``, ``[[api_keys]]``, ``[jwt]``,
``[templates.<name>]``, ``[rate_limit]``, ``[cors]``; see ``examples/broker/broker.toml``), the
defaults, and the two environment variables of the broker (``TESSERA_BROKER_ACCESS_KEY_ID``,
``TESSERA_BROKER_ACCESS_KEY_SECRET``, which override ``[sts]`` so the secret need not sit in
the file). Relative paths are resolved against the config file's directory. Any unknown key,
bad value or unusable template fails here, at start-up, never on a request.
Must not: open sockets, read JWKS URLs, or keep anything mutable.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tessera.broker.errors import InvalidParameter
from tessera.broker.templates import (
    CLAIM_PREFIX,
    USER_ID,
    VARIABLE_NAME,
    PolicyTemplate,
    TemplateSyntaxError,
    check_value,
)
from tessera.secret import Secret

DEFAULT_PORT = 9810
DEFAULT_STS_ENDPOINT = "http://127.0.0.1:9800"
DEFAULT_DURATION = 3600
#: renew a cached token once less than this remains (Alibaba: refresh a 3600 s token at 1800 s)
DEFAULT_RENEW_BEFORE = 1800
MIN_DURATION, MAX_DURATION = 900, 43200

TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9\-]{0,62}")
ROLE_ARN = re.compile(r"acs:ram::\d{1,32}:role/[A-Za-z0-9.\-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
#: a JWKS is public: only asymmetric algorithms make sense, and never ``none``
JWT_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
REQUEST_VARIABLES = frozenset({"device_id", "bucket"})

ENV_ACCESS_KEY_ID = "TESSERA_BROKER_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "TESSERA_BROKER_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name


class BrokerSettingsError(ValueError):
    """The broker configuration cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class StsSettings:
    """Where and as whom the broker calls AssumeRole (the app server's RAM user)."""

    endpoint: str  # "host[:port]" as the tea client takes it
    protocol: str  # "http" or "https"
    access_key_id: str
    access_key_secret: Secret
    region_id: str = "cn-hangzhou"
    ca_file: Path | None = None
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 10.0

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.endpoint}"


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    """One app user's static API key, kept as the SHA-256 of the key (hex)."""

    user_id: str
    key_sha256: str
    templates: frozenset[str] | None = None  # None: every template


@dataclass(frozen=True, slots=True)
class JwtSettings:
    issuer: str
    audience: tuple[str, ...]
    jwks_file: Path | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: float = 60.0
    user_claim: str = "sub"
    templates: frozenset[str] | None = None
    jwks_cache_seconds: float = 300.0
    #: an unknown ``kid`` refetches the JWKS at most this often (a flood of made-up kids must
    #: not become a flood of requests to the identity provider)
    jwks_min_refresh_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    role_arn: str
    policy: PolicyTemplate | None
    duration_seconds: int = DEFAULT_DURATION
    variables: Mapping[str, str] = field(default_factory=dict)  # fixed values (e.g. bucket)
    request_variables: frozenset[str] = frozenset()  # taken from the request's query
    cache: bool = True


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Token buckets; a rate of 0 turns that bucket off.

    ``per_user``: token requests of one app user. ``overall``: token requests of all users.
    ``assume_role``: AssumeRole calls (cache misses) of the whole broker — the STS quota."""

    per_user_per_second: float = 5.0
    per_user_burst: int = 20
    overall_per_second: float = 0.0
    overall_burst: int = 0
    assume_role_per_second: float = 100.0
    assume_role_burst: int = 200


@dataclass(frozen=True, slots=True)
class CorsSettings:
    allow_origins: tuple[str, ...] = ()
    max_age_seconds: int = 600


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    sts: StsSettings
    templates: Mapping[str, Template]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path("broker-data")
    renew_before_seconds: int = DEFAULT_RENEW_BEFORE
    cache_max_entries: int = 100_000
    #: accept ``?api_key=`` in the URL (the credentials_uri providers and the OSS mobile SDKs
    #: send a plain GET without headers); off by default: URLs end up in logs
    query_api_key: bool = False
    session_name_prefix: str = ""
    api_keys: tuple[ApiKeyEntry, ...] = ()
    jwt: JwtSettings | None = None
    rate_limit: RateLimits = RateLimits()
    cors: CorsSettings = CorsSettings()

    @property
    def audit_path(self) -> Path:
        return self.data_dir / "audit.jsonl"


# --------------------------------------------------------------------------- reading


class _Section:
    """Typed access to one TOML table; ``done()`` refuses keys nobody asked for."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise BrokerSettingsError(f"{where}: expected a table")
        self.data: dict[str, Any] = data
        self.where = where
        self.seen: set[str] = set()

    def _get(self, key: str, kinds: tuple[type, ...], default: Any) -> Any:
        self.seen.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in kinds:
            raise BrokerSettingsError(f"{self.where}.{key}: not a {kinds[0].__name__}")
        if not isinstance(value, kinds):
            raise BrokerSettingsError(f"{self.where}.{key}: not a {kinds[0].__name__}")
        return value

    def text(self, key: str, default: Any = None) -> Any:
        return self._get(key, (str,), default)

    def integer(self, key: str, default: Any = None) -> Any:
        return self._get(key, (int,), default)

    def number(self, key: str, default: Any = None) -> Any:
        value = self._get(key, (float, int), default)
        return float(value) if value is not None else None

    def flag(self, key: str, default: Any = None) -> Any:
        return self._get(key, (bool,), default)

    def texts(self, key: str, default: Any = None) -> Any:
        value = self._get(key, (list, str), default)
        if isinstance(value, str):
            value = [value]
        if value is not None and not all(isinstance(item, str) for item in value):
            raise BrokerSettingsError(f"{self.where}.{key}: expected a list of strings")
        return tuple(value) if value is not None else None

    def table(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def require(self, value: Any, key: str) -> Any:
        if value is None:
            raise BrokerSettingsError(f"{self.where}.{key} is required")
        return value

    def done(self) -> None:
        unknown = set(self.data) - self.seen
        if unknown:
            raise BrokerSettingsError(f"{self.where}: unknown keys {', '.join(sorted(unknown))}")


def _path(value: str | None, base: Path) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def parse_endpoint(text: str) -> tuple[str, str]:
    """``(protocol, host[:port])`` from ``http://127.0.0.1:9800``, ``https://sts.aliyuncs.com``
    or a bare ``sts.cn-hangzhou.aliyuncs.com`` (https)."""
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BrokerSettingsError(f"sts.endpoint: not an http(s) endpoint: {text!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise BrokerSettingsError(f"sts.endpoint: only scheme, host and port: {text!r}")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise BrokerSettingsError(f"sts.endpoint: bad port in {text!r}") from None
    return parts.scheme, parts.netloc


def _sts(data: Any, base: Path, environ: Mapping[str, str], default_endpoint: str) -> StsSettings:
    s = _Section(data or {}, "sts")
    protocol, endpoint = parse_endpoint(s.text("endpoint", default_endpoint))
    file_key_id, file_secret = s.text("access_key_id"), s.text("access_key_secret")
    key_id = environ.get(ENV_ACCESS_KEY_ID) or file_key_id
    secret = environ.get(ENV_ACCESS_KEY_SECRET) or file_secret
    if not key_id or not secret:
        raise BrokerSettingsError(
            "the app server's AccessKey is required: sts.access_key_id and "
            f"sts.access_key_secret, or {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}"
        )
    settings = StsSettings(
        endpoint=endpoint,
        protocol=protocol,
        access_key_id=key_id,
        access_key_secret=Secret(secret),
        region_id=s.text("region_id", "cn-hangzhou"),
        ca_file=_path(s.text("ca_file"), base),
        connect_timeout_seconds=s.number("connect_timeout_seconds", 5.0),
        read_timeout_seconds=s.number("read_timeout_seconds", 10.0),
    )
    s.done()
    if settings.connect_timeout_seconds <= 0 or settings.read_timeout_seconds <= 0:
        raise BrokerSettingsError("sts: timeouts must be positive")
    return settings


def _template_names(value: tuple[str, ...] | None, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    for name in value:
        if not TEMPLATE_NAME.fullmatch(name):
            raise BrokerSettingsError(f"{where}: not a template name: {name!r}")
    return frozenset(value)


def _api_keys(data: Any) -> tuple[ApiKeyEntry, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise BrokerSettingsError("api_keys: expected [[api_keys]] entries")
    entries: list[ApiKeyEntry] = []
    seen_users: set[str] = set()
    seen_hashes: set[str] = set()
    for index, item in enumerate(data):
        where = f"api_keys[{index}]"
        s = _Section(item, where)
        user_id = s.require(s.text("user_id"), "user_id")
        digest = s.require(s.text("key_sha256"), "key_sha256").lower()
        templates = _template_names(s.texts("templates"), f"{where}.templates")
        s.done()
        try:
            check_value(USER_ID, user_id)
        except InvalidParameter as exc:
            raise BrokerSettingsError(f"{where}.user_id: {exc.message}") from None
        if not SHA256_HEX.fullmatch(digest):
            raise BrokerSettingsError(
                f"{where}.key_sha256: expected 64 hex digits (tessera broker hash-key)"
            )
        if user_id in seen_users or digest in seen_hashes:
            raise BrokerSettingsError(f"{where}: duplicate user_id or key")
        seen_users.add(user_id)
        seen_hashes.add(digest)
        entries.append(ApiKeyEntry(user_id, digest, templates))
    return tuple(entries)


def _jwt(data: Any, base: Path) -> JwtSettings | None:
    if data is None:
        return None
    s = _Section(data, "jwt")
    settings = JwtSettings(
        issuer=s.require(s.text("issuer"), "issuer"),
        audience=s.require(s.texts("audience"), "audience"),
        jwks_file=_path(s.text("jwks_file"), base),
        jwks_url=s.text("jwks_url"),
        algorithms=s.texts("algorithms", ("RS256", "ES256")),
        leeway_seconds=s.number("leeway_seconds", 60.0),
        user_claim=s.text("user_claim", "sub"),
        templates=_template_names(s.texts("templates"), "jwt.templates"),
        jwks_cache_seconds=s.number("jwks_cache_seconds", 300.0),
        jwks_min_refresh_seconds=s.number("jwks_min_refresh_seconds", 30.0),
    )
    s.done()
    if (settings.jwks_file is None) == (settings.jwks_url is None):
        raise BrokerSettingsError("jwt: set exactly one of jwks_file and jwks_url")
    if settings.jwks_url is not None and urlsplit(settings.jwks_url).scheme not in (
        "http",
        "https",
    ):
        raise BrokerSettingsError("jwt.jwks_url: not an http(s) URL")
    bad = [alg for alg in settings.algorithms if alg not in JWT_ALGORITHMS]
    if bad or not settings.algorithms:
        raise BrokerSettingsError(
            f"jwt.algorithms: {', '.join(bad) or 'empty'} not allowed; "
            f"choose from {', '.join(sorted(JWT_ALGORITHMS))} (never none or HS*)"
        )
    if not settings.audience:
        raise BrokerSettingsError("jwt.audience must name at least one audience")
    if not 0 <= settings.leeway_seconds <= 600:
        raise BrokerSettingsError("jwt.leeway_seconds must be between 0 and 600")
    return settings


def _template(name: str, data: Any) -> Template:
    where = f"templates.{name}"
    if not TEMPLATE_NAME.fullmatch(name):
        raise BrokerSettingsError(f"{where}: names are lower-case letters, digits and '-'")
    s = _Section(data, where)
    role_arn = s.require(s.text("role_arn"), "role_arn")
    duration = s.integer("duration_seconds", DEFAULT_DURATION)
    policy_source = s.table("policy")
    variables_table = s.table("variables") or {}
    request_variables = s.texts("request_variables", ())
    cache = s.flag("cache", True)
    s.done()
    if not ROLE_ARN.fullmatch(role_arn):
        raise BrokerSettingsError(f"{where}.role_arn: not acs:ram::<account>:role/<name>")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise BrokerSettingsError(
            f"{where}.duration_seconds: between {MIN_DURATION} and {MAX_DURATION}"
        )
    variables = _Section(variables_table, f"{where}.variables")
    fixed: dict[str, str] = {}
    for key in list(variables.data):
        value = variables.require(variables.text(key), key)
        if not VARIABLE_NAME.fullmatch(key) or key == USER_ID:
            raise BrokerSettingsError(f"{where}.variables: {key!r} cannot be set here")
        try:
            fixed[key] = check_value(key, value)
        except InvalidParameter as exc:
            raise BrokerSettingsError(f"{where}.variables.{key}: {exc.message}") from None
    for key in request_variables:
        if key not in REQUEST_VARIABLES:
            raise BrokerSettingsError(
                f"{where}.request_variables: {key!r} is not one of "
                f"{', '.join(sorted(REQUEST_VARIABLES))}"
            )
        if key in fixed:
            raise BrokerSettingsError(f"{where}: {key!r} is both fixed and from the request")
    policy: PolicyTemplate | None = None
    if policy_source is not None:
        if not isinstance(policy_source, (str, dict)):
            raise BrokerSettingsError(f"{where}.policy: a JSON string or a table")
        try:
            policy = PolicyTemplate.compile(policy_source)
        except TemplateSyntaxError as exc:
            raise BrokerSettingsError(f"{where}.policy: {exc}") from None
        known = {USER_ID, *fixed, *request_variables}
        for placeholder in sorted(policy.placeholders):
            if placeholder not in known and not placeholder.startswith(CLAIM_PREFIX):
                raise BrokerSettingsError(
                    f"{where}.policy: ${{{placeholder}}} has no value: set it under "
                    f"{where}.variables or list it in request_variables"
                )
    return Template(
        name=name,
        role_arn=role_arn,
        policy=policy,
        duration_seconds=duration,
        variables=fixed,
        request_variables=frozenset(request_variables),
        cache=cache,
    )


def _rate_limits(data: Any) -> RateLimits:
    s = _Section(data or {}, "rate_limit")
    d = RateLimits()
    limits = RateLimits(
        per_user_per_second=s.number("per_user_per_second", d.per_user_per_second),
        per_user_burst=s.integer("per_user_burst", d.per_user_burst),
        overall_per_second=s.number("overall_per_second", d.overall_per_second),
        overall_burst=s.integer("overall_burst", d.overall_burst),
        assume_role_per_second=s.number("assume_role_per_second", d.assume_role_per_second),
        assume_role_burst=s.integer("assume_role_burst", d.assume_role_burst),
    )
    s.done()
    for rate, burst, name in (
        (limits.per_user_per_second, limits.per_user_burst, "per_user"),
        (limits.overall_per_second, limits.overall_burst, "overall"),
        (limits.assume_role_per_second, limits.assume_role_burst, "assume_role"),
    ):
        if rate < 0 or burst < 0 or (rate > 0 and burst < 1):
            raise BrokerSettingsError(
                f"rate_limit.{name}: the rate must be >= 0 and, when set, the burst >= 1"
            )
    return limits


def _cors(data: Any) -> CorsSettings:
    s = _Section(data or {}, "cors")
    cors = CorsSettings(
        allow_origins=s.texts("allow_origins", ()),
        max_age_seconds=s.integer("max_age_seconds", 600),
    )
    s.done()
    for origin in cors.allow_origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise BrokerSettingsError(f"cors.allow_origins: not an origin: {origin!r}")
    return cors


def parse_broker_settings(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    default_sts_endpoint: str = DEFAULT_STS_ENDPOINT,
    default_ca_file: Path | None = None,
) -> BrokerSettings:
    """Validate a decoded ``broker.toml``; ``base_dir`` anchors relative paths."""
    environ = os.environ if environ is None else environ
    top = _Section(dict(data), "broker.toml")
    broker = _Section(top.table("broker") or {}, "broker")
    sts = _sts(top.table("sts"), base_dir, environ, default_sts_endpoint)
    if sts.ca_file is None and default_ca_file is not None and sts.protocol == "https":
        sts = _replace_ca(sts, default_ca_file)
    templates_table = top.table("templates") or {}
    if not isinstance(templates_table, dict) or not templates_table:
        raise BrokerSettingsError("define at least one [templates.<name>]")
    templates = {name: _template(name, value) for name, value in templates_table.items()}
    api_keys = _api_keys(top.table("api_keys"))
    jwt = _jwt(top.table("jwt"), base_dir)
    settings = BrokerSettings(
        sts=sts,
        templates=templates,
        host=broker.text("host", "127.0.0.1"),
        port=broker.integer("port", DEFAULT_PORT),
        data_dir=_path(broker.text("data_dir", "broker-data"), base_dir) or base_dir,
        renew_before_seconds=broker.integer("renew_before_seconds", DEFAULT_RENEW_BEFORE),
        cache_max_entries=broker.integer("cache_max_entries", 100_000),
        query_api_key=broker.flag("query_api_key", False),
        session_name_prefix=broker.text("session_name_prefix", ""),
        api_keys=api_keys,
        jwt=jwt,
        rate_limit=_rate_limits(top.table("rate_limit")),
        cors=_cors(top.table("cors")),
    )
    broker.done()
    top.done()
    return _validate(settings)


def _replace_ca(sts: StsSettings, ca_file: Path) -> StsSettings:
    from dataclasses import replace

    return replace(sts, ca_file=ca_file)


def _validate(settings: BrokerSettings) -> BrokerSettings:
    if not 0 <= settings.port <= 65535:
        raise BrokerSettingsError(f"broker.port out of range: {settings.port}")
    if not settings.api_keys and settings.jwt is None:
        raise BrokerSettingsError("no app-user authentication: add [[api_keys]] or [jwt]")
    if settings.renew_before_seconds < 0 or settings.cache_max_entries < 1:
        raise BrokerSettingsError("broker: renew_before_seconds >= 0, cache_max_entries >= 1")
    if settings.session_name_prefix and not re.fullmatch(
        r"[\w.@\-]{1,32}", settings.session_name_prefix, re.ASCII
    ):
        raise BrokerSettingsError("broker.session_name_prefix: up to 32 of [A-Za-z0-9_.@-]")
    for template in settings.templates.values():
        if template.cache and template.duration_seconds <= settings.renew_before_seconds:
            raise BrokerSettingsError(
                f"templates.{template.name}: a {template.duration_seconds} s token would be "
                f"renewed at once (broker.renew_before_seconds = "
                f"{settings.renew_before_seconds}); raise duration_seconds or set cache = false"
            )
    named = [entry.templates for entry in settings.api_keys] + [
        settings.jwt.templates if settings.jwt else None
    ]
    for names in named:
        for name in names or ():
            if name not in settings.templates:
                raise BrokerSettingsError(f"templates allowed for a user: no template {name!r}")
    return settings


def load_broker_settings(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    default_sts_endpoint: str = DEFAULT_STS_ENDPOINT,
    default_ca_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BrokerSettings:
    """Read and validate ``path``; ``overrides`` (e.g. ``host``/``port`` from flags) win."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BrokerSettingsError(f"cannot read broker config {path}: {exc}") from None
    set_overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if set_overrides:
        broker = dict(data.get("broker") or {})
        broker.update(set_overrides)
        data["broker"] = broker
    return parse_broker_settings(
        data,
        base_dir=path.resolve().parent,
        environ=environ,
        default_sts_endpoint=default_sts_endpoint,
        default_ca_file=default_ca_file,
    )
