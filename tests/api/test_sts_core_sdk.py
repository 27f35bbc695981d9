"""STS through the V1 SDK: ``aliyun-python-sdk-core`` + ``aliyun-python-sdk-sts``.

Pointed at the server as spec §2.6 says (``set_endpoint`` + ``set_protocol_type('http')``),
with POST (the request classes' default) and GET (``set_method('GET')``), with a RAM user's
AccessKey and with ``StsTokenCredential``.
"""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest
from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest

from tests.api.clients import (
    EXPIRATION,
    REQUEST_ID,
    ROOT,
    Identities,
    Role,
    User,
    allow,
    policy,
    ram_api,
    role_arn,
    session_creds,
    unique,
)
from tests.api.rawrpc import Credentials
from tests.server import ACCOUNT_ID, TesseraServer

pytestmark = pytest.mark.sdk


@dataclass(frozen=True)
class World:
    broker: User
    role: Role


@pytest.fixture(scope="module")
def world(ids: Identities) -> World:
    return World(
        broker=ids.user("core-broker", system=("AliyunSTSAssumeRoleAccess",)),
        role=ids.role("core-role", system=("AliyunRAMFullAccess",)),
    )


@pytest.fixture(params=["POST", "GET"])
def method(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client(creds: Credentials) -> AcsClient:
    if creds.security_token is not None:
        credential: Any = StsTokenCredential(
            creds.access_key_id, creds.access_key_secret, creds.security_token
        )
    else:
        credential = AccessKeyCredential(creds.access_key_id, creds.access_key_secret)
    return AcsClient(
        region_id="cn-hangzhou",
        credential=credential,
        auto_retry=False,
        timeout=10,
        connect_timeout=5,
    )


def prepared(request: Any, server: TesseraServer, method: str) -> Any:
    request.set_endpoint(server.endpoint)
    request.set_protocol_type("http")
    request.set_method(method)
    return request


def assume_role(
    server: TesseraServer, creds: Credentials, method: str, arn: str, session: str, **extra: Any
) -> dict[str, Any]:
    request = prepared(AssumeRoleRequest(), server, method)
    request.set_RoleArn(arn)
    request.set_RoleSessionName(session)
    if "duration" in extra:
        request.set_DurationSeconds(extra["duration"])
    if "policy" in extra:
        request.set_Policy(extra["policy"])
    body: dict[str, Any] = json.loads(client(creds).do_action_with_exception(request))
    return body


def caller_identity(server: TesseraServer, creds: Credentials, method: str) -> dict[str, Any]:
    request = prepared(GetCallerIdentityRequest(), server, method)
    body: dict[str, Any] = json.loads(client(creds).do_action_with_exception(request))
    return body


def server_error(call: Any) -> ServerException:
    with pytest.raises(ServerException) as info:
        call()
    return info.value


def test_assume_role(server: TesseraServer, world: World, method: str) -> None:
    body = assume_role(server, world.broker.creds, method, world.role.arn, "core-alice")
    assert REQUEST_ID.match(body["RequestId"])
    assert body["AssumedRoleUser"] == {
        "Arn": f"acs:ram::{ACCOUNT_ID}:role/{world.role.name}/core-alice",
        "AssumedRoleId": f"{world.role.role_id}:core-alice",
    }
    creds = body["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    assert EXPIRATION.match(creds["Expiration"])
    expires = calendar.timegm(time.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (time.time() + 3600)) <= 5


def test_assume_role_with_duration_and_policy(
    server: TesseraServer, world: World, method: str
) -> None:
    narrow = policy(allow("ram:ListUsers"))
    body = assume_role(
        server,
        world.broker.creds,
        method,
        world.role.arn,
        "core-narrow",
        duration=900,
        policy=narrow,
    )
    expires = calendar.timegm(
        time.strptime(body["Credentials"]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    )
    assert abs(expires - (time.time() + 900)) <= 5
    api = ram_api(server, session_creds(body))
    api("ListUsers")
    err = api.fails("CreateUser", user_name=unique("nope"))
    assert (err.code, err.status) == ("NoPermission", 403)


def test_caller_identity_with_access_key(server: TesseraServer, world: World, method: str) -> None:
    body = caller_identity(server, world.broker.creds, method)
    assert body["IdentityType"] == "RAMUser"
    assert body["Arn"] == f"acs:ram::{ACCOUNT_ID}:user/{world.broker.name}"
    assert body["UserId"] == world.broker.user_id
    assert body["AccountId"] == ACCOUNT_ID


def test_caller_identity_with_sts_token(server: TesseraServer, world: World, method: str) -> None:
    assumed = assume_role(server, world.broker.creds, method, world.role.arn, "core-token")
    body = caller_identity(server, session_creds(assumed), method)
    assert body["IdentityType"] == "AssumedRoleUser"
    assert body["Arn"] == f"acs:ram::{ACCOUNT_ID}:assumed-role/{world.role.name}/core-token"
    assert body["RoleId"] == world.role.role_id
    assert body["PrincipalId"] == f"{world.role.role_id}:core-token"


def test_role_chaining_with_sts_token_credential(
    server: TesseraServer, world: World, ids: Identities, method: str
) -> None:
    hop = ids.role("core-hop", system=("AliyunSTSAssumeRoleAccess",))
    target = ids.role(
        "core-target",
        trust_policy=policy(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": [role_arn(hop.name)]},
            }
        ),
    )
    first = assume_role(server, world.broker.creds, method, hop.arn, "hop1", duration=900)
    chained = assume_role(server, session_creds(first), method, target.arn, "hop2")
    assert chained["AssumedRoleUser"]["AssumedRoleId"] == f"{target.role_id}:hop2"
    assert chained["Credentials"]["Expiration"] <= first["Credentials"]["Expiration"]


def test_wrong_secret_is_diagnosed_by_the_sdk(
    server: TesseraServer, world: World, method: str
) -> None:
    """core compares its own string to sign with the one in the server's message (spec §1.7);
    when they are equal it reports ``InvalidAccessKeySecret``. That only happens if the server
    returns HTTP 400, code SignatureDoesNotMatch, and exactly the client's string to sign."""
    wrong = Credentials(world.broker.creds.access_key_id, "not-the-secret")
    exc = server_error(lambda: caller_identity(server, wrong, method))
    assert exc.get_http_status() == 400
    assert exc.get_error_code() == "InvalidAccessKeySecret", exc.get_error_msg()
    exc = server_error(lambda: assume_role(server, wrong, method, world.role.arn, "core-wrong"))
    assert exc.get_http_status() == 400
    assert exc.get_error_code() == "InvalidAccessKeySecret", exc.get_error_msg()


def test_unknown_access_key(server: TesseraServer, method: str) -> None:
    unknown = Credentials("LTAI" + "0" * 20, "whatever")
    exc = server_error(lambda: caller_identity(server, unknown, method))
    assert (exc.get_error_code(), exc.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def test_root_cannot_assume_role(server: TesseraServer, world: World, method: str) -> None:
    exc = server_error(lambda: assume_role(server, ROOT, method, world.role.arn, "core-root"))
    assert (exc.get_error_code(), exc.get_http_status()) == ("NoPermission", 403)
    assert exc.get_request_id() and REQUEST_ID.match(exc.get_request_id())


def test_bad_duration(server: TesseraServer, world: World, method: str) -> None:
    exc = server_error(
        lambda: assume_role(
            server, world.broker.creds, method, world.role.arn, "core-d", duration=899
        )
    )
    assert exc.get_error_code() == "InvalidParameter.DurationSeconds"
    assert exc.get_http_status() == 400
