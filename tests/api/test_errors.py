"""Every gateway and AssumeRole error of spec/sts-ram.md §1.2 and §1.7, produced on a live server.

An official SDK produces the error wherever one can; raw requests (``tests/api/rawrpc.py``, a
signer written from spec §2.3/§2.4 that shares no code with ``tessera.signing``) cover what
no SDK sends: replayed nonces, stale timestamps, unknown actions and versions, missing or
tampered parameters, ``Format=XML``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.clients import (
    REQUEST_ID,
    ROOT,
    ApiError,
    FreshServer,
    Identities,
    Role,
    User,
    account_root,
    allow,
    policy,
    role_arn,
    session_creds,
    sts_api,
    trust,
    unique,
)
from tests.api.rawrpc import (
    EMPTY_SHA256,
    RAM_VERSION,
    STS_VERSION,
    Credentials,
    RawRpc,
    Reply,
    encode_pairs,
    timestamp,
    v1_common,
    v1_sign,
    v1_signature,
    v1_string_to_sign,
    v3_sign,
)
from tests.server import ACCOUNT_ID, TesseraServer

pytestmark = pytest.mark.sdk

NOT_MATCHED = "Specified signature is not matched with our calculation. server string to sign is:"
EXTERNAL_ID = "partner-2f9c"


def expect(err: ApiError, code: str, status: int, message: str | None = None) -> None:
    assert (err.code, err.status) == (code, status), err
    if message is not None:
        assert err.message == message, err


def expect_reply(reply: Reply, code: str, status: int, message: str | None = None) -> None:
    """A JSON error body shaped as spec §1.7."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.content_type == "application/json;charset=utf-8", reply.headers
    body = reply.json()
    assert body["Code"] == code, body
    assert REQUEST_ID.match(body["RequestId"]), body
    assert body["HostId"], body
    assert isinstance(body["Message"], str) and body["Message"], body
    assert reply.headers.get("x-acs-request-id") == body["RequestId"]
    if message is not None:
        assert body["Message"] == message, body


@dataclass(frozen=True)
class World:
    broker: User  # AliyunSTSAssumeRoleAccess
    outsider: User  # no policies
    role: Role  # trusts the account, max 3600
    picky_role: Role  # trusts only a named user that is not the broker
    ext_role: Role  # requires ExternalId


