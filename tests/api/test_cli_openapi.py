"""``tessera sts|ram|configure`` run as a subprocess against a real server.

The CLI calls the server through the official tea client; these tests check what a user sees:
the aliyun CLI's output layout (sorted keys, tab indentation), credentials from flags, the
environment and each profile mode of ``~/.aliyun/config.json`` (in a temporary HOME), and errors
as Code/Message/RequestId on stderr with exit status 1 (2 for command-line mistakes).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.clients import (
    REQUEST_ID,
    FreshServer,
    Identities,
    Role,
    TeaApi,
    User,
    account_root,
    allow,
    policy,
    trust,
    unique,
)
from tests.server import (
    ACCOUNT_ID,
    ROOT_ACCESS_KEY_ID,
    ROOT_ACCESS_KEY_SECRET,
    TesseraServer,
    free_port,
)

pytestmark = pytest.mark.sdk


def run_cli(
    home: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m tessera …`` with HOME=home and no ALIBABA_CLOUD_* variables but ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    environ["HOME"] = str(home)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tessera", *argv],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def aliyun_layout(value: Any) -> str:
    """The aliyun CLI's output: sorted keys, tab indentation, no escaping of non-ASCII."""
    return json.dumps(value, sort_keys=True, indent="\t", ensure_ascii=False) + "\n"


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    body: dict[str, Any] = json.loads(result.stdout)
    assert result.stdout == aliyun_layout(body)
    return body


