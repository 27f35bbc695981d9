"""STS (2015-04-01) driven by the official tea client ``alibabacloud-sts20150401``.

Every test runs twice: with the client's default V3 signature (``ACS3-HMAC-SHA256``) and with
``signature_algorithm='v2'`` (V1 over tea). Expected shapes: spec/sts-ram.md §1.2, §1.5.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.clients import (
    EXPIRATION,
    REQUEST_ID,
    ROOT,
    ApiError,
    Identities,
    Role,
    TeaApi,
    User,
    account_root,
    allow,
    policy,
    ram_api,
    role_arn,
    session_creds,
    sts_api,
    trust,
    unique,
)
from tests.api.rawrpc import RawRpc
from tests.server import ACCOUNT_ID, TesseraServer

pytestmark = pytest.mark.sdk

EXTERNAL_ID = "ext-7d1f:partner/42"


def expect(err: ApiError, code: str, status: int) -> None:
    assert (err.code, err.status) == (code, status), err


def epoch(expiration: str) -> int:
    assert EXPIRATION.match(expiration), expiration
    return calendar.timegm(time.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ"))


@dataclass(frozen=True)
class World:
    broker: User  # a RAM user with AliyunSTSAssumeRoleAccess
    outsider: User  # a RAM user without any policy
    admin_role: Role  # trusts the account; AliyunRAMFullAccess
    ext_role: Role  # trusts the account only with sts:ExternalId = EXTERNAL_ID
    hop_role: Role  # trusts the account; may AssumeRole itself (for chaining)
    chained_role: Role  # trusts only hop_role; AliyunRAMReadOnlyAccess
    long_role: Role  # MaxSessionDuration 7200


@pytest.fixture(scope="module")
def world(ids: Identities) -> World:
    hop = ids.role("hop", system=("AliyunSTSAssumeRoleAccess",))
    return World(
        broker=ids.user("broker", system=("AliyunSTSAssumeRoleAccess",)),
        outsider=ids.user("outsider"),
        admin_role=ids.role("admin", system=("AliyunRAMFullAccess",)),
        ext_role=ids.role(
            "ext",
            trust_policy=trust(
                account_root(), condition={"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
            ),
            system=("AliyunRAMReadOnlyAccess",),
        ),
        hop_role=hop,
        chained_role=ids.role(
            "chained",
            trust_policy=trust(role_arn(hop.name)),
            system=("AliyunRAMReadOnlyAccess",),
        ),
        long_role=ids.role("long", max_session_duration=7200),
    )


@pytest.fixture(params=["v3", "v1"])
def signature(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def broker_sts(server: TesseraServer, world: World, signature: str) -> TeaApi:
    return sts_api(server, world.broker.creds, v2=signature == "v1")


def assume(api: TeaApi, role: Role, session: str = "alice", **kwargs: Any) -> dict[str, Any]:
    return api("AssumeRole", role_arn=role.arn, role_session_name=session, **kwargs)


def check_assumed(body: dict[str, Any], role: Role, session: str, duration: int) -> None:
    """The response of spec §1.2, field by field."""
    assert REQUEST_ID.match(body["RequestId"])
    assert body["AssumedRoleUser"] == {
        "Arn": f"acs:ram::{ACCOUNT_ID}:role/{role.name}/{session}",
        "AssumedRoleId": f"{role.role_id}:{session}",
    }
    creds = body["Credentials"]
    assert set(creds) == {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}
    assert creds["AccessKeyId"].startswith("STS.")
    assert creds["AccessKeySecret"] and creds["SecurityToken"]
    assert abs(epoch(creds["Expiration"]) - (time.time() + duration)) <= 5


# ---- AssumeRole ------------------------------------------------------------------------------


def test_assume_role(broker_sts: TeaApi, world: World) -> None:
    body = assume(broker_sts, world.admin_role, "alice")
    check_assumed(body, world.admin_role, "alice", 3600)


def test_assume_role_twice_gives_distinct_credentials(broker_sts: TeaApi, world: World) -> None:
    first = assume(broker_sts, world.admin_role)["Credentials"]
    second = assume(broker_sts, world.admin_role)["Credentials"]
    assert first["AccessKeyId"] != second["AccessKeyId"]
    assert first["AccessKeySecret"] != second["AccessKeySecret"]
    assert first["SecurityToken"] != second["SecurityToken"]


@pytest.mark.parametrize("duration", [900, 1800, 3600])
def test_assume_role_duration(broker_sts: TeaApi, world: World, duration: int) -> None:
    body = assume(broker_sts, world.admin_role, "dur", duration_seconds=duration)
    check_assumed(body, world.admin_role, "dur", duration)


def test_assume_role_up_to_role_maximum(broker_sts: TeaApi, world: World) -> None:
    body = assume(broker_sts, world.long_role, "long", duration_seconds=7200)
    check_assumed(body, world.long_role, "long", 7200)
    err = broker_sts.fails(
        "AssumeRole",
        role_arn=world.long_role.arn,
        role_session_name="long",
        duration_seconds=7201,
    )
    expect(err, "InvalidParameter.DurationSeconds", 400)


def test_session_names_of_every_allowed_character(broker_sts: TeaApi, world: World) -> None:
    for session in ("ab", "a.b@c-d_e", "x" * 64):
        body = assume(broker_sts, world.admin_role, session)
        check_assumed(body, world.admin_role, session, 3600)


def test_role_name_in_arn_is_case_insensitive(broker_sts: TeaApi, world: World) -> None:
    """spec §3.4: role ARNs are seen with lower-cased role names; accepted in practice."""
    role = world.admin_role
    upper = f"acs:ram::{ACCOUNT_ID}:role/{role.name.upper()}"
    body = broker_sts("AssumeRole", role_arn=upper, role_session_name="case")
    assert body["AssumedRoleUser"]["AssumedRoleId"] == f"{role.role_id}:case"


def test_external_id_required_by_trust_policy(broker_sts: TeaApi, world: World) -> None:
    role = world.ext_role
    expect(
        broker_sts.fails("AssumeRole", role_arn=role.arn, role_session_name="e1"),
        "NoPermission",
        403,
    )
    expect(
        broker_sts.fails(
            "AssumeRole", role_arn=role.arn, role_session_name="e1", external_id="ext-wrong"
        ),
        "NoPermission",
        403,
    )
    body = assume(broker_sts, role, "e1", external_id=EXTERNAL_ID)
    check_assumed(body, role, "e1", 3600)


def test_untrusted_or_unauthorized_callers(
    server: TesseraServer, world: World, signature: str, broker_sts: TeaApi
) -> None:
    # the broker may call sts:AssumeRole, but chained_role trusts only hop_role
    expect(
        broker_sts.fails("AssumeRole", role_arn=world.chained_role.arn, role_session_name="s1"),
        "NoPermission",
        403,
    )
    # the outsider is trusted (account root) but has no sts:AssumeRole permission
    outsider = sts_api(server, world.outsider.creds, v2=signature == "v1")
    err = outsider.fails("AssumeRole", role_arn=world.admin_role.arn, role_session_name="s1")
    expect(err, "NoPermission", 403)
    # the account root may never assume a role
    root = sts_api(server, ROOT, v2=signature == "v1")
    err = root.fails("AssumeRole", role_arn=world.admin_role.arn, role_session_name="s1")
    expect(err, "NoPermission", 403)
    assert err.message == "Roles may not be assumed by root accounts."


def test_missing_role(broker_sts: TeaApi) -> None:
    err = broker_sts.fails("AssumeRole", role_arn=role_arn(unique("ghost")), role_session_name="s1")
    expect(err, "EntityNotExist.Role", 404)


# ---- session policies narrow the token -------------------------------------------------------


def test_session_policy_narrows_ram_access(
    server: TesseraServer, world: World, broker_sts: TeaApi, signature: str
) -> None:
    v2 = signature == "v1"
    full = session_creds(assume(broker_sts, world.admin_role, "full"))
    full_ram = ram_api(server, full, v2=v2)
    created = unique("by-token")
    full_ram("CreateUser", user_name=created)
    full_ram("DeleteUser", user_name=created)

    narrow_policy = policy(allow("ram:ListUsers"))
    narrow = session_creds(assume(broker_sts, world.admin_role, "narrow", policy=narrow_policy))
    narrow_ram = ram_api(server, narrow, v2=v2)
    users = narrow_ram("ListUsers", max_items=1000)["Users"]["User"]
    assert world.broker.name in {u["UserName"] for u in users}
    err = narrow_ram.fails("CreateUser", user_name=unique("nope"))
    expect(err, "NoPermission", 403)
    expect(narrow_ram.fails("GetUser", user_name=world.broker.name), "NoPermission", 403)


def test_session_policy_with_unusual_characters(
    server: TesseraServer, world: World, broker_sts: TeaApi, signature: str
) -> None:
    """Both signatures must canonicalize non-ASCII, spaces, ``*``, ``~``, ``'`` and ``()``
    in a query parameter exactly as the SDK did (spec §2.3, §2.4)."""
    odd = policy(
        allow(
            ["ram:ListUsers", "ram:GetUser"],
            [
                f"acs:ram:*:{ACCOUNT_ID}:user/名字 with spaces~(x)'y'!*",
                f"acs:ram:*:{ACCOUNT_ID}:*",
            ],
        )
    )
    token = session_creds(assume(broker_sts, world.admin_role, "odd", policy=odd))
    ram_api(server, token, v2=signature == "v1")("ListUsers")


def test_session_policy_cannot_widen(
    server: TesseraServer, world: World, broker_sts: TeaApi, signature: str
) -> None:
    """A session policy allowing everything still leaves only the role's read-only rights."""
    token = session_creds(
        assume(
            broker_sts, world.ext_role, "wide", policy=policy(allow("*")), external_id=EXTERNAL_ID
        )
    )
    api = ram_api(server, token, v2=signature == "v1")
    api("ListUsers")
    expect(api.fails("CreateUser", user_name=unique("nope")), "NoPermission", 403)