@pytest.fixture(scope="module")
def world(ids: Identities) -> World:
    return World(
        broker=ids.user("err-broker", system=("AliyunSTSAssumeRoleAccess",)),
        outsider=ids.user("err-outsider"),
        role=ids.role("err-role", system=("AliyunRAMReadOnlyAccess",)),
        picky_role=ids.role(
            "err-picky", trust_policy=trust(f"acs:ram::{ACCOUNT_ID}:user/somebody-else")
        ),
        ext_role=ids.role(
            "err-ext",
            trust_policy=trust(
                account_root(), condition={"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
            ),
        ),
    )


@pytest.fixture(scope="module")
def token(world: World, server: TesseraServer) -> Credentials:
    assumed = sts_api(server, world.broker.creds)(
        "AssumeRole", role_arn=world.role.arn, role_session_name="err-token"
    )
    return session_creds(assumed)


# ---- the raw signer itself, against the spec's test vectors ---------------------------------


def test_raw_signer_matches_spec_vectors() -> None:
    pairs = [
        ("AccessKeyId", "testid"),
        ("Action", "CreateUser"),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2015-08-18T03:15:45Z"),
        ("UserName", "test"),
        ("Version", "2015-05-01"),
    ]
    string_to_sign = v1_string_to_sign("GET", pairs)
    assert string_to_sign == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateUser%26Format%3DJSON%26SignatureMethod"
        "%3DHMAC-SHA1%26SignatureNonce%3D6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2%26SignatureVersion"
        "%3D1.0%26Timestamp%3D2015-08-18T03%253A15%253A45Z%26UserName%3Dtest%26Version%3D2015-05-01"
    )
    assert v1_signature(string_to_sign, "testsecret") == "kRA2cnpJVacIhDMzXnoNZG9tDCI="
    signed = v3_sign(
        "POST",
        "ecs.cn-shanghai.aliyuncs.com",
        "RunInstances",
        "2014-05-26",
        [
            ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
            ("RegionId", "cn-shanghai"),
        ],
        Credentials("YourAccessKeyId", "YourAccessKeySecret"),
        date="2023-10-26T10:22:32Z",
        signature_nonce="3156853299f313e23d1673dc12e1703d",
    )
    assert signed.string_to_sign == (
        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    assert signed.headers["authorization"].endswith(
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_raw_signer_is_accepted(raw: RawRpc) -> None:
    for method in ("GET", "POST"):
        for in_body in (False, True):
            if method == "GET" and in_body:
                continue
            reply, _ = raw.v1(ROOT, "GetCallerIdentity", method=method, in_body=in_body)
            assert reply.status == 200, reply.body
            assert reply.json()["IdentityType"] == "Account"
    reply, _ = raw.v3(ROOT, "GetCallerIdentity")
    assert reply.status == 200, reply.body


# ---- access keys -----------------------------------------------------------------------------


def test_unknown_access_key(server: TesseraServer, raw: RawRpc) -> None:
    unknown = Credentials("LTAI" + "Z" * 20, "irrelevant")
    err = sts_api(server, unknown).fails("GetCallerIdentity")
    expect(err, "InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.")
    reply, _ = raw.v1(unknown, "GetCallerIdentity")
    expect_reply(reply, "InvalidAccessKeyId.NotFound", 404)


def test_inactive_access_key(server: TesseraServer, ids: Identities, raw: RawRpc) -> None:
    user = ids.user("err-inactive")
    ids.ram(
        "UpdateAccessKey",
        user_name=user.name,
        user_access_key_id=user.creds.access_key_id,
        status="Inactive",
    )
    err = sts_api(server, user.creds).fails("GetCallerIdentity")
    expect(err, "InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.")
    err = sts_api(server, user.creds, v2=True).fails("GetCallerIdentity")
    expect(err, "InvalidAccessKeyId.Inactive", 400)
    reply, _ = raw.v1(user.creds, "GetCallerIdentity")
    expect_reply(reply, "InvalidAccessKeyId.Inactive", 400)


# ---- SignatureDoesNotMatch -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "in_body"), [("GET", False), ("POST", False), ("POST", True)])
def test_v1_signature_mismatch_reports_server_string_to_sign(
    raw: RawRpc, world: World, method: str, in_body: bool
) -> None:
    reply, string_to_sign = raw.v1(
        world.broker.creds,
        "AssumeRole",
        {"RoleArn": world.role.arn, "RoleSessionName": "mismatch", "Policy": policy(allow("*"))},
        method=method,
        in_body=in_body,
        sign_with="wrong-secret",
    )
    expect_reply(reply, "SignatureDoesNotMatch", 400, NOT_MATCHED + string_to_sign)


def test_v1_tampered_parameter(raw: RawRpc, world: World) -> None:
    """The server's string to sign is computed from what it received, not what was signed."""
    params = {"RoleArn": world.role.arn, "RoleSessionName": "original"}
    reply, signed_string = raw.v1(
        world.broker.creds, "AssumeRole", params, overrides={"RoleSessionName": "tampered"}
    )
    assert reply.status == 400
    message = reply.json()["Message"]
    assert message.startswith(NOT_MATCHED)
    server_string = message[len(NOT_MATCHED) :]
    assert server_string != signed_string
    assert server_string == signed_string.replace("original", "tampered")


def test_v3_signature_mismatch(server: TesseraServer, raw: RawRpc, world: World) -> None:
    wrong = Credentials(world.broker.creds.access_key_id, "wrong-secret")
    err = sts_api(server, wrong).fails("GetCallerIdentity")
    expect(err, "SignatureDoesNotMatch", 400)
    assert err.message.startswith(NOT_MATCHED), err
    reply, signed = raw.v3(
        world.broker.creds,
        "AssumeRole",
        {"RoleArn": world.role.arn, "RoleSessionName": "v3-mismatch"},
        sign_with="wrong-secret",
    )
    expect_reply(reply, "SignatureDoesNotMatch", 400, NOT_MATCHED + signed.string_to_sign)


def test_tea_v1_signature_mismatch(server: TesseraServer, world: World) -> None:
    wrong = Credentials(world.broker.creds.access_key_id, "wrong-secret")
    err = sts_api(server, wrong, v2=True).fails("GetCallerIdentity")
    expect(err, "SignatureDoesNotMatch", 400)
    assert err.message.startswith(NOT_MATCHED)
    assert err.message[len(NOT_MATCHED) :].startswith("POST&%2F&AccessKeyId%3D")


# ---- timestamps and nonces (spec §2.7) -------------------------------------------------------


@pytest.mark.parametrize("offset", [-20 * 60, 20 * 60, -86400 * 365])
def test_v1_timestamp_outside_window(raw: RawRpc, world: World, offset: int) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", ts=timestamp(offset))
    expect_reply(
        reply, "InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."
    )


@pytest.mark.parametrize("offset", [-10 * 60, 10 * 60])
def test_v1_timestamp_inside_window(raw: RawRpc, world: World, offset: int) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", ts=timestamp(offset))
    assert reply.status == 200, reply.body


def test_v1_timestamp_with_milliseconds(raw: RawRpc, world: World) -> None:
    """@alicloud/sts-sdk sends ``toISOString()`` with milliseconds (spec §2.1)."""
    ts = timestamp()[:-1] + ".985Z"
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", ts=ts)
    assert reply.status == 200, reply.body


def test_v3_date_outside_window(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v3(world.broker.creds, "GetCallerIdentity", date=timestamp(-20 * 60))
    expect_reply(reply, "InvalidTimeStamp.Expired", 400)


@pytest.mark.parametrize(
    "ts", ["yesterday", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00", "1700000000"]
)
def test_v1_timestamp_format(raw: RawRpc, world: World, ts: str) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", ts=ts)
    expect_reply(reply, "InvalidTimeStamp.Format", 400)


def test_v1_nonce_replay(raw: RawRpc, world: World, ids: Identities) -> None:
    used = unique("nonce")
    first, _ = raw.v1(world.broker.creds, "GetCallerIdentity", signature_nonce=used)
    assert first.status == 200
    again, _ = raw.v1(world.broker.creds, "GetCallerIdentity", signature_nonce=used)
    expect_reply(again, "SignatureNonceUsed", 400, "Specified signature nonce was used already.")
    # nonces are remembered per AccessKeyId (spec §2.7)
    other, _ = raw.v1(world.outsider.creds, "GetCallerIdentity", signature_nonce=used)
    assert other.status == 200, other.body


def test_v3_nonce_replay(raw: RawRpc, world: World) -> None:
    used = unique("nonce")
    first, _ = raw.v3(world.broker.creds, "GetCallerIdentity", signature_nonce=used)
    assert first.status == 200
    again, _ = raw.v3(world.broker.creds, "GetCallerIdentity", signature_nonce=used)
    expect_reply(again, "SignatureNonceUsed", 400)


def test_identical_request_replayed_byte_for_byte(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(
        world.broker.creds,
        "AssumeRole",
        {"RoleArn": world.role.arn, "RoleSessionName": "replayed"},
    )
    assert reply.status == 200
    # rebuild the exact same request: same nonce, same timestamp, same signature
    creds = world.broker.creds
    pairs = v1_common(creds, "AssumeRole", STS_VERSION, signature_nonce="fixed-" + unique("n"))
    pairs += [("RoleArn", world.role.arn), ("RoleSessionName", "replayed")]
    signed, _ = v1_sign("GET", pairs, creds.access_key_secret)
    target = "/?" + encode_pairs(signed)
    assert raw.request("GET", target).status == 200
    expect_reply(raw.request("GET", target), "SignatureNonceUsed", 400)


# ---- actions, versions, signature method, missing parameters ---------------------------------


@pytest.mark.parametrize(
    ("action", "version"),
    [
        ("AssumeRoleWithMagic", STS_VERSION),
        ("CreateUsers", RAM_VERSION),
        ("AssumeRole", RAM_VERSION),
        ("CreateUser", STS_VERSION),
        ("assumerole", STS_VERSION),
    ],
)
def test_unknown_action(raw: RawRpc, world: World, action: str, version: str) -> None:
    reply, _ = raw.v1(world.broker.creds, action, version=version)
    expect_reply(
        reply,
        "InvalidAction.NotFound",
        404,
        "Specified api is not found, please check your url and method.",
    )


@pytest.mark.parametrize("version", ["2099-01-01", "2015-04-02", "latest"])
def test_invalid_version(raw: RawRpc, world: World, version: str) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", version=version)
    expect_reply(reply, "InvalidVersion", 400, "Specified parameter Version is not valid.")
    reply, _ = raw.v3(world.broker.creds, "GetCallerIdentity", version=version)
    expect_reply(reply, "InvalidVersion", 400)


def test_unsupported_signature_method(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(
        world.broker.creds, "GetCallerIdentity", overrides={"SignatureMethod": "HMAC-MD5"}
    )
    expect_reply(reply, "InvalidSignatureMethod", 400)


@pytest.mark.parametrize(
    "authorization",
    [
        "ACS3-HMAC-SHA256 Credential=LTAIx,SignedHeaders=host",
        "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=" + "0" * 64,
        "ACS3-HMAC-SHA256 Credential=LTAIx,Signature=" + "0" * 64,
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SM3 Credential=LTAIx,SignedHeaders=host,Signature=" + "0" * 64,
        "ACS3-HMAC-SHA256 Credential=LTAIx,SignedHeaders=host,Signature=nothex",
    ],
)
def test_incomplete_v3_authorization(raw: RawRpc, authorization: str) -> None:
    headers = {
        "x-acs-action": "GetCallerIdentity",
        "x-acs-version": STS_VERSION,
        "x-acs-date": timestamp(),
        "x-acs-signature-nonce": unique("n"),
        "authorization": authorization,
    }
    expect_reply(raw.request("POST", "/", headers=headers), "IncompleteSignature", 400)


@pytest.mark.parametrize(
    "left_out",
    [
        None,  # control: everything signed is accepted
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "x-acs-security-token",
        "content-type",
    ],
)
def test_v3_headers_that_must_be_signed(
    raw: RawRpc, token: Credentials, left_out: str | None
) -> None:
    """spec §2.4: host, content-type and every x-acs-* header must be in SignedHeaders; a
    signature that leaves one out would let the header (say, the action) be swapped."""
    headers = {
        "host": raw.endpoint,
        "x-acs-action": "GetCallerIdentity",
        "x-acs-version": STS_VERSION,
        "x-acs-date": timestamp(),
        "x-acs-signature-nonce": unique("n"),
        "x-acs-content-sha256": EMPTY_SHA256,
        "x-acs-security-token": token.security_token or "",
        "content-type": "application/json",
    }
    signed = sorted(name for name in headers if name != left_out)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            ";".join(signed),
            EMPTY_SHA256,
        ]
    )
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(
        token.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={token.access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    reply = raw.request("POST", "/", headers=headers)
    if left_out is None:
        assert reply.status == 200, reply.body
        assert reply.json()["IdentityType"] == "AssumedRoleUser"
        return
    expect_reply(reply, "IncompleteSignature", 400)
    assert left_out in reply.json()["Message"]


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        ({"RoleSessionName": "s1"}, "RoleArn"),
        ({"RoleArn": role_arn("x")}, "RoleSessionName"),
        ({"RoleArn": role_arn("x"), "RoleSessionName": ""}, "RoleSessionName"),
    ],
)
def test_assume_role_missing_parameter(
    raw: RawRpc, world: World, params: dict[str, str], missing: str
) -> None:
    reply, _ = raw.v1(world.broker.creds, "AssumeRole", params)
    expect_reply(reply, f"Missing{missing}", 400, f"{missing} is mandatory for this action.")


@pytest.mark.parametrize(
    ("action", "params", "missing"),
    [
        ("CreateUser", {}, "UserName"),
        ("CreateRole", {"RoleName": "r1"}, "AssumeRolePolicyDocument"),
        ("CreatePolicy", {"PolicyName": "p1"}, "PolicyDocument"),
        ("AttachPolicyToUser", {"PolicyName": "p", "UserName": "u"}, "PolicyType"),
    ],
)
def test_ram_missing_parameter(
    raw: RawRpc, action: str, params: dict[str, str], missing: str
) -> None:
    reply, _ = raw.v1(ROOT, action, params, version=RAM_VERSION)
    expect_reply(reply, f"Missing{missing}", 400, f"{missing} is mandatory for this action.")


@pytest.mark.parametrize("param", ["AccessKeyId", "Signature", "SignatureNonce", "Timestamp"])
def test_missing_signing_parameter(raw: RawRpc, world: World, param: str) -> None:
    pairs = v1_common(world.broker.creds, "GetCallerIdentity", STS_VERSION)
    signed, _ = v1_sign("GET", pairs, world.broker.creds.access_key_secret)
    target = "/?" + encode_pairs([(k, v) for k, v in signed if k != param])
    reply = raw.request("GET", target)
    expect_reply(reply, f"Missing{param}", 400)


# ---- security tokens -------------------------------------------------------------------------


def test_sts_key_without_token(server: TesseraServer, raw: RawRpc, token: Credentials) -> None:
    bare = Credentials(token.access_key_id, token.access_key_secret)
    err = sts_api(server, bare).fails("GetCallerIdentity")
    expect(err, "MissingSecurityToken", 400, "SecurityToken is mandatory for this action.")
    reply, _ = raw.v1(bare, "GetCallerIdentity")
    expect_reply(reply, "MissingSecurityToken", 400)


def _malformed(token: str) -> list[str]:
    middle = len(token) // 2
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    return [
        token[:-1],
        token[: len(token) // 2],
        flipped,
        token + "AAAA",
        "CAIS",
        "CAISnot-a-token",
        "garbage",
        "CAIS" + "%" * 40,
        "x" * 20000,
    ]


def test_malformed_tokens(server: TesseraServer, raw: RawRpc, token: Credentials) -> None:
    assert token.security_token is not None
    for bad in _malformed(token.security_token):
        creds = Credentials(token.access_key_id, token.access_key_secret, bad)
        reply, _ = raw.v1(creds, "GetCallerIdentity")
        expect_reply(reply, "InvalidSecurityToken.Malformed", 400)
    tampered = Credentials(
        token.access_key_id, token.access_key_secret, _malformed(token.security_token)[2]
    )
    expect(
        sts_api(server, tampered).fails("GetCallerIdentity"),
        "InvalidSecurityToken.Malformed",
        400,
        "Specified SecurityToken is malformed.",
    )


def test_token_of_another_session(
    server: TesseraServer, world: World, raw: RawRpc, token: Credentials
) -> None:
    other = session_creds(
        sts_api(server, world.broker.creds)(
            "AssumeRole", role_arn=world.role.arn, role_session_name="err-other"
        )
    )
    # other's key and secret, this token: the token belongs to a different AccessKeyId
    mixed = Credentials(other.access_key_id, other.access_key_secret, token.security_token)
    err = sts_api(server, mixed).fails("GetCallerIdentity")
    expect(
        err,
        "InvalidSecurityToken.MismatchWithAccessKey",
        400,
        "Specified SecurityToken mismatch with the AccessKey.",
    )
    reply, _ = raw.v1(mixed, "GetCallerIdentity")
    expect_reply(reply, "InvalidSecurityToken.MismatchWithAccessKey", 400)


def test_token_secret_is_bound_to_the_token(
    server: TesseraServer, raw: RawRpc, token: Credentials
) -> None:
    wrong = Credentials(token.access_key_id, "not-the-secret", token.security_token)
    expect(sts_api(server, wrong).fails("GetCallerIdentity"), "SignatureDoesNotMatch", 400)


def test_token_of_deleted_role(server: TesseraServer, ids: Identities, world: World) -> None:
    """spec §1.2: deleting the role (after detaching policies) invalidates live tokens."""
    role = ids.role("err-doomed")
    creds = session_creds(
        sts_api(server, world.broker.creds)(
            "AssumeRole", role_arn=role.arn, role_session_name="doomed"
        )
    )
    assert sts_api(server, creds)("GetCallerIdentity")["RoleId"] == role.role_id
    ids.ram("DeleteRole", role_name=role.name)
    err = sts_api(server, creds).fails("GetCallerIdentity")
    assert err.status == 400 and err.code.startswith("InvalidSecurityToken"), err
    # a new role with the same name is a different role: the old token stays dead
    ids.ram("CreateRole", role_name=role.name, assume_role_policy_document=trust(account_root()))
    err = sts_api(server, creds).fails("GetCallerIdentity")
    assert err.status == 400 and err.code.startswith("InvalidSecurityToken"), err


def test_expired_token(fresh_server: FreshServer) -> None:
    """InvalidSecurityToken.Expired on a live server, without waiting 15 minutes.

    Tessera's own AssumeRole code mints a token on the server's data directory with a clock set
    two hours back (DurationSeconds 900, so it expired 1h45 ago); the running server, on the
    real clock, must refuse it. A token minted the same way at the present time is accepted,
    which shows the refusal is about time and nothing else.
    """
    from tessera.clock import FixedClock
    from tessera.config import Settings
    from tessera.identity.model import Caller, IdentityType
    from tessera.runtime import build_runtime
    from tessera.sts.assume_role import AssumeRoleInput

    server = fresh_server()
    ids = Identities(server)
    user = ids.user("exp-broker", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("exp-role")
    caller = Caller(
        IdentityType.RAM_USER,
        ACCOUNT_ID,
        user.creds.access_key_id,
        user_id=user.user_id,
        user_name=user.name,
    )

    def mint(at: float) -> Credentials:
        runtime = build_runtime(Settings(data_dir=server.data_dir), clock=FixedClock(at))
        try:
            body = runtime.services.assume_role.assume_role(
                caller,
                AssumeRoleInput(role.arn, "minted", duration_seconds="900"),
                at,
                {},
            )
        finally:
            runtime.close()
        return session_creds(body)

    fresh = mint(time.time())
    assert sts_api(server, fresh)("GetCallerIdentity")["IdentityType"] == "AssumedRoleUser"
    stale = mint(time.time() - 7200)
    err = sts_api(server, stale).fails("GetCallerIdentity")
    expect(err, "InvalidSecurityToken.Expired", 400, "Specified SecurityToken is expired.")
    err = sts_api(server, stale, v2=True).fails("GetCallerIdentity")
    expect(err, "InvalidSecurityToken.Expired", 400)


# ---- AssumeRole parameter errors (spec §1.2) -------------------------------------------------


@pytest.fixture(scope="module")
def broker(server: TesseraServer, world: World) -> Any:
    return sts_api(server, world.broker.creds)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:bad",
        "acs:ram::1234567890123456:user/someone",
        "acs:ram::1234567890123456:role/",
        "acs:ram:cn-hangzhou:1234567890123456:role/x",
        "acs:ram::abc:role/x",
        "acs:ram::1234567890123456:role/bad_name",
    ],
)
def test_bad_role_arn(broker: Any, arn: str) -> None:
    err = broker.fails("AssumeRole", role_arn=arn, role_session_name="s1")
    expect(err, "InvalidParameter.RoleArn", 400, "The parameter RoleArn is wrongly formed.")


@pytest.mark.parametrize("session", ["a", "bad name", "x" * 65, "名字名字", "semi;colon", "a/b"])
def test_bad_role_session_name(broker: Any, world: World, session: str) -> None:
    err = broker.fails("AssumeRole", role_arn=world.role.arn, role_session_name=session)
    expect(
        err,
        "InvalidParameter.RoleSessionName",
        400,
        "The parameter RoleSessionName is wrongly formed.",
    )


@pytest.mark.parametrize(
    "document",
    [
        "{",
        "[]",
        '{"Version":"1","Statement":[{"Effect":"Allow"}]}',
        '{"Version":"9","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}',
    ],
)
def test_bad_session_policy(broker: Any, world: World, document: str) -> None:
    err = broker.fails(
        "AssumeRole", role_arn=world.role.arn, role_session_name="s1", policy=document
    )
    expect(err, "InvalidParameter.PolicyGrammar", 400)
    assert err.message.startswith("The parameter Policy has not passed grammar check."), err


def _policy_of_length(length: int) -> str:
    base = policy(allow("ram:ListUsers", "acs:ram:*:*:user/"))
    document = policy(allow("ram:ListUsers", "acs:ram:*:*:user/" + "x" * (length - len(base))))
    assert len(document) == length
    return document


def test_session_policy_size(broker: Any, world: World) -> None:
    body = broker(
        "AssumeRole",
        role_arn=world.role.arn,
        role_session_name="s-2048",
        policy=_policy_of_length(2048),
    )
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")
    err = broker.fails(
        "AssumeRole",
        role_arn=world.role.arn,
        role_session_name="s-2049",
        policy=_policy_of_length(2049),
    )
    expect(
        err,
        "InvalidParameter.PolicySize",
        400,
        "The size of Policy must be smaller than 2048 bytes.",
    )


@pytest.mark.parametrize("duration", [0, 1, 899, 3601, 43200, 43201])
def test_bad_duration(broker: Any, world: World, duration: int) -> None:
    err = broker.fails(
        "AssumeRole",
        role_arn=world.role.arn,
        role_session_name="s1",
        duration_seconds=duration,
    )
    # world.role has the default MaxSessionDuration of one hour: the documented message
    expect(
        err,
        "InvalidParameter.DurationSeconds",
        400,
        "The Min/Max value of DurationSeconds is 15min/1hr.",
    )


def test_duration_not_a_number(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(
        world.broker.creds,
        "AssumeRole",
        {"RoleArn": world.role.arn, "RoleSessionName": "s1", "DurationSeconds": "an hour"},
    )
    expect_reply(reply, "InvalidParameter.DurationSeconds", 400)


@pytest.mark.parametrize("external_id", ["x", "bad id", "a" * 1225, "semi;colon"])
def test_bad_external_id(broker: Any, world: World, external_id: str) -> None:
    err = broker.fails(
        "AssumeRole",
        role_arn=world.ext_role.arn,
        role_session_name="s1",
        external_id=external_id,
    )
    expect(err, "InvalidParameter.ExternalId", 400, "The parameter ExternalId is wrongly formed.")


@pytest.mark.parametrize("v2", [False, True])
def test_good_external_id_characters(
    server: TesseraServer, world: World, ids: Identities, v2: bool
) -> None:
    """Every character the ExternalId rule allows (``[\\w+=,.@:/-]``) survives both
    signatures; ``+`` in particular must not turn into a space."""
    odd = "a1_+=,.@:/-Z" + "x" * 20
    role = ids.role(
        "err-odd-ext",
        trust_policy=trust(account_root(), condition={"StringEquals": {"sts:ExternalId": odd}}),
    )
    api = sts_api(server, world.broker.creds, v2=v2)
    body = api("AssumeRole", role_arn=role.arn, role_session_name="s1", external_id=odd)
    assert body["AssumedRoleUser"]["AssumedRoleId"] == f"{role.role_id}:s1"
    spaced = odd.replace("+", " ")
    err = api.fails("AssumeRole", role_arn=role.arn, role_session_name="s1", external_id=spaced)
    expect(err, "InvalidParameter.ExternalId", 400)


# ---- AssumeRole authorization errors ---------------------------------------------------------

NO_PERMISSION = "You are not authorized to do this action."


def test_root_may_not_assume(server: TesseraServer, world: World) -> None:
    err = sts_api(server, ROOT).fails("AssumeRole", role_arn=world.role.arn, role_session_name="s1")
    expect(err, "NoPermission", 403, "Roles may not be assumed by root accounts.")


def test_caller_without_assume_role_permission(server: TesseraServer, world: World) -> None:
    err = sts_api(server, world.outsider.creds).fails(
        "AssumeRole", role_arn=world.role.arn, role_session_name="s1"
    )
    expect(err, "NoPermission", 403)
    assert err.message.startswith(NO_PERMISSION), err


def test_untrusted_caller(broker: Any, world: World) -> None:
    err = broker.fails("AssumeRole", role_arn=world.picky_role.arn, role_session_name="s1")
    expect(err, "NoPermission", 403)
    assert err.message.startswith(NO_PERMISSION), err
    # the denial names the trust policy as the one that refused, implicitly
    detail = err.data["AccessDeniedDetail"]
    assert (detail["PolicyType"], detail["NoPermissionType"]) == (
        "AssumeRolePolicy",
        "ImplicitDeny",
    )
    assert detail["AuthAction"] == "sts:AssumeRole"


def test_external_id_mismatch(broker: Any, world: World) -> None:
    for kwargs in ({}, {"external_id": "partner-0000"}):
        err = broker.fails(
            "AssumeRole", role_arn=world.ext_role.arn, role_session_name="s1", **kwargs
        )
        expect(err, "NoPermission", 403)


def test_assume_role_permission_scoped_to_one_role(
    server: TesseraServer, ids: Identities, world: World
) -> None:
    scoped = ids.user(
        "err-scoped",
        custom=policy(allow("sts:AssumeRole", f"acs:ram:*:{ACCOUNT_ID}:role/{world.role.name}")),
    )
    api = sts_api(server, scoped.creds)
    api("AssumeRole", role_arn=world.role.arn, role_session_name="s1")
    expect(
        api.fails(
            "AssumeRole",
            role_arn=world.ext_role.arn,
            role_session_name="s1",
            external_id=EXTERNAL_ID,
        ),
        "NoPermission",
        403,
    )


def test_missing_role(broker: Any) -> None:
    err = broker.fails("AssumeRole", role_arn=role_arn(unique("ghost")), role_session_name="s1")
    expect(err, "EntityNotExist.Role", 404, "The specified Role not exists .")


def test_role_of_another_account_that_does_not_exist(broker: Any) -> None:
    err = broker.fails(
        "AssumeRole", role_arn=role_arn("ghost", "9999999999999999"), role_session_name="s1"
    )
    assert err.status in (403, 404), err
    assert err.code in ("NoPermission", "EntityNotExist.Role"), err


# ---- Format=XML (spec §1.2, §1.7) ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["XML", "xml"])
def test_xml_error_body(raw: RawRpc, world: World, fmt: str) -> None:
    reply, _ = raw.v1(world.broker.creds, "NoSuchAction", fmt=fmt)
    assert reply.status == 404
    assert reply.content_type == "text/xml;charset=utf-8"
    root = reply.xml()
    assert root.tag == "Error"
    children = {child.tag: child.text for child in root}
    assert {"RequestId", "HostId", "Code", "Message"} <= set(children)
    assert children["Code"] == "InvalidAction.NotFound"
    assert REQUEST_ID.match(children["RequestId"] or "")


def test_xml_error_body_for_authentication_failure(raw: RawRpc, world: World) -> None:
    reply, string_to_sign = raw.v1(
        world.broker.creds, "GetCallerIdentity", fmt="XML", sign_with="wrong"
    )
    assert reply.status == 400
    assert reply.content_type == "text/xml;charset=utf-8"
    assert reply.code == "SignatureDoesNotMatch"
    assert reply.message == NOT_MATCHED + string_to_sign


def test_xml_success_bodies(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", fmt="XML")
    assert reply.status == 200
    assert reply.content_type == "text/xml;charset=utf-8"
    root = reply.xml()
    assert root.tag == "GetCallerIdentityResponse"
    fields = {child.tag: child.text for child in root}
    assert fields["IdentityType"] == "RAMUser"
    assert fields["Arn"] == f"acs:ram::{ACCOUNT_ID}:user/{world.broker.name}"
    assert fields["AccountId"] == ACCOUNT_ID
    assert REQUEST_ID.match(fields["RequestId"] or "")
    assert root.find("Code") is None

    reply, _ = raw.v1(
        world.broker.creds,
        "AssumeRole",
        {"RoleArn": world.role.arn, "RoleSessionName": "xml"},
        fmt="XML",
    )
    assert reply.status == 200
    root = reply.xml()
    assert root.tag == "AssumeRoleResponse"
    assert root.findtext("AssumedRoleUser/Arn") == (
        f"acs:ram::{ACCOUNT_ID}:role/{world.role.name}/xml"
    )
    assert root.findtext("AssumedRoleUser/AssumedRoleId") == f"{world.role.role_id}:xml"
    assert (root.findtext("Credentials/AccessKeyId") or "").startswith("STS.")
    assert root.findtext("Credentials/SecurityToken")


def test_xml_ram_list(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(ROOT, "ListUsers", {"MaxItems": "1000"}, version=RAM_VERSION, fmt="XML")
    assert reply.status == 200
    root = reply.xml()
    assert root.tag == "ListUsersResponse"
    names = [u.findtext("UserName") for u in root.findall("Users/User")]
    assert world.broker.name in names
    assert root.findtext("IsTruncated") == "false"


@pytest.mark.parametrize("fmt", [None, "JSON", "json"])
def test_json_is_the_default(raw: RawRpc, world: World, fmt: str | None) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity", fmt=fmt)
    assert reply.status == 200
    assert reply.content_type == "application/json;charset=utf-8"
    assert "Code" not in reply.json()
