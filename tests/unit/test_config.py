from __future__ import annotations

from pathlib import Path

import pytest

from tessera.config import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert (settings.host, settings.port, settings.region, settings.tls) == (
        "127.0.0.1",
        9800,
        "cn-hangzhou",
        False,
    )


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    config = tmp_path / "tessera.toml"
    config.write_text('[tessera]\nport = 9100\nregion = "cn-shanghai"\ndomain = "oss.example"\n')
    env = {"TESSERA_PORT": "9200", "TESSERA_CONFIG": str(config)}
    settings = load_settings(environ=env, overrides={"port": 9300})
    assert settings.port == 9300
    assert settings.region == "cn-shanghai"
    assert settings.domain == "oss.example"
    assert load_settings(environ=env).port == 9200


def test_secrets_are_masked() -> None:
    settings = load_settings(
        environ={
            "TESSERA_ROOT_ACCESS_KEY_ID": "LTAIabcdefghijklmnop",
            "TESSERA_ROOT_ACCESS_KEY_SECRET": "very-secret-value",
            "TESSERA_ACCOUNT_ID": "1234567890123456",
        }
    )
    assert "very-secret-value" not in repr(settings)
    assert settings.root_access_key_secret is not None
    assert settings.root_access_key_secret.reveal() == "very-secret-value"


@pytest.mark.parametrize(
    "env",
    [
        {"TESSERA_ACCOUNT_ID": "123"},
        {"TESSERA_PORT": "http"},
        {"TESSERA_PORT": "70000"},
        {"TESSERA_TLS": "perhaps"},
        {"TESSERA_REGION": "CN HANGZHOU"},
        {"TESSERA_REGION": "cn-hangzhou\n"},  # ``$`` would match before the line break
        {"TESSERA_ACCOUNT_ID": "1234567890123456\n"},
        {"TESSERA_ROOT_ACCESS_KEY_ID": "LTAIabcdefghijklmnop"},
    ],
)
def test_bad_values_fail_at_boot(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        load_settings(environ=env)


def test_unknown_config_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "tessera.toml"
    config.write_text("[tessera]\nprot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings(environ={}, config_path=config)


def test_workers() -> None:
    assert load_settings(environ={}).workers == 1
    assert load_settings(environ={"TESSERA_WORKERS": "4"}).workers == 4
    for bad in ("0", "65", "two"):
        with pytest.raises(SettingsError, match="workers"):
            load_settings(environ={"TESSERA_WORKERS": bad})
    with pytest.raises(SettingsError, match="in-process broker runs with one worker"):
        load_settings(environ={"TESSERA_WORKERS": "2", "TESSERA_BROKER_CONFIG": "broker.toml"})