def test_session_policy_with_explicit_deny(
    server: TesseraServer, world: World, broker_sts: TeaApi, signature: str
) -> None:
    deny = policy(
        allow("ram:*"),
        {"Effect": "Deny", "Action": "ram:ListUsers", "Resource": "*"},
    )
    token = session_creds(assume(broker_sts, world.admin_role, "deny", policy=deny))
    api = ram_api(server, token, v2=signature == "v1")
    expect(api.fails("ListUsers"), "NoPermission", 403)
    api("ListRoles")


# ---- GetCallerIdentity -----------------------------------------------------------------------


def test_caller_identity_of_ram_user(broker_sts: TeaApi, world: World) -> None:
    body = broker_sts("GetCallerIdentity")
    assert REQUEST_ID.match(body["RequestId"])
    assert body["IdentityType"] == "RAMUser"
    assert body["AccountId"] == ACCOUNT_ID
    assert body["Arn"] == f"acs:ram::{ACCOUNT_ID}:user/{world.broker.name}"
    assert body["UserId"] == world.broker.user_id
    assert body["PrincipalId"] == world.broker.user_id
    assert "RoleId" not in body


def test_caller_identity_of_sts_token(
    server: TesseraServer, broker_sts: TeaApi, world: World, signature: str
) -> None:
    token = session_creds(assume(broker_sts, world.admin_role, "who-am-i"))
    body = sts_api(server, token, v2=signature == "v1")("GetCallerIdentity")
    role = world.admin_role
    assert body["IdentityType"] == "AssumedRoleUser"
    assert body["AccountId"] == ACCOUNT_ID
    assert body["Arn"] == f"acs:ram::{ACCOUNT_ID}:assumed-role/{role.name}/who-am-i"
    assert body["RoleId"] == role.role_id
    assert body["PrincipalId"] == f"{role.role_id}:who-am-i"
    assert "UserId" not in body


