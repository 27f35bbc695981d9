"""Credential resolution for the CLI (flags > ALIBABA_CLOUD_* > config profile) and the
aliyun config file: reads never write it, ``configure`` writes it atomically and owner-only."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tessera.cli import profiles
from tessera.cli.main import main
from tessera.cli.profiles import (
    Credentials,
    Profile,
    ProfileError,
    add_profile_flags,
    load_config,
    mask,
    resolve_profile,
    save_profile,
)

AK = {
    "name": "default",
    "mode": "AK",
    "access_key_id": "LTAIprofileKey01",
    "access_key_secret": "profile-secret-01",
    "region_id": "cn-shanghai",
    "endpoint": "http://10.0.0.5:9800",
}
STS = {
    "name": "temp",
    "mode": "StsToken",
    "access_key_id": "STS.tempKey",
    "access_key_secret": "temp-secret",
    "sts_token": "CAIS-token",
    "region_id": "cn-beijing",
}
ROLE = {
    "name": "role",
    "mode": "RamRoleArn",
    "access_key_id": "LTAIroleSource",
    "access_key_secret": "role-source-secret",
    "ram_role_arn": "acs:ram::1234567890123456:role/reader",
    "ram_session_name": "cli",
    "expired_seconds": 1800,
}


def write_config(
    path: Path, *entries: dict[str, Any], current: str = "default", **extra: Any
) -> Path:
    path.write_text(
        json.dumps({"current": current, "profiles": list(entries), "meta_path": "", **extra})
    )
    return path


def parse(*argv: str, config: Path | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_profile_flags(parser)
    args = list(argv)
    if config is not None:
        args += ["--config-path", str(config)]
    return parser.parse_args(args)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.json", AK, STS, ROLE)


ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIenvKey",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret",
}

# ---- precedence ---------------------------------------------------------------------------------


def test_current_profile_is_used_when_there_are_no_flags_or_environment(config: Path) -> None:
    profile = resolve_profile(parse(config=config), {})
    assert profile.name == "default"
    assert profile.mode == "AK"
    assert profile.credentials() == Credentials("LTAIprofileKey01", "profile-secret-01")
    assert profile.region_id == "cn-shanghai"
    assert (profile.scheme, profile.host) == ("http", "10.0.0.5:9800")


def test_alibaba_cloud_profile_selects_another_profile(config: Path) -> None:
    profile = resolve_profile(parse(config=config), {"ALIBABA_CLOUD_PROFILE": "temp"})
    assert (profile.name, profile.mode) == ("temp", "StsToken")


def test_environment_credentials_beat_the_current_profile(config: Path) -> None:
    env = {**ENV, "ALIBABA_CLOUD_SECURITY_TOKEN": "env-token"}
    profile = resolve_profile(parse(config=config), env)
    assert profile.mode == "Env"
    assert profile.credentials() == Credentials("LTAIenvKey", "env-secret", "env-token")
    # nothing of the profile leaks in: default region and endpoint
    assert profile.region_id == "cn-hangzhou"
    assert profile.endpoint is None


def test_flags_beat_environment_and_profile(config: Path) -> None:
    args = parse(
        "--access-key-id", "LTAIflagKey", "--access-key-secret", "flag-secret", config=config
    )
    profile = resolve_profile(args, ENV)
    assert profile.mode == "Flags"
    assert profile.credentials() == Credentials("LTAIflagKey", "flag-secret")


def test_an_explicit_profile_flag_beats_environment_credentials(config: Path) -> None:
    profile = resolve_profile(parse("--profile", "temp", config=config), ENV)
    assert profile.mode == "StsToken"
    assert profile.credentials() == Credentials("STS.tempKey", "temp-secret", "CAIS-token")


def test_credential_flags_with_an_explicit_profile_keep_its_region_and_endpoint(
    config: Path,
) -> None:
    args = parse(
        "--profile", "default", "--access-key-id", "LTAIflag", "--access-key-secret", "s",
        config=config,
    )  # fmt: skip
    profile = resolve_profile(args, {})
    assert profile.credentials() == Credentials("LTAIflag", "s")
    assert (profile.region_id, profile.host) == ("cn-shanghai", "10.0.0.5:9800")


def test_region_and_endpoint_flags_beat_environment_beat_profile(config: Path) -> None:
    env = {"ALIBABA_CLOUD_REGION_ID": "cn-shenzhen", "ALIBABA_CLOUD_ENDPOINT": "env.host:1"}
    from_env = resolve_profile(parse(config=config), env)
    assert (from_env.region_id, from_env.host) == ("cn-shenzhen", "env.host:1")
    from_flags = resolve_profile(
        parse("--region", "cn-qingdao", "--endpoint", "flag.host:2", config=config), env
    )
    assert (from_flags.region_id, from_flags.host) == ("cn-qingdao", "flag.host:2")


def test_sts_token_flag_travels_with_flag_credentials(tmp_path: Path) -> None:
    args = parse(
        "--access-key-id", "STS.x", "--access-key-secret", "y", "--sts-token", "tok",
        config=tmp_path / "absent.json",
    )  # fmt: skip
    assert resolve_profile(args, {}).credentials() == Credentials("STS.x", "y", "tok")


# ---- modes and missing fields ---------------------------------------------------------------


def test_ak_mode_ignores_a_stray_sts_token(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", {**AK, "sts_token": "left-over"})
    assert resolve_profile(parse(config=path), {}).credentials().security_token is None


def test_modes_are_case_insensitive_like_the_aliyun_cli(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", {**STS, "name": "default", "mode": "ststoken"})
    assert resolve_profile(parse(config=path), {}).mode == "StsToken"


def test_ram_role_arn_profile_fields(config: Path) -> None:
    profile = resolve_profile(parse("--profile", "role", config=config), {})
    assert profile.mode == "RamRoleArn"
    assert profile.ram_role_arn == "acs:ram::1234567890123456:role/reader"
    assert (profile.role_session_name, profile.expired_seconds) == ("cli", 1800)


@pytest.mark.parametrize(
    ("entry", "missing"),
    [
        ({**AK, "access_key_secret": ""}, "access_key_secret"),
        ({**STS, "name": "default", "sts_token": None}, "sts_token"),
        ({**ROLE, "name": "default", "ram_session_name": ""}, "ram_session_name"),
        ({**ROLE, "name": "default", "ram_role_arn": None}, "ram_role_arn"),
    ],
)
def test_missing_fields_are_named(tmp_path: Path, entry: dict[str, Any], missing: str) -> None:
    path = write_config(tmp_path / "c.json", entry)
    with pytest.raises(ProfileError, match=missing):
        resolve_profile(parse(config=path), {})


def test_flags_need_both_key_id_and_secret(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="access_key_secret"):
        resolve_profile(parse("--access-key-id", "LTAIx", config=tmp_path / "no.json"), {})


def test_environment_needs_both_key_id_and_secret() -> None:
    with pytest.raises(ProfileError, match=r"environment.*access_key_secret"):
        resolve_profile(parse(), {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIx"})


@pytest.mark.parametrize(
    ("mode", "message"), [("EcsRamRole", "not supported"), ("Magic", "unknown mode")]
)
def test_unusable_modes_are_refused(tmp_path: Path, mode: str, message: str) -> None:
    path = write_config(tmp_path / "c.json", {**AK, "mode": mode})
    with pytest.raises(ProfileError, match=message):
        resolve_profile(parse(config=path), {})


def test_no_credentials_anywhere(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no credentials"):
        resolve_profile(parse(config=tmp_path / "absent.json"), {})


def test_an_unknown_profile_name(config: Path) -> None:
    with pytest.raises(ProfileError, match="no profile named 'nope'"):
        resolve_profile(parse("--profile", "nope", config=config), {})


def test_a_broken_config_file_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"current": "default",\n "profiles": [,]}')
    with pytest.raises(ProfileError, match=r"c\.json:2:15: invalid JSON"):
        resolve_profile(parse(config=path), {})


# ---- endpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "scheme", "host"),
    [
        ((), "http", "127.0.0.1:9800"),
        (("--endpoint", "tessera.example:9800"), "https", "tessera.example:9800"),
        (("--endpoint", "tessera.example:9800", "--insecure"), "http", "tessera.example:9800"),
        (("--endpoint", "http://h:1/"), "http", "h:1"),
        (("--endpoint", "HTTPS://h:2", "--insecure"), "https", "h:2"),
    ],
)
def test_endpoint_scheme(tmp_path: Path, argv: tuple[str, ...], scheme: str, host: str) -> None:
    args = parse("--access-key-id", "a", "--access-key-secret", "b", *argv)
    profile = resolve_profile(args, {})
    assert (profile.scheme, profile.host, profile.url) == (scheme, host, f"{scheme}://{host}")


def test_secrets_stay_out_of_repr(config: Path) -> None:
    profile = resolve_profile(parse("--profile", "temp", config=config), {})
    text = repr(profile) + repr(profile.credentials())
    assert "temp-secret" not in text and "CAIS-token" not in text
    assert "STS.tempKey" in text


def test_mask_shows_at_most_the_last_three_characters() -> None:
    assert mask("LTAIprofileKey01") == "***y01"
    assert mask("short") == "***"
    assert mask(None) == ""


# ---- the file: reads never write, configure writes atomically ---------------------------------


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
        for p in directory.iterdir()
    }


def test_resolving_never_touches_the_file(config: Path) -> None:
    config.chmod(0o644)
    before = _snapshot(config.parent)
    for name in ("default", "temp", "role"):
        resolve_profile(parse("--profile", name, config=config), {})
    resolve_profile(parse(config=config), ENV)
    with pytest.raises(ProfileError):
        resolve_profile(parse("--profile", "nope", config=config), {})
    assert _snapshot(config.parent) == before


def test_save_creates_an_owner_only_file_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".aliyun" / "config.json"
    save_profile(path, {"name": "p", "mode": "AK", "access_key_id": "a", "access_key_secret": "b"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = load_config(path)
    assert data["current"] == "p"
    assert data["profiles"] == [
        {"name": "p", "mode": "AK", "access_key_id": "a", "access_key_secret": "b"}
    ]


def test_save_keeps_other_profiles_and_unknown_fields(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json", {**AK, "x_custom": 1}, STS, future_field={"keep": True}
    )
    path.chmod(0o644)
    save_profile(path, {"name": "default", "region_id": "cn-wulanchabu"})
    data = json.loads(path.read_text())
    assert data["future_field"] == {"keep": True}
    assert data["profiles"][0] == {**AK, "x_custom": 1, "region_id": "cn-wulanchabu"}
    assert data["profiles"][1] == STS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temp file left


def test_a_failed_save_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "c.json", AK)
    before = path.read_bytes()

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(profiles.os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        save_profile(path, {"name": "new", "mode": "AK"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


# ---- tessera configure ----------------------------------------------------------------------


def test_configure_set_writes_a_profile_and_makes_it_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "c.json", AK)
    code = main(
        [
            "configure", "set", "--config-path", str(path), "--profile", "ci", "--mode", "StsToken",
            "--access-key-id", "STS.ci", "--access-key-secret", "ci-secret", "--sts-token", "tok",
            "--region", "cn-beijing", "--endpoint", "127.0.0.1:9900", "--insecure",
        ]
    )  # fmt: skip
    assert code == 0
    assert "ci-secret" not in capsys.readouterr().out
    data = json.loads(path.read_text())
    assert data["current"] == "ci"
    assert data["profiles"][0] == AK
    ci = data["profiles"][1]
    assert ci["mode"] == "StsToken" and ci["sts_token"] == "tok"
    assert ci["endpoint"] == "http://127.0.0.1:9900"
    profile = resolve_profile(parse(config=path), {})
    assert profile.credentials() == Credentials("STS.ci", "ci-secret", "tok")
    assert profile.url == "http://127.0.0.1:9900"


def test_configure_without_subcommand_updates_only_the_given_fields(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", AK, current="default")
    assert main(["configure", "--config-path", str(path), "--region", "cn-chengdu"]) == 0
    (entry,) = json.loads(path.read_text())["profiles"]
    assert entry == {**AK, "region_id": "cn-chengdu", "output_format": "json", "language": "en"}


def test_configure_refuses_an_incomplete_profile_and_leaves_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "c.json", AK)
    before = path.read_bytes()
    code = main(
        [
            "configure", "--config-path", str(path), "--profile", "r", "--mode", "RamRoleArn",
            "--access-key-id", "a", "--access-key-secret", "b",
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "--ram-role-arn" in err and "--role-session-name" in err
    assert path.read_bytes() == before


def test_configure_list_masks_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "c.json", AK, STS, {**ROLE, "ram_session_name": ""})
    before = path.read_bytes()
    assert main(["configure", "list", "--config-path", str(path)]) == 0
    out = capsys.readouterr().out
    for secret in ("profile-secret-01", "temp-secret", "CAIS-token", "LTAIprofileKey01"):
        assert secret not in out
    lines = out.splitlines()
    assert lines[0].split(" | ")[0].strip() == "Profile"
    default = next(line for line in lines if line.startswith("default *"))
    assert "AK:***y01" in default and "Valid" in default
    role = next(line for line in lines if line.startswith("role "))
    assert "Invalid" in role
    assert path.read_bytes() == before


def test_configure_writes_to_home_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    argv = ["configure", "--access-key-id", "LTAIhome", "--access-key-secret", "s"]
    assert main(argv) == 0
    path = tmp_path / ".aliyun" / "config.json"
    assert json.loads(path.read_text())["profiles"][0]["access_key_id"] == "LTAIhome"
    assert os.stat(path).st_mode & 0o077 == 0


def test_profile_is_a_frozen_value() -> None:
    profile = Profile(name="p", mode="AK", access_key_id="a", access_key_secret="b")
    with pytest.raises(AttributeError):
        profile.mode = "StsToken"  # type: ignore[misc]
    assert profile.url == "http://127.0.0.1:9800"


def test_ram_role_arn_without_an_sts_server_is_a_profile_error() -> None:
    from tests.server import free_port

    profile = Profile(
        name="role",
        mode="RamRoleArn",
        endpoint=f"http://127.0.0.1:{free_port()}",
        access_key_id="LTAIsource",
        access_key_secret="source-secret",
        ram_role_arn="acs:ram::1234567890123456:role/reader",
        role_session_name="cli",
    )
    with pytest.raises(ProfileError, match=r"got no answer: \[Errno 111\] Connection refused"):
        profile.credentials()


def test_ram_role_arn_needs_a_role_and_session() -> None:
    profile = Profile(name="p", mode="RamRoleArn", access_key_id="a", access_key_secret="b")
    with pytest.raises(ProfileError, match="RamRoleArn needs"):
        profile.credentials()
