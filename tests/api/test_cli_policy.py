"""``tessera policy simulate --principal`` against a real server: the principal's attached
policies (a user's groups' included) are read through the RAM API, and the simulated decision
is the one the server makes when that principal calls."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.clients import Identities, TeaApi, User, allow, policy, unique
from tests.api.test_cli_openapi import key_flags, root_flags, run_cli, server_error
from tests.server import ACCOUNT_ID, TesseraServer

pytestmark = pytest.mark.sdk

RAM = f"acs:ram:*:{ACCOUNT_ID}"


def simulate(
    home: Path, server: TesseraServer, principal: str, action: str, resource: str, *extra: str
) -> dict[str, Any]:
    result = run_cli(
        home, "policy", "simulate", "--principal", principal, "--action", action,
        "--resource", resource, "--output", "json", *extra, *root_flags(server),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def deciding(report: dict[str, Any]) -> list[tuple[str, str, int, str | None, str]]:
    return [
        (m["PolicyName"], m["PolicyType"], m["StatementIndex"], m["Sid"], m["Effect"])
        for m in report["MatchedStatements"]
    ]


@pytest.fixture(scope="module")
def grouped_user(ids: Identities, root_ram: TeaApi) -> tuple[User, str, str, str]:
    """A user allowed ram:Get*/List* by its own policy and denied GetUser on one victim by its
    group's policy. Returns (user, own policy, group policy, victim name)."""
    victim = unique("cli-victim")
    root_ram("CreateUser", user_name=victim)
    own = unique("cli-read")
    user = ids.user("cli-sim")
    root_ram(
        "CreatePolicy", policy_name=own, policy_document=policy(allow(["ram:Get*", "ram:List*"]))
    )
    root_ram("AttachPolicyToUser", policy_name=own, policy_type="Custom", user_name=user.name)
    group, denied = unique("cli-grp"), unique("cli-deny")
    deny = {
        "Sid": "ProtectVictim",
        "Effect": "Deny",
        "Action": "ram:GetUser",
        "Resource": f"{RAM}:user/{victim}",
    }
    root_ram("CreateGroup", group_name=group)
    root_ram("AddUserToGroup", group_name=group, user_name=user.name)
    root_ram("CreatePolicy", policy_name=denied, policy_document=policy(deny))
    root_ram("AttachPolicyToGroup", policy_name=denied, policy_type="Custom", group_name=group)
    return user, own, denied, victim


def test_simulate_agrees_with_the_server(
    server: TesseraServer, tmp_path: Path, grouped_user: tuple[User, str, str, str]
) -> None:
    user, own, denied, victim = grouped_user
    principal = f"acs:ram::{ACCOUNT_ID}:user/{user.name}"

    listing = simulate(tmp_path, server, principal, "ram:ListUsers", f"{RAM}:*")
    assert listing["Decision"] == "Allow"
    assert deciding(listing) == [(own, "Custom", 0, None, "Allow")]
    origins = {(p["PolicyName"], p["From"]) for p in listing["EvaluatedPolicies"]}
    assert (own, f"user {user.name}") in origins
    assert any(name == denied and origin.startswith("group ") for name, origin in origins)

    protected = simulate(tmp_path, server, principal, "ram:GetUser", f"{RAM}:user/{victim}")
    assert protected["Decision"] == "ExplicitDeny"
    assert deciding(protected) == [(denied, "Custom", 0, "ProtectVictim", "Deny")]

    creating = simulate(tmp_path, server, principal, "ram:CreateUser", f"{RAM}:user/new")
    assert (creating["Decision"], creating["MatchedStatements"]) == ("ImplicitDeny", [])

    # the server decides the same when the user calls
    as_user = key_flags(server, user)
    listed = run_cli(tmp_path, "ram", "ListUsers", *as_user)
    assert listed.returncode == 0, listed.stderr
    refused = server_error(run_cli(tmp_path, "ram", "GetUser", "--UserName", victim, *as_user))
    assert refused["Code"] == "NoPermission"
    create = run_cli(tmp_path, "ram", "CreateUser", "--UserName", unique("cli-no"), *as_user)
    assert server_error(create)["Code"] == "NoPermission"


def test_simulate_a_role_with_a_session_policy(
    server: TesseraServer, tmp_path: Path, ids: Identities
) -> None:
    role = ids.role("cli-sim-role", system=("AliyunOSSReadOnlyAccess",))
    principal = f"acs:ram::{ACCOUNT_ID}:role/{role.name}"
    obj = f"acs:oss:*:{ACCOUNT_ID}:bucket/key"

    read = simulate(tmp_path, server, principal, "oss:GetObject", obj)
    assert read["Decision"] == "Allow"
    assert deciding(read)[0][:2] == ("AliyunOSSReadOnlyAccess", "System")
    assert simulate(tmp_path, server, principal, "oss:PutObject", obj)["Decision"] == (
        "ImplicitDeny"
    )

    session = tmp_path / "session.json"
    session.write_text(policy(allow("oss:ListObjects")))
    narrowed = simulate(
        tmp_path, server, principal, "oss:GetObject", obj, "--session-policy-file", str(session)
    )
    assert (narrowed["Decision"], narrowed["DecidedBy"]) == ("ImplicitDeny", "SessionPolicy")


def test_simulate_text_output(
    server: TesseraServer, tmp_path: Path, grouped_user: tuple[User, str, str, str]
) -> None:
    user, _, denied, victim = grouped_user
    result = run_cli(
        tmp_path, "policy", "simulate", "--principal", f"acs:ram::{ACCOUNT_ID}:user/{user.name}",
        "--action", "ram:GetUser", "--resource", f"{RAM}:user/{victim}", *root_flags(server),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Decision: ExplicitDeny"
    assert f"  {denied} (Custom, v1) Statement[0] Sid=ProtectVictim Effect=Deny" in lines


def test_simulate_an_unknown_principal(server: TesseraServer, tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "policy", "simulate", "--principal", f"acs:ram::{ACCOUNT_ID}:user/nobody-here",
        "--action", "oss:GetObject", "--resource", "*", *root_flags(server),
    )  # fmt: skip
    assert server_error(result)["Code"] == "EntityNotExist.User"


def test_policy_check_as_a_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "Version": "1",\n  "Statement": [{"Effect": "Allow", "Action": "x"}]\n}')
    result: subprocess.CompletedProcess[str] = run_cli(tmp_path, "policy", "check", str(bad))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{bad}:3:")
    assert 'Statement[0].Action: "x" is not an action' in result.stdout