def server_error(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The ``Name: value`` lines a failed call prints on stderr (exit 1, nothing on stdout)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = dict(line.split(": ", 1) for line in result.stderr.splitlines()[1:] if ": " in line)
    assert REQUEST_ID.match(lines["RequestId"]), result.stderr
    return lines


def endpoint(server: TesseraServer) -> list[str]:
    return ["--endpoint", server.endpoint, "--insecure"]


def root_flags(server: TesseraServer) -> list[str]:
    return [
        *endpoint(server),
        "--access-key-id",
        ROOT_ACCESS_KEY_ID,
        "--access-key-secret",
        ROOT_ACCESS_KEY_SECRET,
    ]


def key_flags(server: TesseraServer, user: User) -> list[str]:
    creds = user.creds
    return [
        *endpoint(server),
        "--access-key-id",
        creds.access_key_id,
        "--access-key-secret",
        creds.access_key_secret,
    ]


@pytest.fixture(scope="module")
def assumer(ids: Identities) -> User:
    """A RAM user allowed to call AssumeRole (root may not assume roles)."""
    return ids.user("cli-assumer", system=("AliyunSTSAssumeRoleAccess",))


@pytest.fixture(scope="module")
def role(ids: Identities) -> Role:
    return ids.role("cli-role")


# ---- sts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["V3", "V1"])
def test_get_caller_identity_with_flags(
    server: TesseraServer, tmp_path: Path, signature: str
) -> None:
    result = run_cli(
        tmp_path, "sts", "GetCallerIdentity", "--signature", signature, *root_flags(server)
    )
    body = ok(result)
    assert body["Arn"] == account_root(ACCOUNT_ID)
    assert body["IdentityType"] == "Account"
    assert result.stdout.splitlines()[1] == f'\t"AccountId": "{ACCOUNT_ID}",'


def test_assume_role_prints_the_credentials_as_the_aliyun_cli_does(
    server: TesseraServer, tmp_path: Path, assumer: User, role: Role
) -> None:
    session_policy = policy(allow("oss:GetObject"))
    result = run_cli(
        tmp_path, "sts", "AssumeRole", "--RoleArn", role.arn, "--RoleSessionName", "cli-s",
        "--DurationSeconds", "900", "--Policy", session_policy, *key_flags(server, assumer),
    )  # fmt: skip
    body = ok(result)
    assert list(body) == ["AssumedRoleUser", "Credentials", "RequestId"]
    assert list(body["Credentials"]) == sorted(body["Credentials"])
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")
    assert body["AssumedRoleUser"]["Arn"] == f"{role.arn}/cli-s"
    lines = result.stdout.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert lines[1] == '\t"AssumedRoleUser": {'
    assert lines[2].startswith('\t\t"Arn": ')


def test_assume_role_passes_external_id(
    server: TesseraServer, tmp_path: Path, ids: Identities, assumer: User
) -> None:
    guarded = ids.role(
        "cli-ext",
        trust_policy=trust(
            account_root(ACCOUNT_ID),
            condition={"StringEquals": {"sts:ExternalId": "ext-4711"}},
        ),
    )
    base = ["sts", "AssumeRole", "--RoleArn", guarded.arn, "--RoleSessionName", "ext"]
    flags = key_flags(server, assumer)
    assert server_error(run_cli(tmp_path, *base, *flags))["Code"] == "NoPermission"
    assert server_error(run_cli(tmp_path, *base, "--ExternalId", "other", *flags))["Code"] == (
        "NoPermission"
    )
    body = ok(run_cli(tmp_path, *base, "--ExternalId", "ext-4711", *flags))
    assert body["AssumedRoleUser"]["Arn"] == f"{guarded.arn}/ext"


# ---- profiles of ~/.aliyun/config.json --------------------------------------------------------


def configure(home: Path, *argv: str) -> None:
    result = run_cli(home, "configure", "set", *argv)
    assert result.returncode == 0, result.stderr


def caller_arn(home: Path, *argv: str, env: dict[str, str] | None = None) -> str:
    return str(ok(run_cli(home, "sts", "GetCallerIdentity", *argv, env=env))["Arn"])


def test_ak_ststoken_and_ramrolearn_profiles(
    server: TesseraServer, tmp_path: Path, assumer: User, role: Role
) -> None:
    url = f"http://{server.endpoint}"
    key = assumer.creds
    configure(
        tmp_path, "--profile", "ak", "--mode", "AK", "--access-key-id", key.access_key_id,
        "--access-key-secret", key.access_key_secret, "--endpoint", url,
    )  # fmt: skip
    assumed = ok(
        run_cli(
            tmp_path, "sts", "AssumeRole", "--RoleArn", role.arn, "--RoleSessionName", "tok",
            "--profile", "ak",
        )
    )["Credentials"]  # fmt: skip
    configure(
        tmp_path, "--profile", "sts", "--mode", "StsToken",
        "--access-key-id", assumed["AccessKeyId"],
        "--access-key-secret", assumed["AccessKeySecret"],
        "--sts-token", assumed["SecurityToken"], "--endpoint", url,
    )  # fmt: skip
    configure(
        tmp_path, "--profile", "arn", "--mode", "RamRoleArn", "--access-key-id", key.access_key_id,
        "--access-key-secret", key.access_key_secret, "--ram-role-arn", role.arn,
        "--role-session-name", "from-profile", "--expired-seconds", "1800", "--endpoint", url,
    )  # fmt: skip
    config = tmp_path / ".aliyun" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    before = config.read_bytes()

    user_arn = f"acs:ram::{ACCOUNT_ID}:user/{assumer.name}"
    session_arn = f"acs:ram::{ACCOUNT_ID}:assumed-role/{role.name}"
    assert caller_arn(tmp_path, "--profile", "ak") == user_arn
    assert caller_arn(tmp_path, "--profile", "sts") == f"{session_arn}/tok"
    assert caller_arn(tmp_path, "--profile", "arn") == f"{session_arn}/from-profile"
    assert caller_arn(tmp_path) == f"{session_arn}/from-profile"  # the last one set is current
    assert caller_arn(tmp_path, env={"ALIBABA_CLOUD_PROFILE": "ak"}) == user_arn
    assert config.read_bytes() == before  # reading never writes

    listing = run_cli(tmp_path, "configure", "list")
    assert listing.returncode == 0
    for secret in (key.access_key_secret, assumed["AccessKeySecret"], assumed["SecurityToken"]):
        assert secret not in listing.stdout
    assert re.search(
        r"^arn \* +\| RamRoleArn +\| RamRoleArn:\*\*\*\w{3} +\| Valid", listing.stdout, re.M
    )
    assert config.read_bytes() == before


def test_a_ram_role_arn_profile_whose_role_refuses(
    server: TesseraServer, tmp_path: Path, ids: Identities, assumer: User
) -> None:
    stranger = ids.role("cli-stranger", trust_policy=trust("acs:ram::1111222233334444:root"))
    configure(
        tmp_path, "--profile", "arn", "--mode", "RamRoleArn",
        "--access-key-id", assumer.creds.access_key_id,
        "--access-key-secret", assumer.creds.access_key_secret,
        "--ram-role-arn", stranger.arn, "--role-session-name", "refused",
        "--endpoint", f"http://{server.endpoint}",
    )  # fmt: skip
    result = run_cli(tmp_path, "sts", "GetCallerIdentity")
    assert result.returncode == 2
    assert "AssumeRole" in result.stderr and "NoPermission" in result.stderr
    assert assumer.creds.access_key_secret not in result.stderr + result.stdout


def test_environment_credentials(
    server: TesseraServer, tmp_path: Path, assumer: User, role: Role
) -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": assumer.creds.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": assumer.creds.access_key_secret,
        "ALIBABA_CLOUD_ENDPOINT": f"http://{server.endpoint}",
    }
    assert caller_arn(tmp_path, env=env) == f"acs:ram::{ACCOUNT_ID}:user/{assumer.name}"
    assumed = ok(
        run_cli(
            tmp_path,
            "sts",
            "AssumeRole",
            "--RoleArn",
            role.arn,
            "--RoleSessionName",
            "env-s",
            env=env,
        )
    )["Credentials"]
    session_env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": assumed["AccessKeyId"],
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": assumed["AccessKeySecret"],
        "ALIBABA_CLOUD_SECURITY_TOKEN": assumed["SecurityToken"],
        "ALIBABA_CLOUD_ENDPOINT": f"http://{server.endpoint}",
    }
    arn = caller_arn(tmp_path, env=session_env)
    assert arn == f"acs:ram::{ACCOUNT_ID}:assumed-role/{role.name}/env-s"
    # flags beat the environment
    assert caller_arn(tmp_path, *root_flags(server), env=env) == account_root(ACCOUNT_ID)