def test_caller_identity_of_root(server: TesseraServer, signature: str) -> None:
    body = sts_api(server, ROOT, v2=signature == "v1")("GetCallerIdentity")
    assert body["IdentityType"] == "Account"
    assert body["AccountId"] == ACCOUNT_ID
    assert body["Arn"] == f"acs:ram::{ACCOUNT_ID}:root"


# ---- role chaining ---------------------------------------------------------------------------


def test_role_chaining(
    server: TesseraServer, broker_sts: TeaApi, world: World, signature: str
) -> None:
    v2 = signature == "v1"
    first = assume(broker_sts, world.hop_role, "hop", duration_seconds=900)
    hop_sts = sts_api(server, session_creds(first), v2=v2)
    chained = assume(hop_sts, world.chained_role, "chain", duration_seconds=3600)
    assert chained["AssumedRoleUser"] == {
        "Arn": f"acs:ram::{ACCOUNT_ID}:role/{world.chained_role.name}/chain",
        "AssumedRoleId": f"{world.chained_role.role_id}:chain",
    }
    assert chained["Credentials"]["AccessKeyId"].startswith("STS.")
    # a chained token never outlives the token that requested it
    assert epoch(chained["Credentials"]["Expiration"]) <= epoch(first["Credentials"]["Expiration"])

    chained_sts = sts_api(server, session_creds(chained), v2=v2)
    identity = chained_sts("GetCallerIdentity")
    assert identity["Arn"] == f"acs:ram::{ACCOUNT_ID}:assumed-role/{world.chained_role.name}/chain"
    chained_ram = ram_api(server, session_creds(chained), v2=v2)
    chained_ram("ListUsers")
    expect(chained_ram.fails("CreateUser", user_name=unique("nope")), "NoPermission", 403)


def test_chained_role_refuses_other_roles(
    server: TesseraServer, broker_sts: TeaApi, world: World, signature: str
) -> None:
    """A token of admin_role (which may not even call sts:AssumeRole) cannot chain."""
    admin = session_creds(assume(broker_sts, world.admin_role, "a1"))
    err = sts_api(server, admin, v2=signature == "v1").fails(
        "AssumeRole", role_arn=world.chained_role.arn, role_session_name="x1"
    )
    expect(err, "NoPermission", 403)


