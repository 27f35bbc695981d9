"""The RAM API (2015-05-01) driven by the official tea client ``alibabacloud-ram20150501``.

Expected codes, statuses and shapes come from spec/sts-ram.md §3 (RAM) and §1.6 (ids).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram_models

from tests.api.clients import (
    NUMERIC_ID,
    ROOT,
    ApiError,
    FreshServer,
    Identities,
    TeaApi,
    account_root,
    allow,
    policy,
    ram_api,
    sts_api,
    trust,
    unique,
)
from tests.api.rawrpc import RAM_VERSION, Credentials, RawRpc
from tests.server import ACCOUNT_ID, ROOT_ACCESS_KEY_ID, ROOT_ACCESS_KEY_SECRET, TesseraServer

pytestmark = pytest.mark.sdk

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
GROUP_ID = re.compile(r"^g-[A-Za-z0-9]+$")
DOC = policy(allow("ram:ListUsers"))
DOC_2 = policy(allow(["ram:ListUsers", "ram:GetUser"]))


def expect(err: ApiError, code: str, status: int) -> None:
    assert (err.code, err.status) == (code, status), err


def same_json(a: str, b: str) -> bool:
    return bool(json.loads(a) == json.loads(b))


# ---- users -----------------------------------------------------------------------------------


def test_user_lifecycle(root_ram: TeaApi) -> None:
    name = unique("alice")
    created = root_ram(
        "CreateUser",
        user_name=name,
        display_name="Alice A.",
        mobile_phone="86-18600008888",
        email="alice@example.com",
        comments="first user",
    )["User"]
    assert NUMERIC_ID.match(created["UserId"])
    assert created["UserName"] == name
    assert created["DisplayName"] == "Alice A."
    assert created["MobilePhone"] == "86-18600008888"
    assert created["Email"] == "alice@example.com"
    assert created["Comments"] == "first user"
    assert DATE.match(created["CreateDate"])

    got = root_ram("GetUser", user_name=name)["User"]
    assert got["UserId"] == created["UserId"]
    assert got["DisplayName"] == "Alice A."
    assert DATE.match(got["UpdateDate"])

    new_name = unique("alice2")
    updated = root_ram(
        "UpdateUser", user_name=name, new_user_name=new_name, new_display_name="Alice B."
    )["User"]
    assert updated["UserName"] == new_name
    assert updated["DisplayName"] == "Alice B."
    assert updated["UserId"] == created["UserId"]
    expect(root_ram.fails("GetUser", user_name=name), "EntityNotExist.User", 404)
    assert root_ram("GetUser", user_name=new_name)["User"]["Comments"] == "first user"

    root_ram("DeleteUser", user_name=new_name)
    expect(root_ram.fails("GetUser", user_name=new_name), "EntityNotExist.User", 404)
    expect(root_ram.fails("DeleteUser", user_name=new_name), "EntityNotExist.User", 404)
    expect(
        root_ram.fails("UpdateUser", user_name=new_name, new_comments="x"),
        "EntityNotExist.User",
        404,
    )


def test_create_user_twice(root_ram: TeaApi) -> None:
    name = unique("dup")
    root_ram("CreateUser", user_name=name)
    expect(root_ram.fails("CreateUser", user_name=name), "EntityAlreadyExists.User", 409)


def test_list_users_pages_with_marker(root_ram: TeaApi) -> None:
    mine = {unique("page") for _ in range(5)}
    for name in mine:
        root_ram("CreateUser", user_name=name)
    everything = root_ram("ListUsers", max_items=1000)
    assert everything["IsTruncated"] is False
    assert "Marker" not in everything
    all_names = [u["UserName"] for u in everything["Users"]["User"]]
    assert mine <= set(all_names)

    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        page = root_ram("ListUsers", max_items=2, marker=marker)
        pages += 1
        items = page["Users"]["User"]
        assert 1 <= len(items) <= 2
        seen += [u["UserName"] for u in items]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        assert page["Marker"]
        marker = page["Marker"]
        assert pages < 1000
    assert pages >= 3
    assert len(seen) == len(set(seen)), "a user appeared on two pages"
    assert sorted(seen) == sorted(all_names)


@pytest.mark.parametrize("max_items", [0, 1001])
def test_list_users_max_items_out_of_range(root_ram: TeaApi, max_items: int) -> None:
    err = root_ram.fails("ListUsers", max_items=max_items)
    assert err.status == 400
    assert err.code.startswith("InvalidParameter"), err


# ---- name and length rules (spec §3.2, §3.4, §3.5, §3.7, §3.9) -------------------------------


@pytest.mark.parametrize(
    ("action", "kwargs", "code"),
    [
        ("CreateUser", {"user_name": "u" * 65}, "InvalidParameter.UserName.Length"),
        ("CreateUser", {"user_name": "bad name"}, "InvalidParameter.UserName.InvalidChars"),
        ("CreateUser", {"user_name": "bad!name"}, "InvalidParameter.UserName.InvalidChars"),
        (
            "CreateUser",
            {"user_name": "ok-name-len", "display_name": "d" * 129},
            "InvalidParameter.DisplayName.Length",
        ),
        (
            "CreateUser",
            {"user_name": "ok-name-len", "comments": "c" * 129},
            "InvalidParameter.Comments.Length",
        ),
        ("CreateGroup", {"group_name": "g" * 65}, "InvalidParameter.GroupName.Length"),
        ("CreateGroup", {"group_name": "bad group"}, "InvalidParameter.GroupName.InvalidChars"),
        (
            "CreateRole",
            {"role_name": "r" * 65, "assume_role_policy_document": trust(account_root())},
            "InvalidParameter.RoleName.Length",
        ),
        (
            "CreateRole",
            {"role_name": "bad_role", "assume_role_policy_document": trust(account_root())},
            "InvalidParameter.RoleName.InvalidChars",
        ),
        (
            "CreatePolicy",
            {"policy_name": "p" * 129, "policy_document": DOC},
            "InvalidParameter.PolicyName.Length",
        ),
        (
            "CreatePolicy",
            {"policy_name": "bad_policy", "policy_document": DOC},
            "InvalidParameter.PolicyName.InvalidChars",
        ),
    ],
)
def test_invalid_names(root_ram: TeaApi, action: str, kwargs: dict[str, Any], code: str) -> None:
    err = root_ram.fails(action, **kwargs)
    expect(err, code, 400)
    param = code.split(".")[1]
    assert f'"{param}"' in err.message or param in err.message, err


def test_longest_names_are_accepted(root_ram: TeaApi) -> None:
    user = unique("u").ljust(64, "x")
    root_ram("CreateUser", user_name=user)
    role = unique("r").ljust(64, "x")
    root_ram("CreateRole", role_name=role, assume_role_policy_document=trust(account_root()))
    policy_name = unique("p").ljust(128, "x")
    root_ram("CreatePolicy", policy_name=policy_name, policy_document=DOC)
    root_ram("DeleteUser", user_name=user)
    root_ram("DeleteRole", role_name=role)
    root_ram("DeletePolicy", policy_name=policy_name)


# ---- access keys (spec §3.3) -----------------------------------------------------------------


def test_access_key_lifecycle(server: TesseraServer, root_ram: TeaApi) -> None:
    name = unique("keys")
    root_ram("CreateUser", user_name=name)
    first = root_ram("CreateAccessKey", user_name=name)["AccessKey"]
    second = root_ram("CreateAccessKey", user_name=name)["AccessKey"]
    for key in (first, second):
        assert key["Status"] == "Active"
        assert key["AccessKeyId"] and key["AccessKeySecret"]
        assert DATE.match(key["CreateDate"])
    assert first["AccessKeyId"] != second["AccessKeyId"]
    assert first["AccessKeySecret"] != second["AccessKeySecret"]
    expect(root_ram.fails("CreateAccessKey", user_name=name), "LimitExceeded.User.AccessKey", 409)

    listed = root_ram("ListAccessKeys", user_name=name)["AccessKeys"]["AccessKey"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert {k["Status"] for k in listed} == {"Active"}

    creds = Credentials(first["AccessKeyId"], first["AccessKeySecret"])
    as_user = sts_api(server, creds)
    assert as_user("GetCallerIdentity")["IdentityType"] == "RAMUser"

    root_ram(
        "UpdateAccessKey",
        user_name=name,
        user_access_key_id=first["AccessKeyId"],
        status="Inactive",
    )
    listed = root_ram("ListAccessKeys", user_name=name)["AccessKeys"]["AccessKey"]
    assert {k["AccessKeyId"]: k["Status"] for k in listed}[first["AccessKeyId"]] == "Inactive"
    expect(as_user.fails("GetCallerIdentity"), "InvalidAccessKeyId.Inactive", 400)
    # the other key of the same user still works
    other = sts_api(server, Credentials(second["AccessKeyId"], second["AccessKeySecret"]))
    assert other("GetCallerIdentity")["IdentityType"] == "RAMUser"

    root_ram(
        "UpdateAccessKey",
        user_name=name,
        user_access_key_id=first["AccessKeyId"],
        status="Active",
    )
    assert as_user("GetCallerIdentity")["IdentityType"] == "RAMUser"

    expect(root_ram.fails("DeleteUser", user_name=name), "DeleteConflict.User.AccessKey", 409)
    root_ram("DeleteAccessKey", user_name=name, user_access_key_id=first["AccessKeyId"])
    expect(as_user.fails("GetCallerIdentity"), "InvalidAccessKeyId.NotFound", 404)
    expect(
        root_ram.fails("DeleteAccessKey", user_name=name, user_access_key_id=first["AccessKeyId"]),
        "EntityNotExist.User.AccessKey",
        404,
    )
    # after deleting one, there is room for a new key again
    root_ram("CreateAccessKey", user_name=name)
    expect(root_ram.fails("CreateAccessKey", user_name=name), "LimitExceeded.User.AccessKey", 409)


def test_access_key_status_must_be_active_or_inactive(root_ram: TeaApi) -> None:
    name = unique("keys")
    root_ram("CreateUser", user_name=name)
    key = root_ram("CreateAccessKey", user_name=name)["AccessKey"]
    err = root_ram.fails(
        "UpdateAccessKey", user_name=name, user_access_key_id=key["AccessKeyId"], status="Paused"
    )
    assert err.status == 400 and err.code.startswith("InvalidParameter"), err


def test_access_key_of_missing_user(root_ram: TeaApi) -> None:
    expect(root_ram.fails("CreateAccessKey", user_name=unique("ghost")), "EntityNotExist.User", 404)


def test_listed_access_keys_carry_no_secret(root_ram: TeaApi, raw: RawRpc) -> None:
    """Checked on the raw body: the SDK model would silently drop an unexpected field."""
    name = unique("keys")
    root_ram("CreateUser", user_name=name)
    secret = root_ram("CreateAccessKey", user_name=name)["AccessKey"]["AccessKeySecret"]
    reply, _ = raw.v1(ROOT, "ListAccessKeys", {"UserName": name}, version=RAM_VERSION)
    assert reply.status == 200
    assert secret.encode() not in reply.body
    (key,) = reply.json()["AccessKeys"]["AccessKey"]
    assert set(key) == {"AccessKeyId", "Status", "CreateDate"}


# ---- groups (spec §3.7) ----------------------------------------------------------------------


def test_group_lifecycle_and_membership(root_ram: TeaApi) -> None:
    group, user = unique("grp"), unique("member")
    root_ram("CreateUser", user_name=user)
    created = root_ram("CreateGroup", group_name=group, comments="the team")["Group"]
    assert GROUP_ID.match(created["GroupId"])
    assert created["GroupName"] == group
    assert created["Comments"] == "the team"
    assert DATE.match(created["CreateDate"])
    expect(root_ram.fails("CreateGroup", group_name=group), "EntityAlreadyExists.Group", 409)

    got = root_ram("GetGroup", group_name=group)["Group"]
    assert got["GroupId"] == created["GroupId"]
    assert DATE.match(got["UpdateDate"])

    root_ram("AddUserToGroup", group_name=group, user_name=user)
    expect(
        root_ram.fails("AddUserToGroup", group_name=group, user_name=user),
        "EntityAlreadyExists.User.Group",
        409,
    )
    (membership,) = root_ram("ListGroupsForUser", user_name=user)["Groups"]["Group"]
    assert membership["GroupName"] == group
    assert membership["Comments"] == "the team"
    assert DATE.match(membership["JoinDate"])
    (member,) = root_ram("ListUsersForGroup", group_name=group)["Users"]["User"]
    assert member["UserName"] == user
    assert DATE.match(member["JoinDate"])

    expect(root_ram.fails("DeleteUser", user_name=user), "DeleteConflict.User.Group", 409)
    expect(root_ram.fails("DeleteGroup", group_name=group), "DeleteConflict.Group.User", 409)

    new_group = unique("grp2")
    updated = root_ram(
        "UpdateGroup", group_name=group, new_group_name=new_group, new_comments="renamed"
    )["Group"]
    assert updated["GroupName"] == new_group
    assert updated["Comments"] == "renamed"
    expect(root_ram.fails("GetGroup", group_name=group), "EntityNotExist.Group", 404)
    names = [g["GroupName"] for g in root_ram("ListGroups", max_items=100)["Groups"]["Group"]]
    assert new_group in names and group not in names
    (membership,) = root_ram("ListGroupsForUser", user_name=user)["Groups"]["Group"]
    assert membership["GroupName"] == new_group

    root_ram("RemoveUserFromGroup", group_name=new_group, user_name=user)
    expect(
        root_ram.fails("RemoveUserFromGroup", group_name=new_group, user_name=user),
        "EntityNotExist.User.Group",
        404,
    )
    assert root_ram("ListGroupsForUser", user_name=user)["Groups"]["Group"] == []
    assert root_ram("ListUsersForGroup", group_name=new_group)["Users"]["User"] == []

    root_ram(
        "AttachPolicyToGroup",
        policy_name="AliyunRAMReadOnlyAccess",
        policy_type="System",
        group_name=new_group,
    )
    expect(root_ram.fails("DeleteGroup", group_name=new_group), "DeleteConflict.Group.Policy", 409)
    root_ram(
        "DetachPolicyFromGroup",
        policy_name="AliyunRAMReadOnlyAccess",
        policy_type="System",
        group_name=new_group,
    )
    root_ram("DeleteGroup", group_name=new_group)
    expect(root_ram.fails("GetGroup", group_name=new_group), "EntityNotExist.Group", 404)
    root_ram("DeleteUser", user_name=user)


def test_membership_of_missing_entities(root_ram: TeaApi) -> None:
    group, user = unique("grp"), unique("member")
    root_ram("CreateGroup", group_name=group)
    root_ram("CreateUser", user_name=user)
    expect(
        root_ram.fails("AddUserToGroup", group_name=group, user_name=unique("ghost")),
        "EntityNotExist.User",
        404,
    )
    expect(
        root_ram.fails("AddUserToGroup", group_name=unique("ghost"), user_name=user),
        "EntityNotExist.Group",
        404,
    )
    expect(
        root_ram.fails("ListUsersForGroup", group_name=unique("ghost")), "EntityNotExist.Group", 404
    )


def test_list_groups_pages(root_ram: TeaApi) -> None:
    mine = {unique("pg") for _ in range(3)}
    for name in mine:
        root_ram("CreateGroup", group_name=name)
    seen: list[str] = []
    marker = None
    for _ in range(1000):
        page = root_ram("ListGroups", max_items=1, marker=marker)
        seen += [g["GroupName"] for g in page["Groups"]["Group"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert len(seen) == len(set(seen))
    assert mine <= set(seen)
    err = root_ram.fails("ListGroups", max_items=101)  # ListGroups: MaxItems 1-100
    assert err.status == 400 and err.code.startswith("InvalidParameter"), err


# ---- roles (spec §3.4) -----------------------------------------------------------------------


def test_role_lifecycle(root_ram: TeaApi) -> None:
    name = unique("role")
    document = trust(account_root())
    created = root_ram(
        "CreateRole",
        role_name=name,
        assume_role_policy_document=document,
        description="Lets the app server act",
        max_session_duration=7200,
    )["Role"]
    assert NUMERIC_ID.match(created["RoleId"])
    assert created["RoleName"] == name
    assert created["Arn"] == f"acs:ram::{ACCOUNT_ID}:role/{name}"
    assert created["Description"] == "Lets the app server act"
    assert created["MaxSessionDuration"] == 7200
    assert isinstance(created["AssumeRolePolicyDocument"], str)
    assert same_json(created["AssumeRolePolicyDocument"], document)
    assert DATE.match(created["CreateDate"])
    expect(
        root_ram.fails("CreateRole", role_name=name, assume_role_policy_document=document),
        "EntityAlreadyExists.Role",
        409,
    )

    got = root_ram("GetRole", role_name=name)["Role"]
    assert got["RoleId"] == created["RoleId"]
    assert got["Arn"] == created["Arn"]
    assert got["MaxSessionDuration"] == 7200
    assert same_json(got["AssumeRolePolicyDocument"], document)

    new_document = trust(f"acs:ram::{ACCOUNT_ID}:user/someone")
    updated = root_ram(
        "UpdateRole",
        role_name=name,
        new_description="changed",
        new_max_session_duration=10800,
        new_assume_role_policy_document=new_document,
    )["Role"]
    assert updated["Description"] == "changed"
    assert updated["MaxSessionDuration"] == 10800
    got = root_ram("GetRole", role_name=name)["Role"]
    assert got["Description"] == "changed"
    assert got["MaxSessionDuration"] == 10800
    assert same_json(got["AssumeRolePolicyDocument"], new_document)

    listed = {r["RoleName"]: r for r in root_ram("ListRoles", max_items=1000)["Roles"]["Role"]}
    assert listed[name]["Arn"] == created["Arn"]
    assert listed[name]["MaxSessionDuration"] == 10800

    root_ram("DeleteRole", role_name=name)
    expect(root_ram.fails("GetRole", role_name=name), "EntityNotExist.Role", 404)
    expect(root_ram.fails("DeleteRole", role_name=name), "EntityNotExist.Role", 404)


def test_role_defaults_and_tags(root_ram: TeaApi) -> None:
    name = unique("tagged")
    created = root_ram(
        "CreateRole",
        role_name=name,
        assume_role_policy_document=trust(account_root()),
        tag=[ram_models.CreateRoleRequestTag(key="team", value="dev")],
    )["Role"]
    assert created["MaxSessionDuration"] == 3600  # default, spec §3.4
    listed = {r["RoleName"]: r for r in root_ram("ListRoles", max_items=1000)["Roles"]["Role"]}
    assert listed[name]["Tags"]["Tag"] == [{"TagKey": "team", "TagValue": "dev"}]


@pytest.mark.parametrize("duration", [3599, 43201])
def test_role_max_session_duration_bounds(root_ram: TeaApi, duration: int) -> None:
    err = root_ram.fails(
        "CreateRole",
        role_name=unique("dur"),
        assume_role_policy_document=trust(account_root()),
        max_session_duration=duration,
    )
    assert err.status == 400 and err.code.startswith("InvalidParameter"), err


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"',
        '{"Version":"2","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
        '"Principal":{"RAM":["acs:ram::1234567890123456:root"]}}]}',
        '{"Version":"1","Statement":[{"Effect":"Maybe","Action":"sts:AssumeRole",'
        '"Principal":{"RAM":["acs:ram::1234567890123456:root"]}}]}',
        '{"Version":"1","Statement":"everything"}',
    ],
)
def test_role_with_malformed_trust_policy(root_ram: TeaApi, document: str) -> None:
    err = root_ram.fails(
        "CreateRole", role_name=unique("bad"), assume_role_policy_document=document
    )
    expect(err, "MalformedPolicyDocument", 400)


def test_update_role_rejects_malformed_trust_policy(root_ram: TeaApi, ids: Identities) -> None:
    role = ids.role()
    err = root_ram.fails("UpdateRole", role_name=role.name, new_assume_role_policy_document="{}")
    expect(err, "MalformedPolicyDocument", 400)


# ---- policies and versions (spec §3.5) -------------------------------------------------------


def test_policy_lifecycle_and_versions(root_ram: TeaApi) -> None:
    name = unique("pol")
    created = root_ram(
        "CreatePolicy", policy_name=name, policy_document=DOC, description="list users"
    )["Policy"]
    assert created["PolicyName"] == name
    assert created["PolicyType"] == "Custom"
    assert created["DefaultVersion"] == "v1"
    assert created["Description"] == "list users"
    assert DATE.match(created["CreateDate"])
    expect(
        root_ram.fails("CreatePolicy", policy_name=name, policy_document=DOC),
        "EntityAlreadyExists.Policy",
        409,
    )

    got = root_ram("GetPolicy", policy_name=name, policy_type="Custom")
    assert got["Policy"]["DefaultVersion"] == "v1"
    assert got["Policy"]["AttachmentCount"] == 0
    assert got["DefaultPolicyVersion"]["VersionId"] == "v1"
    assert got["DefaultPolicyVersion"]["IsDefaultVersion"] is True
    assert same_json(got["DefaultPolicyVersion"]["PolicyDocument"], DOC)

    v2 = root_ram(
        "CreatePolicyVersion", policy_name=name, policy_document=DOC_2, set_as_default=True
    )["PolicyVersion"]
    assert v2["VersionId"] == "v2"
    assert v2["IsDefaultVersion"] is True
    assert (
        root_ram("GetPolicy", policy_name=name, policy_type="Custom")["Policy"]["DefaultVersion"]
        == "v2"
    )
    for expected in ("v3", "v4", "v5"):
        version = root_ram("CreatePolicyVersion", policy_name=name, policy_document=DOC)[
            "PolicyVersion"
        ]
        assert version["VersionId"] == expected
        assert version["IsDefaultVersion"] is False
    expect(
        root_ram.fails("CreatePolicyVersion", policy_name=name, policy_document=DOC),
        "LimitExceeded.Policy.Version",
        409,
    )
    expect(
        root_ram.fails(
            "CreatePolicyVersion", policy_name=name, policy_document=DOC, rotate_strategy="None"
        ),
        "LimitExceeded.Policy.Version",
        409,
    )
    rotated = root_ram(
        "CreatePolicyVersion",
        policy_name=name,
        policy_document=DOC,
        rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
    )["PolicyVersion"]
    assert rotated["VersionId"] == "v6"
    versions = root_ram("ListPolicyVersions", policy_name=name, policy_type="Custom")
    listed = {v["VersionId"]: v for v in versions["PolicyVersions"]["PolicyVersion"]}
    assert set(listed) == {"v2", "v3", "v4", "v5", "v6"}  # v1 was the oldest non-default
    assert [k for k, v in listed.items() if v["IsDefaultVersion"]] == ["v2"]

    root_ram("SetDefaultPolicyVersion", policy_name=name, version_id="v3")
    got = root_ram("GetPolicy", policy_name=name, policy_type="Custom")
    assert got["Policy"]["DefaultVersion"] == "v3"
    assert got["DefaultPolicyVersion"]["VersionId"] == "v3"
    expect(
        root_ram.fails("DeletePolicyVersion", policy_name=name, version_id="v3"),
        "DeleteConflict.Policy.Version.Default",
        409,
    )
    root_ram("DeletePolicyVersion", policy_name=name, version_id="v4")
    expect(
        root_ram.fails("GetPolicyVersion", policy_name=name, policy_type="Custom", version_id="v4"),
        "EntityNotExist.Policy.Version",
        404,
    )
    v5 = root_ram("GetPolicyVersion", policy_name=name, policy_type="Custom", version_id="v5")
    assert v5["PolicyVersion"]["IsDefaultVersion"] is False
    expect(
        root_ram.fails("SetDefaultPolicyVersion", policy_name=name, version_id="v9"),
        "EntityNotExist.Policy.Version",
        404,
    )

    expect(
        root_ram.fails("DeletePolicy", policy_name=name),
        "DeleteConflict.Policy.Version",
        409,
    )
    root_ram("DeletePolicy", policy_name=name, cascading_delete=True)
    expect(
        root_ram.fails("GetPolicy", policy_name=name, policy_type="Custom"),
        "EntityNotExist.Policy",
        404,
    )


def test_policy_versions_of_missing_policy(root_ram: TeaApi) -> None:
    ghost = unique("ghost")
    expect(
        root_ram.fails("CreatePolicyVersion", policy_name=ghost, policy_document=DOC),
        "EntityNotExist.Policy",
        404,
    )
    expect(root_ram.fails("DeletePolicy", policy_name=ghost), "EntityNotExist.Policy", 404)


def test_list_policies_by_type(root_ram: TeaApi) -> None:
    name = unique("pol")
    root_ram("CreatePolicy", policy_name=name, policy_document=DOC)

    def names(policy_type: str | None) -> dict[str, str]:
        found: dict[str, str] = {}
        marker = None
        for _ in range(1000):
            page = root_ram("ListPolicies", policy_type=policy_type, max_items=100, marker=marker)
            found.update({p["PolicyName"]: p["PolicyType"] for p in page["Policies"]["Policy"]})
            if not page["IsTruncated"]:
                return found
            marker = page["Marker"]
        raise AssertionError("ListPolicies never ended")

    system = names("System")
    assert {
        "AliyunSTSAssumeRoleAccess",
        "AliyunRAMReadOnlyAccess",
        "AliyunRAMFullAccess",
        "AliyunOSSFullAccess",
        "AliyunOSSReadOnlyAccess",
    } <= set(system)
    assert set(system.values()) == {"System"}
    assert name not in system
    custom = names("Custom")
    assert name in custom
    assert set(custom.values()) == {"Custom"}
    both = names(None)
    assert both == {**system, **custom}


def test_system_policy_is_read_only(root_ram: TeaApi) -> None:
    got = root_ram("GetPolicy", policy_name="AliyunSTSAssumeRoleAccess", policy_type="System")
    assert got["Policy"]["PolicyType"] == "System"
    document = json.loads(got["DefaultPolicyVersion"]["PolicyDocument"])
    statement = document["Statement"][0]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    expect(
        root_ram.fails("GetPolicy", policy_name="AliyunSTSAssumeRoleAccess", policy_type="Custom"),
        "EntityNotExist.Policy",
        404,
    )


@pytest.mark.parametrize(
    "document",
    [
        "",
        "not json",
        "[]",
        '{"Version":"1"}',
        '{"Version":"1","Statement":[]}',
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListUsers"}]}',
        '{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}',
        '{"Version":"3","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        '{"Version":"1","Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}',
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
        '"Condition":{"NoSuchOperator":{"acs:SourceIp":"10.0.0.1"}}}]}',
    ],
)
def test_malformed_policy_document(root_ram: TeaApi, document: str) -> None:
    err = root_ram.fails("CreatePolicy", policy_name=unique("bad"), policy_document=document)
    if document == "":
        # an empty parameter is a missing one (the SDK does not even send it)
        assert (err.code, err.status) == ("MissingPolicyDocument", 400), err
    else:
        expect(err, "MalformedPolicyDocument", 400)


def test_malformed_policy_version(root_ram: TeaApi) -> None:
    name = unique("pol")
    root_ram("CreatePolicy", policy_name=name, policy_document=DOC)
    err = root_ram.fails("CreatePolicyVersion", policy_name=name, policy_document='{"a":1}')
    expect(err, "MalformedPolicyDocument", 400)


def test_policy_document_size_limit(root_ram: TeaApi) -> None:
    """PolicyDocument is at most 6144 characters (spec §3.5, newest metadata)."""
    name = unique("big")

    def document(length: int) -> str:
        base = policy(allow("ram:ListUsers", "acs:ram:*:*:user/"))
        pad = length - len(base)
        return policy(allow("ram:ListUsers", "acs:ram:*:*:user/" + "x" * pad))

    assert len(document(6144)) == 6144
    root_ram("CreatePolicy", policy_name=name, policy_document=document(6144))
    err = root_ram.fails("CreatePolicy", policy_name=unique("big"), policy_document=document(6145))
    assert err.status == 400 and err.code in {
        "InvalidParameter.PolicyDocument.Length",
        "MalformedPolicyDocument",
    }, err


# ---- attachments (spec §3.6) -----------------------------------------------------------------


def test_attachments_for_users_groups_roles(root_ram: TeaApi, ids: Identities) -> None:
    pol = unique("att")
    root_ram("CreatePolicy", policy_name=pol, policy_document=DOC, description="d")
    user, group = unique("u"), unique("g")
    root_ram("CreateUser", user_name=user)
    root_ram("CreateGroup", group_name=group)
    role = ids.role()

    targets = [
        ("User", {"user_name": user}),
        ("Group", {"group_name": group}),
        ("Role", {"role_name": role.name}),
    ]
    for kind, who in targets:
        for policy_name, policy_type in ((pol, "Custom"), ("AliyunRAMReadOnlyAccess", "System")):
            root_ram(
                f"AttachPolicyTo{kind}", policy_name=policy_name, policy_type=policy_type, **who
            )
        expect(
            root_ram.fails(f"AttachPolicyTo{kind}", policy_name=pol, policy_type="Custom", **who),
            f"EntityAlreadyExists.{kind}.Policy",
            409,
        )
        attached = root_ram(f"ListPoliciesFor{kind}", **who)["Policies"]["Policy"]
        assert {(p["PolicyName"], p["PolicyType"]) for p in attached} == {
            (pol, "Custom"),
            ("AliyunRAMReadOnlyAccess", "System"),
        }
        for p in attached:
            assert DATE.match(p["AttachDate"])
            assert p["DefaultVersion"] == "v1"

    got = root_ram("GetPolicy", policy_name=pol, policy_type="Custom")
    assert got["Policy"]["AttachmentCount"] == 3

    entities = root_ram("ListEntitiesForPolicy", policy_name=pol, policy_type="Custom")
    assert [u["UserName"] for u in entities["Users"]["User"]] == [user]
    assert [g["GroupName"] for g in entities["Groups"]["Group"]] == [group]
    (listed_role,) = entities["Roles"]["Role"]
    assert listed_role["RoleName"] == role.name
    assert listed_role["Arn"] == role.arn
    assert listed_role["RoleId"] == role.role_id
    assert DATE.match(listed_role["AttachDate"])

    system_entities = root_ram(
        "ListEntitiesForPolicy", policy_name="AliyunRAMReadOnlyAccess", policy_type="System"
    )
    assert user in [u["UserName"] for u in system_entities["Users"]["User"]]

    # every delete is refused while attachments exist
    expect(root_ram.fails("DeleteUser", user_name=user), "DeleteConflict.User.Policy", 409)
    expect(root_ram.fails("DeleteGroup", group_name=group), "DeleteConflict.Group.Policy", 409)
    expect(root_ram.fails("DeleteRole", role_name=role.name), "DeleteConflict.Role.Policy", 409)
    expect(root_ram.fails("DeletePolicy", policy_name=pol), "DeleteConflict.Policy.User", 409)
    root_ram("DetachPolicyFromUser", policy_name=pol, policy_type="Custom", user_name=user)
    expect(root_ram.fails("DeletePolicy", policy_name=pol), "DeleteConflict.Policy.Group", 409)
    root_ram("DetachPolicyFromGroup", policy_name=pol, policy_type="Custom", group_name=group)
    expect(root_ram.fails("DeletePolicy", policy_name=pol), "DeleteConflict.Policy.Role", 409)
    root_ram("DetachPolicyFromRole", policy_name=pol, policy_type="Custom", role_name=role.name)

    for kind, who in targets:
        expect(
            root_ram.fails(f"DetachPolicyFrom{kind}", policy_name=pol, policy_type="Custom", **who),
            f"EntityNotExist.{kind}.Policy",
            404,
        )
        root_ram(
            f"DetachPolicyFrom{kind}",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
            **who,
        )
        assert root_ram(f"ListPoliciesFor{kind}", **who)["Policies"]["Policy"] == []
    assert (
        root_ram("GetPolicy", policy_name=pol, policy_type="Custom")["Policy"]["AttachmentCount"]
        == 0
    )
    root_ram("DeletePolicy", policy_name=pol)
    root_ram("DeleteUser", user_name=user)
    root_ram("DeleteGroup", group_name=group)
    root_ram("DeleteRole", role_name=role.name)


def test_attach_missing_entities(root_ram: TeaApi) -> None:
    user = unique("u")
    root_ram("CreateUser", user_name=user)
    expect(
        root_ram.fails(
            "AttachPolicyToUser", policy_name=unique("ghost"), policy_type="Custom", user_name=user
        ),
        "EntityNotExist.Policy",
        404,
    )
    expect(
        root_ram.fails(
            "AttachPolicyToUser",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
            user_name=unique("ghost"),
        ),
        "EntityNotExist.User",
        404,
    )
    expect(
        root_ram.fails(
            "AttachPolicyToRole",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
            role_name=unique("ghost"),
        ),
        "EntityNotExist.Role",
        404,
    )
    expect(
        root_ram.fails(
            "AttachPolicyToGroup",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="System",
            group_name=unique("ghost"),
        ),
        "EntityNotExist.Group",
        404,
    )
    expect(
        root_ram.fails(
            "AttachPolicyToUser",
            policy_name="AliyunRAMReadOnlyAccess",
            policy_type="Builtin",
            user_name=user,
        ),
        "InvalidParameter.PolicyType",
        400,
    )
    expect(
        root_ram.fails("ListPoliciesForUser", user_name=unique("ghost")),
        "EntityNotExist.User",
        404,
    )


# ---- a RAM user authorized by its policies ---------------------------------------------------


def test_read_only_user(server: TesseraServer, ids: Identities) -> None:
    reader = ids.user("reader", system=("AliyunRAMReadOnlyAccess",))
    api = ram_api(server, reader.creds)
    names = [u["UserName"] for u in api("ListUsers", max_items=1000)["Users"]["User"]]
    assert reader.name in names
    assert api("GetUser", user_name=reader.name)["User"]["UserId"] == reader.user_id
    api("ListRoles")
    api("ListPolicies", policy_type="System")
    err = api.fails("CreateUser", user_name=unique("nope"))
    expect(err, "NoPermission", 403)
    assert err.message.startswith("You are not authorized to do this action."), err
    expect(api.fails("DeleteUser", user_name=reader.name), "NoPermission", 403)
    expect(
        api.fails(
            "AttachPolicyToUser",
            policy_name="AliyunRAMFullAccess",
            policy_type="System",
            user_name=reader.name,
        ),
        "NoPermission",
        403,
    )


def test_user_without_policies_can_do_nothing(server: TesseraServer, ids: Identities) -> None:
    nobody = ids.user("nobody")
    api = ram_api(server, nobody.creds)
    expect(api.fails("ListUsers"), "NoPermission", 403)
    expect(api.fails("GetUser", user_name=nobody.name), "NoPermission", 403)


def test_user_limited_to_a_resource_pattern(
    server: TesseraServer, ids: Identities, root_ram: TeaApi
) -> None:
    creator = ids.user(
        "creator", custom=policy(allow("ram:CreateUser", f"acs:ram:*:{ACCOUNT_ID}:user/app-*"))
    )
    api = ram_api(server, creator.creds)
    app_user = unique("app")
    assert api("CreateUser", user_name=app_user)["User"]["UserName"] == app_user
    assert root_ram("GetUser", user_name=app_user)["User"]["UserName"] == app_user
    other = unique("other")
    expect(api.fails("CreateUser", user_name=other), "NoPermission", 403)
    expect(root_ram.fails("GetUser", user_name=other), "EntityNotExist.User", 404)
    expect(api.fails("DeleteUser", user_name=app_user), "NoPermission", 403)


def test_permissions_follow_group_membership(
    server: TesseraServer, ids: Identities, root_ram: TeaApi
) -> None:
    member = ids.user("member")
    group = unique("readers")
    root_ram("CreateGroup", group_name=group)
    root_ram(
        "AttachPolicyToGroup",
        policy_name="AliyunRAMReadOnlyAccess",
        policy_type="System",
        group_name=group,
    )
    api = ram_api(server, member.creds)
    expect(api.fails("ListUsers"), "NoPermission", 403)
    root_ram("AddUserToGroup", group_name=group, user_name=member.name)
    api("ListUsers")
    root_ram("RemoveUserFromGroup", group_name=group, user_name=member.name)
    expect(api.fails("ListUsers"), "NoPermission", 403)


def test_explicit_deny_wins(server: TesseraServer, ids: Identities) -> None:
    denied = ids.user(
        "denied",
        system=("AliyunRAMFullAccess",),
        custom=policy({"Effect": "Deny", "Action": "ram:CreateUser", "Resource": "*"}),
    )
    api = ram_api(server, denied.creds)
    api("ListUsers")
    expect(api.fails("CreateUser", user_name=unique("x")), "NoPermission", 403)


def test_root_v1_signature_over_tea(server: TesseraServer) -> None:
    """The RAM client with ``signature_algorithm='v2'`` (V1 over tea) works as well."""
    api = ram_api(server, Credentials(ROOT_ACCESS_KEY_ID, ROOT_ACCESS_KEY_SECRET), v2=True)
    name = unique("v1user")
    api("CreateUser", user_name=name, comments="with spaces & symbols *~'()!")
    assert api("GetUser", user_name=name)["User"]["Comments"] == "with spaces & symbols *~'()!"
    role = unique("v1role")
    api("CreateRole", role_name=role, assume_role_policy_document=trust(account_root()))
    api("DeleteRole", role_name=role)
    api("DeleteUser", user_name=name)


# ---- more rules: renames, own keys, quotas, immediate effect of changes ----------------------


def test_rename_onto_an_existing_name(root_ram: TeaApi) -> None:
    a, b = unique("ren"), unique("ren")
    root_ram("CreateUser", user_name=a)
    root_ram("CreateUser", user_name=b)
    expect(
        root_ram.fails("UpdateUser", user_name=a, new_user_name=b), "EntityAlreadyExists.User", 409
    )
    g1, g2 = unique("ren"), unique("ren")
    root_ram("CreateGroup", group_name=g1)
    root_ram("CreateGroup", group_name=g2)
    expect(
        root_ram.fails("UpdateGroup", group_name=g1, new_group_name=g2),
        "EntityAlreadyExists.Group",
        409,
    )


def test_user_manages_its_own_access_keys(server: TesseraServer, ids: Identities) -> None:
    """CreateAccessKey/ListAccessKeys without UserName act on the calling RAM user (spec §3.3)."""
    me = ids.user(
        "self-keys",
        custom=policy(
            allow(
                ["ram:CreateAccessKey", "ram:ListAccessKeys", "ram:UpdateAccessKey"],
                f"acs:ram:*:{ACCOUNT_ID}:user/self-keys-*",
            )
        ),
    )
    api = ram_api(server, me.creds)
    created = api("CreateAccessKey")["AccessKey"]
    listed = api("ListAccessKeys")["AccessKeys"]["AccessKey"]
    assert {k["AccessKeyId"] for k in listed} == {me.creds.access_key_id, created["AccessKeyId"]}
    as_new_key = sts_api(server, Credentials(created["AccessKeyId"], created["AccessKeySecret"]))
    assert as_new_key("GetCallerIdentity")["Arn"] == f"acs:ram::{ACCOUNT_ID}:user/{me.name}"
    # ...but not on someone else's
    other = ids.user("other-keys")
    expect(api.fails("ListAccessKeys", user_name=other.name), "NoPermission", 403)


def test_membership_quota(root_ram: TeaApi) -> None:
    """At most 5 groups per user (spec §3.10)."""
    user = unique("joiner")
    root_ram("CreateUser", user_name=user)
    groups = [unique("q") for _ in range(6)]
    for group in groups:
        root_ram("CreateGroup", group_name=group)
    for group in groups[:5]:
        root_ram("AddUserToGroup", group_name=group, user_name=user)
    expect(
        root_ram.fails("AddUserToGroup", group_name=groups[5], user_name=user),
        "LimitExceeded.User.Group",
        409,
    )
    for group in groups[:5]:
        root_ram("RemoveUserFromGroup", group_name=group, user_name=user)
    for group in groups:
        root_ram("DeleteGroup", group_name=group)


@pytest.mark.parametrize(("kind", "limit"), [("User", 10), ("Group", 5), ("Role", 5)])
def test_custom_policy_attachment_quota(
    root_ram: TeaApi, ids: Identities, kind: str, limit: int
) -> None:
    """Custom policies per user 10, per group and per role 5 (spec §3.10)."""
    if kind == "User":
        who = {"user_name": unique("quota")}
        root_ram("CreateUser", **who)
    elif kind == "Group":
        who = {"group_name": unique("quota")}
        root_ram("CreateGroup", **who)
    else:
        who = {"role_name": ids.role("quota").name}
    names = [unique("qp") for _ in range(limit + 1)]
    for name in names:
        root_ram("CreatePolicy", policy_name=name, policy_document=DOC)
    for name in names[:limit]:
        root_ram(f"AttachPolicyTo{kind}", policy_name=name, policy_type="Custom", **who)
    expect(
        root_ram.fails(f"AttachPolicyTo{kind}", policy_name=names[-1], policy_type="Custom", **who),
        f"LimitExceeded.{kind}.Policy",
        409,
    )
    # System policies have their own, larger quota
    root_ram(
        f"AttachPolicyTo{kind}", policy_name="AliyunRAMReadOnlyAccess", policy_type="System", **who
    )


def test_new_default_policy_version_takes_effect_at_once(
    server: TesseraServer, ids: Identities, root_ram: TeaApi
) -> None:
    name = unique("live")
    root_ram("CreatePolicy", policy_name=name, policy_document=policy(allow("ram:ListUsers")))
    user = ids.user("live")
    root_ram("AttachPolicyToUser", policy_name=name, policy_type="Custom", user_name=user.name)
    api = ram_api(server, user.creds)
    api("ListUsers")
    expect(api.fails("ListRoles"), "NoPermission", 403)
    root_ram(
        "CreatePolicyVersion",
        policy_name=name,
        policy_document=policy(allow("ram:ListRoles")),
        set_as_default=True,
    )
    api("ListRoles")
    expect(api.fails("ListUsers"), "NoPermission", 403)
    root_ram("SetDefaultPolicyVersion", policy_name=name, version_id="v1")
    api("ListUsers")
    root_ram("DetachPolicyFromUser", policy_name=name, policy_type="Custom", user_name=user.name)
    expect(api.fails("ListUsers"), "NoPermission", 403)


def test_non_default_version_is_not_in_force(
    server: TesseraServer, ids: Identities, root_ram: TeaApi
) -> None:
    name = unique("draft")
    root_ram("CreatePolicy", policy_name=name, policy_document=policy(allow("ram:ListUsers")))
    root_ram(
        "CreatePolicyVersion",
        policy_name=name,
        policy_document=policy(allow("ram:*")),
        set_as_default=False,
    )
    user = ids.user("draft")
    root_ram("AttachPolicyToUser", policy_name=name, policy_type="Custom", user_name=user.name)
    api = ram_api(server, user.creds)
    api("ListUsers")
    expect(api.fails("CreateUser", user_name=unique("nope")), "NoPermission", 403)
    versions = root_ram("ListPolicyVersions", policy_name=name, policy_type="Custom")
    defaults = {
        v["VersionId"]: v["IsDefaultVersion"] for v in versions["PolicyVersions"]["PolicyVersion"]
    }
    assert defaults == {"v1": True, "v2": False}
    root_ram("DetachPolicyFromUser", policy_name=name, policy_type="Custom", user_name=user.name)
    expect(
        root_ram.fails("DeletePolicy", policy_name=name, cascading_delete=False),
        "DeleteConflict.Policy.Version",
        409,
    )


def test_source_ip_condition(server: TesseraServer, ids: Identities) -> None:
    """acs:SourceIp is the client address: the tests connect from 127.0.0.1."""
    local = ids.user(
        "ip-local",
        custom=policy(
            {
                "Effect": "Allow",
                "Action": "ram:ListUsers",
                "Resource": "*",
                "Condition": {"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}},
            }
        ),
    )
    remote = ids.user(
        "ip-remote",
        custom=policy(
            {
                "Effect": "Allow",
                "Action": "ram:ListUsers",
                "Resource": "*",
                "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.1.1"]}},
            }
        ),
    )
    ram_api(server, local.creds)("ListUsers")
    expect(ram_api(server, remote.creds).fails("ListUsers"), "NoPermission", 403)


def test_secure_transport_condition(server: TesseraServer, ids: Identities) -> None:
    """acs:SecureTransport is false over plain http."""
    user = ids.user(
        "https-only",
        system=("AliyunRAMReadOnlyAccess",),
        custom=policy(
            {
                "Effect": "Deny",
                "Action": "ram:*",
                "Resource": "*",
                "Condition": {"Bool": {"acs:SecureTransport": "false"}},
            }
        ),
    )
    expect(ram_api(server, user.creds).fails("ListUsers"), "NoPermission", 403)


def test_role_policy_changes_reach_live_tokens(
    server: TesseraServer, ids: Identities, root_ram: TeaApi
) -> None:
    broker = ids.user("live-broker", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("live-role", system=("AliyunRAMReadOnlyAccess",))
    assumed = sts_api(server, broker.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="live"
    )
    c = assumed["Credentials"]
    api = ram_api(server, Credentials(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"]))
    api("ListUsers")
    root_ram(
        "DetachPolicyFromRole",
        policy_name="AliyunRAMReadOnlyAccess",
        policy_type="System",
        role_name=role.name,
    )
    expect(api.fails("ListUsers"), "NoPermission", 403)


def test_flattened_tags_are_accepted(raw: RawRpc, root_ram: TeaApi) -> None:
    """Other clients flatten lists (``Tag.1.Key``) where tea sends JSON (spec §2.1)."""
    name = unique("flat")
    reply, _ = raw.v1(
        ROOT,
        "CreateRole",
        {
            "RoleName": name,
            "AssumeRolePolicyDocument": trust(account_root()),
            "Tag.1.Key": "team",
            "Tag.1.Value": "dev",
            "Tag.2.Key": "env",
            "Tag.2.Value": "test",
        },
        version=RAM_VERSION,
        method="POST",
    )
    assert reply.status == 200, reply.body
    listed = {r["RoleName"]: r for r in root_ram("ListRoles", max_items=1000)["Roles"]["Role"]}
    assert sorted(listed[name]["Tags"]["Tag"], key=lambda t: t["TagKey"]) == [
        {"TagKey": "env", "TagValue": "test"},
        {"TagKey": "team", "TagValue": "dev"},
    ]


def test_default_page_size_and_group_quota(fresh_server: FreshServer) -> None:
    """On an empty account: ListUsers pages by 100 without MaxItems (spec §3.1) and the 51st
    group is refused (50 per account, spec §3.10)."""
    srv = fresh_server()
    api = ram_api(srv)
    for i in range(101):
        api("CreateUser", user_name=f"bulk-{i:03d}")
    first = api("ListUsers")
    assert len(first["Users"]["User"]) == 100
    assert first["IsTruncated"] is True
    second = api("ListUsers", marker=first["Marker"])
    assert len(second["Users"]["User"]) == 1
    assert second["IsTruncated"] is False
    names = {u["UserName"] for u in first["Users"]["User"] + second["Users"]["User"]}
    assert names == {f"bulk-{i:03d}" for i in range(101)}
    for i in range(50):
        api("CreateGroup", group_name=f"team-{i:02d}")
    expect(api.fails("CreateGroup", group_name="team-50"), "LimitExceeded.Group", 409)


def test_denials_carry_access_denied_detail(server: TesseraServer, ids: Identities) -> None:
    """tea reads ``AccessDeniedDetail`` from error bodies (spec §1.7); ``NoPermissionType`` says
    whether a Deny statement or the absence of an Allow decided."""
    reader = ids.user(
        "detail",
        system=("AliyunRAMReadOnlyAccess",),
        custom=policy({"Effect": "Deny", "Action": "ram:ListRoles", "Resource": "*"}),
    )
    api = ram_api(server, reader.creds)
    implicit = api.fails("CreateUser", user_name=unique("nope")).data["AccessDeniedDetail"]
    assert implicit["NoPermissionType"] == "ImplicitDeny"
    assert implicit["AuthAction"] == "ram:CreateUser"
    assert implicit["AuthPrincipalOwnerId"] == ACCOUNT_ID
    explicit = api.fails("ListRoles").data["AccessDeniedDetail"]
    assert explicit["NoPermissionType"] == "ExplicitDeny"
    assert explicit["AuthAction"] == "ram:ListRoles"


def test_concurrent_clients(server: TesseraServer, ids: Identities, root_ram: TeaApi) -> None:
    """Many clients at once: every write lands, nothing answers 5xx."""
    from concurrent.futures import ThreadPoolExecutor

    broker = ids.user("many", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("many")
    prefix = unique("conc")

    def create(i: int) -> str:
        name = f"{prefix}-{i}"
        ram_api(server)("CreateUser", user_name=name)
        return name

    def assume(i: int) -> str:
        body = sts_api(server, broker.creds, v2=i % 2 == 1)(
            "AssumeRole", role_arn=role.arn, role_session_name=f"s{i}"
        )
        return str(body["Credentials"]["AccessKeyId"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(create, range(60)))
        keys = list(pool.map(assume, range(60)))
    assert len(set(keys)) == 60
    listed = {u["UserName"] for u in root_ram("ListUsers", max_items=1000)["Users"]["User"]}
    assert set(created) <= listed


def test_format_rules(root_ram: TeaApi) -> None:
    """``InvalidParameter.<Param>.Format`` (spec §3.9)."""
    err = root_ram.fails("CreateUser", user_name=unique("fmt"), email="not-an-email")
    expect(err, "InvalidParameter.Email.Format", 400)
    assert '"Email"' in err.message, err
    name = unique("fmt")
    root_ram("CreatePolicy", policy_name=name, policy_document=DOC)
    for version_id in ("1", "version1", "v", "v1.0"):
        err = root_ram.fails(
            "GetPolicyVersion", policy_name=name, policy_type="Custom", version_id=version_id
        )
        expect(err, "InvalidParameter.VersionId.Format", 400)


def test_unicode_display_name_and_comments(root_ram: TeaApi) -> None:
    name = unique("uni")
    created = root_ram(
        "CreateUser", user_name=name, display_name="张三 (运维)", comments="ünïcödé ✓"
    )["User"]
    assert created["DisplayName"] == "张三 (运维)"
    got = root_ram("GetUser", user_name=name)["User"]
    assert got["DisplayName"] == "张三 (运维)"
    assert got["Comments"] == "ünïcödé ✓"