def test_environment_credentials_beat_the_current_profile(
    server: TesseraServer, tmp_path: Path, assumer: User
) -> None:
    configure(
        tmp_path, "--access-key-id", assumer.creds.access_key_id,
        "--access-key-secret", assumer.creds.access_key_secret,
        "--endpoint", f"http://{server.endpoint}",
    )  # fmt: skip
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ROOT_ACCESS_KEY_SECRET,
    }
    assert caller_arn(tmp_path, *endpoint(server), env=env) == account_root(ACCOUNT_ID)
    assert caller_arn(tmp_path) == f"acs:ram::{ACCOUNT_ID}:user/{assumer.name}"


# ---- ram --------------------------------------------------------------------------------------


def test_ram_user_round_trip(server: TesseraServer, tmp_path: Path, root_ram: TeaApi) -> None:
    name = unique("cli-user")
    flags = root_flags(server)
    created = ok(
        run_cli(
            tmp_path, "ram", "CreateUser", "--UserName", name, "--DisplayName", "Zoë 测试", *flags
        )
    )
    assert created["User"]["UserName"] == name
    assert created["User"]["DisplayName"] == "Zoë 测试"
    got = run_cli(tmp_path, "ram", "GetUser", "--UserName", name, *flags)
    assert '"DisplayName": "Zoë 测试"' in got.stdout  # printed as is, not \u-escaped
    assert ok(got)["User"]["UserId"] == created["User"]["UserId"]

    listed = ok(run_cli(tmp_path, "ram", "ListUsers", "--MaxItems", "1000", *flags))
    assert name in [u["UserName"] for u in listed["Users"]["User"]]
    updated = ok(
        run_cli(tmp_path, "ram", "UpdateUser", "--UserName", name, "--NewComments", "<&>", *flags)
    )
    assert updated["User"]["Comments"] == "<&>"
    assert root_ram("GetUser", user_name=name)["User"]["Comments"] == "<&>"

    deleted = ok(run_cli(tmp_path, "ram", "DeleteUser", "--UserName", name, *flags))
    assert set(deleted) == {"RequestId"}
    error = server_error(run_cli(tmp_path, "ram", "GetUser", "--UserName", name, *flags))
    assert error["Code"] == "EntityNotExist.User"
    assert error["Message"] == "The user does not exist."


