"""STS through the official Node client ``@alicloud/pop-core`` (tests/js, run with ``node``).

pop-core signs V1 and sends everything in the query (GET, its default) or everything,
``Signature`` included, in a form body (``{method: 'POST'}``) — spec §2.2, capture G. It treats
any JSON body with a ``Code`` as an error whatever the HTTP status (spec §1.7).
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.clients import (
    EXPIRATION,
    Identities,
    Role,
    User,
    allow,
    policy,
    ram_api,
    session_creds,
)
from tests.api.rawrpc import Credentials
from tests.server import ACCOUNT_ID, TesseraServer

pytestmark = [pytest.mark.sdk, pytest.mark.node]

JS_DIR = Path(__file__).resolve().parent.parent / "js"
SCRIPT = JS_DIR / "pop_core_assume_role.js"


@dataclass(frozen=True)
class World:
    broker: User
    role: Role


@pytest.fixture(scope="module")
def world(ids: Identities) -> World:
    node = shutil.which("node")
    assert node, "Node.js is required for these tests (CI installs Node 20)"
    assert (JS_DIR / "node_modules" / "@alicloud" / "pop-core").is_dir(), (
        "run `npm ci` in tests/js first (make node)"
    )
    return World(
        broker=ids.user("pop-broker", system=("AliyunSTSAssumeRoleAccess",)),
        role=ids.role("pop-role", system=("AliyunRAMFullAccess",)),
    )


@pytest.fixture(params=["GET", "POST"])
def method(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_pop_core(server: TesseraServer, creds: Credentials, method: str, **env: str) -> Any:
    full_env = {
        **os.environ,
        "TESSERA_ENDPOINT": server.url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.access_key_secret,
        "METHOD": method,
        **env,
    }
    full_env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)
    if creds.security_token is not None:
        full_env["ALIBABA_CLOUD_SECURITY_TOKEN"] = creds.security_token
    done = subprocess.run(
        ["node", str(SCRIPT)],
        cwd=JS_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["popCore"] == "1.8.0"
    assert out["method"] == method
    return out


def test_assume_role_and_caller_identity(server: TesseraServer, world: World, method: str) -> None:
    out = run_pop_core(
        server,
        world.broker.creds,
        method,
        ROLE_ARN=world.role.arn,
        ROLE_SESSION_NAME="pop-alice",
    )
    assert "error" not in out, out.get("error")
    assert out["caller"]["IdentityType"] == "RAMUser"
    assert out["caller"]["Arn"] == f"acs:ram::{ACCOUNT_ID}:user/{world.broker.name}"

    assumed = out["assumed"]
    assert assumed["AssumedRoleUser"] == {
        "Arn": f"acs:ram::{ACCOUNT_ID}:role/{world.role.name}/pop-alice",
        "AssumedRoleId": f"{world.role.role_id}:pop-alice",
    }
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert EXPIRATION.match(creds["Expiration"])
    expires = calendar.timegm(time.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (time.time() + 3600)) <= 10

    session = out["session"]
    assert session["IdentityType"] == "AssumedRoleUser"
    assert session["Arn"] == f"acs:ram::{ACCOUNT_ID}:assumed-role/{world.role.name}/pop-alice"
    assert session["PrincipalId"] == f"{world.role.role_id}:pop-alice"


def test_session_policy_with_wildcards(server: TesseraServer, world: World, method: str) -> None:
    """A Policy full of characters pop-core escapes specially (``*``, ``:``, ``/``)."""
    narrow = policy(allow("ram:List*", f"acs:ram:*:{ACCOUNT_ID}:*"))
    out = run_pop_core(
        server,
        world.broker.creds,
        method,
        ROLE_ARN=world.role.arn,
        ROLE_SESSION_NAME="pop-narrow",
        POLICY=narrow,
        DURATION_SECONDS="900",
    )
    assert "error" not in out, out.get("error")
    expires = calendar.timegm(
        time.strptime(out["assumed"]["Credentials"]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    )
    assert abs(expires - (time.time() + 900)) <= 10
    api = ram_api(server, session_creds(out["assumed"]))
    api("ListUsers")
    err = api.fails("GetUser", user_name=world.broker.name)
    assert (err.code, err.status) == ("NoPermission", 403)


def test_caller_identity_with_sts_token(server: TesseraServer, world: World, method: str) -> None:
    first = run_pop_core(
        server, world.broker.creds, method, ROLE_ARN=world.role.arn, ROLE_SESSION_NAME="pop-t"
    )
    token = session_creds(first["assumed"])
    out = run_pop_core(server, token, method)
    assert "error" not in out, out.get("error")
    assert out["caller"]["IdentityType"] == "AssumedRoleUser"
    assert out["caller"]["RoleId"] == world.role.role_id


def test_bad_secret(server: TesseraServer, world: World, method: str) -> None:
    wrong = Credentials(world.broker.creds.access_key_id, "wrong-secret")
    out = run_pop_core(server, wrong, method)
    error = out["error"]
    assert error["step"] == "GetCallerIdentity"
    assert error["code"] == "SignatureDoesNotMatch"
    assert error["name"] == "SignatureDoesNotMatchError"
    assert error["statusCode"] == 400


def test_not_authorized(server: TesseraServer, ids: Identities, world: World, method: str) -> None:
    outsider = ids.user("pop-outsider")
    out = run_pop_core(
        server, outsider.creds, method, ROLE_ARN=world.role.arn, ROLE_SESSION_NAME="pop-no"
    )
    assert out["caller"]["IdentityType"] == "RAMUser"
    assert out["error"]["step"] == "AssumeRole"
    assert out["error"]["code"] == "NoPermission"
    assert out["error"]["statusCode"] == 403
