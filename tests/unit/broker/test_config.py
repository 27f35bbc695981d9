"""broker.toml: the shipped example loads; every bad value fails at start-up with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.broker.support import BASE_TOML, settings_from

from tessera.broker.config import (
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    BrokerSettingsError,
    load_broker_settings,
    parse_endpoint,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "broker" / "broker.toml"
ENV = {ENV_ACCESS_KEY_ID: "LTAIfromenv0001", ENV_ACCESS_KEY_SECRET: "secret-from-env"}


def test_the_shipped_example_loads_with_its_three_templates() -> None:
    settings = load_broker_settings(EXAMPLE, environ=ENV)
    assert set(settings.templates) == {"user-prefix", "download", "inbox-upload"}
    assert settings.sts.url == "http://127.0.0.1:9800"
    assert settings.sts.access_key_id == "LTAIfromenv0001"
    assert "secret-from-env" not in repr(settings)
    assert settings.renew_before_seconds == 1800
    assert settings.data_dir == EXAMPLE.parent / "broker-data"
    inbox = settings.templates["inbox-upload"]
    assert inbox.request_variables == {"device_id"}
    assert inbox.policy is not None and "device_id" in inbox.policy.placeholders


def test_flags_override_the_file(tmp_path: Path) -> None:
    settings = load_broker_settings(EXAMPLE, environ=ENV, overrides={"port": 9999, "host": None})
    assert (settings.host, settings.port) == ("127.0.0.1", 9999)


def test_environment_overrides_the_file_secret() -> None:
    settings = settings_from(env={ENV_ACCESS_KEY_SECRET: "other"})
    assert settings.sts.access_key_secret.reveal() == "other"
    assert settings.sts.access_key_id == "LTAIappserver0001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://127.0.0.1:9800", ("http", "127.0.0.1:9800")),
        ("https://sts.aliyuncs.com", ("https", "sts.aliyuncs.com")),
        ("sts.cn-hangzhou.aliyuncs.com", ("https", "sts.cn-hangzhou.aliyuncs.com")),
    ],
)
def test_endpoints(text: str, expected: tuple[str, str]) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["ftp://x", "http://x/path", "http://", "http://h:99999"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(BrokerSettingsError, match=r"sts\.endpoint"):
        parse_endpoint(text)


def _without_secret(toml: str) -> str:
    return toml.replace('access_key_secret = "appserver-secret-value-0001"\n', "")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + "\n[oops]\n", "unknown keys oops"),
        (lambda t: t.replace("query_api_key = true", "query_api_key = 1"), "not a bool"),
        (lambda t: t.replace("[broker]", "[broker]\nportt = 1"), "unknown keys portt"),
        (_without_secret, "AccessKey is required"),
        (lambda t: t.replace("acs:ram::1234567890123456:role/", "acs:ram::x:role/"), "role_arn"),
        (lambda t: t.replace("cache = false", "duration_seconds = 600"), "duration_seconds"),
        (
            lambda t: t.replace("cache = false", "duration_seconds = 1800"),
            "renewed at once",
        ),
        (lambda t: t.replace('user_id = "bob"', 'user_id = "b*b"'), r"api_keys\[1\]\.user_id"),
        (lambda t: t.replace('user_id = "bob"', 'user_id = "alice"'), "duplicate"),
        (lambda t: t.replace('templates = ["download"]', 'templates = ["nope"]'), "no template"),
        (lambda t: t.replace('key_sha256 = "', 'key_sha256 = "zz', 1), "64 hex digits"),
        (
            lambda t: t.replace('request_variables = ["device_id"]', 'request_variables = ["x"]'),
            "request_variables",
        ),
        (
            lambda t: t.replace(
                'variables = { bucket = "sample-bucket" }', 'variables = { bucket = "b/*" }', 1
            ),
            "variables.bucket",
        ),
        (lambda t: t.replace("[templates.uncached]", "[templates.Bad_Name]"), "names are"),
        (
            lambda t: t.replace(
                '"Effect": "Allow", "Action": "oss:GetObject"',
                '"Effect": "Nope", "Action": "oss:GetObject"',
            ),
            "download.policy",
        ),
    ],
)
def test_bad_settings_fail_with_a_reason(edit: object, message: str) -> None:
    with pytest.raises(BrokerSettingsError, match=message):
        settings_from(edit(BASE_TOML))  # type: ignore[operator]


def test_a_missing_request_variable_in_the_policy_is_caught() -> None:
    toml = BASE_TOML.replace('request_variables = ["device_id"]', "").replace(
        "users/${user_id}/*", "users/${user_id}/${device_id}/*"
    )
    with pytest.raises(BrokerSettingsError, match=r"\$\{device_id\} has no value"):
        settings_from(toml)


def test_an_app_without_authentication_is_refused() -> None:
    start = BASE_TOML.index("[[api_keys]]")
    end = BASE_TOML.index("[templates.user-prefix]")
    with pytest.raises(BrokerSettingsError, match="no app-user authentication"):
        settings_from(BASE_TOML[:start] + BASE_TOML[end:])


JWT = """
[jwt]
issuer = "https://login.example.com/"
audience = "tessera-broker"
jwks_file = "jwks.json"
"""


def test_jwt_section(tmp_path: Path) -> None:
    settings = settings_from(BASE_TOML + JWT, base=tmp_path)
    assert settings.jwt is not None
    assert settings.jwt.audience == ("tessera-broker",)
    assert settings.jwt.jwks_file == tmp_path / "jwks.json"
    assert settings.jwt.algorithms == ("RS256", "ES256")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('algorithms = ["none"]', "none not allowed"),
        ('algorithms = ["HS256"]', "HS256 not allowed"),
        ('algorithms = ["RS256", "HS512"]', "HS512 not allowed"),
        ("algorithms = []", "empty not allowed"),
        ('jwks_url = "https://x/jwks"', "exactly one of"),
        ("leeway_seconds = 3600", "leeway"),
    ],
)
def test_bad_jwt_settings(extra: str, message: str) -> None:
    with pytest.raises(BrokerSettingsError, match=message):
        settings_from(BASE_TOML + JWT + extra + "\n")


def test_a_jwt_without_audience_is_refused() -> None:
    with pytest.raises(BrokerSettingsError, match=r"jwt\.audience is required"):
        settings_from(BASE_TOML + JWT.replace('audience = "tessera-broker"\n', ""))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(BrokerSettingsError, match="cannot read"):
        load_broker_settings(tmp_path / "missing.toml", environ=ENV)
    bad = tmp_path / "bad.toml"
    bad.write_text("[broker\n")
    with pytest.raises(BrokerSettingsError, match="cannot read"):
        load_broker_settings(bad, environ=ENV)