def test_ram_policy_round_trip_with_json_parameters(server: TesseraServer, tmp_path: Path) -> None:
    name = unique("cli-pol")
    document = policy(allow(["oss:GetObject", "oss:ListObjects"], "acs:oss:*:*:bucket/*"))
    flags = root_flags(server)
    created = ok(
        run_cli(
            tmp_path,
            "ram",
            "CreatePolicy",
            "--PolicyName",
            name,
            "--PolicyDocument",
            document,
            *flags,
        )
    )
    assert created["Policy"]["DefaultVersion"] == "v1"
    got = ok(
        run_cli(
            tmp_path, "ram", "GetPolicy", "--PolicyName", name, "--PolicyType", "Custom", *flags
        )
    )
    assert json.loads(got["DefaultPolicyVersion"]["PolicyDocument"]) == json.loads(document)
    bad = server_error(
        run_cli(tmp_path, "ram", "CreatePolicy", "--PolicyName", unique("cli-bad"),
                "--PolicyDocument", '{"Version": "1"}', *flags)
    )  # fmt: skip
    assert bad["Code"] == "MalformedPolicyDocument"


def test_unknown_action(server: TesseraServer, tmp_path: Path) -> None:
    result = run_cli(tmp_path, "ram", "ListUser", *root_flags(server))
    assert result.returncode == 2
    assert result.stdout == ""
    assert 'unknown RAM action "ListUser"; did you mean "ListUsers"?' in result.stderr
    forced = server_error(run_cli(tmp_path, "ram", "ListUser", "--force", *root_flags(server)))
    assert forced["Code"] == "InvalidAction.NotFound"


def test_bad_credentials(server: TesseraServer, tmp_path: Path) -> None:
    unknown = run_cli(
        tmp_path, "ram", "ListUsers", *endpoint(server),
        "--access-key-id", "LTAInoSuchKey000", "--access-key-secret", "guessed-secret-1",
    )  # fmt: skip
    assert server_error(unknown)["Code"] == "InvalidAccessKeyId.NotFound"
    assert "guessed-secret-1" not in unknown.stderr
    wrong = run_cli(
        tmp_path, "ram", "ListUsers", *endpoint(server),
        "--access-key-id", ROOT_ACCESS_KEY_ID, "--access-key-secret", "wrong-secret-2",
    )  # fmt: skip
    assert server_error(wrong)["Code"] == "SignatureDoesNotMatch"
    assert "wrong-secret-2" not in wrong.stderr


def test_missing_credentials_and_unreachable_endpoints(tmp_path: Path) -> None:
    missing = run_cli(tmp_path, "sts", "GetCallerIdentity")
    assert missing.returncode == 2
    assert "no credentials" in missing.stderr
    assert not (tmp_path / ".aliyun").exists()  # nothing was created by reading

    port = free_port()
    nobody = run_cli(
        tmp_path, "sts", "GetCallerIdentity", "--endpoint", f"http://127.0.0.1:{port}",
        "--access-key-id", "LTAIx", "--access-key-secret", "y",
    )  # fmt: skip
    assert nobody.returncode == 1
    assert f"no answer from http://127.0.0.1:{port}" in nobody.stderr


def test_command_line_mistakes_exit_2(server: TesseraServer, tmp_path: Path) -> None:
    flags = root_flags(server)
    dangling = run_cli(tmp_path, "ram", "GetUser", "--UserName", *flags[:0])
    assert dangling.returncode == 2
    assert "--UserName needs a value" in dangling.stderr
    lower = run_cli(tmp_path, "ram", "GetUser", "--username", "x", *flags)
    assert lower.returncode == 2
    assert "unrecognized option --username" in lower.stderr


def test_https_with_the_servers_private_ca(tmp_path: Path, fresh_server: FreshServer) -> None:
    tls = fresh_server(tls=True)
    argv = [
        "sts", "GetCallerIdentity", "--endpoint", tls.endpoint,  # bare host:port → https
        "--access-key-id", ROOT_ACCESS_KEY_ID, "--access-key-secret", ROOT_ACCESS_KEY_SECRET,
    ]  # fmt: skip
    untrusted = run_cli(tmp_path, *argv)
    assert untrusted.returncode == 1
    assert f"no answer from https://{tls.endpoint}: certificate verify failed" in untrusted.stderr
    assert "SSL_CERT_FILE" in untrusted.stderr
    trusted = ok(run_cli(tmp_path, *argv, env={"SSL_CERT_FILE": str(tls.ca_file)}))
    assert trusted["Arn"] == account_root(ACCOUNT_ID)