# ---- the raw wire shape (the SDK model would hide extra fields) ------------------------------


def test_assume_role_wire_shape(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(
        world.broker.creds,
        "AssumeRole",
        {"RoleArn": world.admin_role.arn, "RoleSessionName": "wire"},
    )
    assert reply.status == 200
    assert reply.content_type.startswith("application/json")
    body = reply.json()
    assert set(body) == {"RequestId", "AssumedRoleUser", "Credentials"}
    assert "Code" not in body  # pop-core treats any Code as an error (spec §1.7)
    check_assumed(body, world.admin_role, "wire", 3600)


def test_caller_identity_wire_shape(raw: RawRpc, world: World) -> None:
    reply, _ = raw.v1(world.broker.creds, "GetCallerIdentity")
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"RequestId", "AccountId", "Arn", "IdentityType", "PrincipalId", "UserId"}


# ---- trust policy forms (spec §4.6) ----------------------------------------------------------


def _trust_statement(effect: str, principal: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": "sts:AssumeRole", "Principal": principal}


def test_trust_forms(server: TesseraServer, ids: Identities, world: World) -> None:
    other = ids.user("trust-other", system=("AliyunSTSAssumeRoleAccess",))
    broker_arn = f"acs:ram::{ACCOUNT_ID}:user/{world.broker.name}"
    cases: list[tuple[str, str, bool, bool]] = [
        # (name, trust policy, broker may assume, other may assume)
        (
            "user-arn",
            policy(_trust_statement("Allow", {"RAM": [broker_arn]})),
            True,
            False,
        ),
        (
            "root-as-string",
            policy(_trust_statement("Allow", {"RAM": account_root()})),
            True,
            True,
        ),
        (
            "deny-one-user",
            policy(
                _trust_statement("Allow", {"RAM": [account_root()]}),
                _trust_statement("Deny", {"RAM": [broker_arn]}),
            ),
            False,
            True,
        ),
        (
            "service-only",
            policy(_trust_statement("Allow", {"Service": ["ecs.aliyuncs.com"]})),
            False,
            False,
        ),
        (
            "other-account",
            policy(_trust_statement("Allow", {"RAM": [account_root("9999888877776666")]})),
            False,
            False,
        ),
    ]
    for label, document, broker_ok, other_ok in cases:
        role = ids.role(f"trust-{label}", trust_policy=document)
        for who, expected in ((world.broker, broker_ok), (other, other_ok)):
            api = sts_api(server, who.creds)
            if expected:
                body = api("AssumeRole", role_arn=role.arn, role_session_name="t1")
                assert body["AssumedRoleUser"]["AssumedRoleId"] == f"{role.role_id}:t1", label
            else:
                err = api.fails("AssumeRole", role_arn=role.arn, role_session_name="t1")
                assert (err.code, err.status) == ("NoPermission", 403), (label, who.name, err)


def test_role_updates_take_effect_at_once(
    server: TesseraServer, ids: Identities, world: World
) -> None:
    role = ids.role("upd")
    api = sts_api(server, world.broker.creds)
    api("AssumeRole", role_arn=role.arn, role_session_name="u1")
    expect(
        api.fails("AssumeRole", role_arn=role.arn, role_session_name="u1", duration_seconds=7200),
        "InvalidParameter.DurationSeconds",
        400,
    )
    ids.ram("UpdateRole", role_name=role.name, new_max_session_duration=7200)
    body = api("AssumeRole", role_arn=role.arn, role_session_name="u2", duration_seconds=7200)
    assert abs(epoch(body["Credentials"]["Expiration"]) - (time.time() + 7200)) <= 5
    ids.ram(
        "UpdateRole",
        role_name=role.name,
        new_assume_role_policy_document=trust(f"acs:ram::{ACCOUNT_ID}:user/someone-else"),
    )
    expect(api.fails("AssumeRole", role_arn=role.arn, role_session_name="u3"), "NoPermission", 403)
    # and losing sts:AssumeRole is immediate too
    role_ok = ids.role("upd-ok")
    broker = ids.user("upd-broker", system=("AliyunSTSAssumeRoleAccess",))
    broker_api = sts_api(server, broker.creds)
    broker_api("AssumeRole", role_arn=role_ok.arn, role_session_name="u4")
    ids.ram(
        "DetachPolicyFromUser",
        policy_name="AliyunSTSAssumeRoleAccess",
        policy_type="System",
        user_name=broker.name,
    )
    expect(
        broker_api.fails("AssumeRole", role_arn=role_ok.arn, role_session_name="u5"),
        "NoPermission",
        403,
    )
