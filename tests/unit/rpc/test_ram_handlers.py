"""RAM handlers: parameters as the official clients send them, responses as their SDK reads them.

Every response is round-tripped through the official ``alibabacloud_ram20150501`` response
model: ``Model().from_map(body).to_map() == body`` proves that each field we emit is a field the
SDK knows, spelled and nested as it expects.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from alibabacloud_ram20150501 import models  # type: ignore[import-untyped]

from tessera.accesslog import AccessRecord
from tessera.clock import FixedClock
from tessera.errors import InvalidArgument, MissingArgument
from tessera.identity.model import Caller, IdentityType
from tessera.identity.service import RamService
from tessera.ids import SecureIds
from tessera.rpc.actions import RAM_VERSION, ActionTable, RequestFacts, RpcContext
from tessera.rpc.params import Params
from tessera.rpc.ram_handlers import register
from tessera.store import MemoryIdentityStore

ACCOUNT = "1234567890123456"
DOC = '{"Statement":[{"Action":"oss:GetObject","Effect":"Allow","Resource":"*"}],"Version":"1"}'
TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",'
    '"Principal":{"RAM":["acs:ram::1234567890123456:root"]}}],"Version":"1"}'
)
ROOT = Caller(IdentityType.ACCOUNT, ACCOUNT, "LTAIroot")
ALICE = Caller(IdentityType.RAM_USER, ACCOUNT, "LTAIalice", user_id="1", user_name="alice")

RAM_ACTIONS = {
    "CreateUser",
    "GetUser",
    "UpdateUser",
    "DeleteUser",
    "ListUsers",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateGroup",
    "GetGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "ListUsersForGroup",
    "CreateRole",
    "GetRole",
    "UpdateRole",
    "DeleteRole",
    "ListRoles",
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "UpdatePolicyDescription",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
    "ListEntitiesForPolicy",
    "AttachPolicyToUser",
    "AttachPolicyToGroup",
    "AttachPolicyToRole",
    "DetachPolicyFromUser",
    "DetachPolicyFromGroup",
    "DetachPolicyFromRole",
    "ListPoliciesForUser",
    "ListPoliciesForGroup",
    "ListPoliciesForRole",
}


def _table() -> ActionTable:
    table = ActionTable()
    register(table)
    return table


TABLE = _table()


class Api:
    """Calls handlers the way ``rpc.app`` does: resource first, then the handler."""

    def __init__(self) -> None:
        store = MemoryIdentityStore()
        self.ram = RamService(
            store,
            FixedClock(1_700_000_000),
            SecureIds(),
            lambda s, aad: f"sealed:{aad}",
            lambda document, kind: None,
        )
        self.ram.create_account(ACCOUNT)

    def context(self, params: dict[str, str], caller: Caller = ROOT) -> RpcContext:
        return RpcContext(
            request_id="R",
            caller=caller,
            params=Params(params),
            now=1_700_000_000.0,
            facts=RequestFacts("127.0.0.1", False),
            record=AccessRecord("R", "POST", "/", "127.0.0.1"),
            services=SimpleNamespace(ram=self.ram),
        )

    def resource(self, action: str, caller: Caller = ROOT, /, **params: str) -> str:
        found = TABLE.lookup(RAM_VERSION, action).resource
        assert found is not None
        return found(self.context(params, caller))

    def __call__(self, action: str, caller: Caller = ROOT, /, **params: str) -> dict[str, Any]:
        found = TABLE.lookup(RAM_VERSION, action)
        ctx = self.context(params, caller)
        assert found.resource is not None
        found.resource(ctx)
        body = dict(found.handler(ctx))
        _sdk_reads(action, body)
        return body


def _sdk_reads(action: str, body: dict[str, Any]) -> None:
    model = getattr(models, f"{action}ResponseBody")()
    assert model.from_map(body).to_map() == body, f"{action}: fields the SDK does not know"


@pytest.fixture
def api() -> Api:
    return Api()


# ---- the table ----------------------------------------------------------------------------


def test_every_ram_action_is_registered_once_with_its_policy_action() -> None:
    assert {a.name for a in TABLE} == RAM_ACTIONS
    for action in TABLE:
        assert (action.version, action.policy_action) == (RAM_VERSION, f"ram:{action.name}")
        assert action.resource is not None


@pytest.mark.parametrize(
    ("action", "params", "arn"),
    [
        ("CreateUser", {"UserName": "alice"}, "user/alice"),
        ("ListUsers", {}, "*"),
        ("ListGroups", {}, "*"),
        ("ListRoles", {}, "*"),
        ("ListPolicies", {}, "*"),
        ("CreateAccessKey", {"UserName": "bob"}, "user/bob"),
        ("AddUserToGroup", {"GroupName": "devs", "UserName": "a"}, "group/devs"),
        ("GetRole", {"RoleName": "Writer"}, "role/Writer"),
        ("CreatePolicy", {"PolicyName": "p1"}, "policy/p1"),
        ("GetPolicy", {"PolicyName": "p1", "PolicyType": "Custom"}, "policy/p1"),
        ("AttachPolicyToRole", {"RoleName": "r", "PolicyName": "p"}, "role/r"),
        ("ListPoliciesForGroup", {"GroupName": "devs"}, "group/devs"),
    ],
)
def test_resources(api: Api, action: str, params: dict[str, str], arn: str) -> None:
    assert api.resource(action, **params) == f"acs:ram:*:{ACCOUNT}:{arn}"


def test_system_policy_resources_belong_to_no_account(api: Api) -> None:
    arn = api.resource("GetPolicy", PolicyName="AdministratorAccess", PolicyType="system")
    assert arn == "acs:ram:*:system:policy/AdministratorAccess"


def test_key_resources_default_to_the_calling_user(api: Api) -> None:
    assert api.resource("ListAccessKeys", ALICE) == f"acs:ram:*:{ACCOUNT}:user/alice"
    with pytest.raises(MissingArgument):
        api.resource("ListAccessKeys")
    with pytest.raises(MissingArgument):
        api.resource("GetUser")


# ---- users and keys -----------------------------------------------------------------------


def test_user_actions(api: Api) -> None:
    created = api(
        "CreateUser",
        UserName="alice",
        DisplayName="Alice",
        Email="a@example.com",
        MobilePhone="86-18600008888",
        Comments="hi",
    )
    user = created["User"]
    assert set(user) == {
        "UserId",
        "UserName",
        "DisplayName",
        "MobilePhone",
        "Email",
        "Comments",
        "CreateDate",
    }
    assert user["CreateDate"] == "2023-11-14T22:13:20Z"
    fetched = api("GetUser", UserName="alice")["User"]
    assert fetched["UpdateDate"] == fetched["CreateDate"] and "LastLoginDate" not in fetched
    updated = api("UpdateUser", UserName="alice", NewUserName="alicia")["User"]
    assert updated["UserName"] == "alicia" and updated["UserId"] == user["UserId"]
    assert api("DeleteUser", UserName="alicia") == {}


def test_list_users_pages_with_marker(api: Api) -> None:
    for name in ("a", "b", "c"):
        api("CreateUser", UserName=name)
    first = api("ListUsers", MaxItems="2")
    assert first["IsTruncated"] is True and [u["UserName"] for u in first["Users"]["User"]] == [
        "a",
        "b",
    ]
    rest = api("ListUsers", MaxItems="2", Marker=first["Marker"])
    assert rest == {"Users": {"User": [rest["Users"]["User"][0]]}, "IsTruncated": False}
    assert rest["Users"]["User"][0]["UserName"] == "c"


def test_access_keys(api: Api) -> None:
    api("CreateUser", UserName="alice")
    created = api("CreateAccessKey", ALICE)["AccessKey"]
    assert set(created) == {"AccessKeyId", "AccessKeySecret", "Status", "CreateDate"}
    assert created["Status"] == "Active" and re.fullmatch(
        r"[A-Za-z0-9]{30}", created["AccessKeySecret"]
    )
    listed = api("ListAccessKeys", UserName="alice")["AccessKeys"]["AccessKey"]
    assert listed == [{k: created[k] for k in ("AccessKeyId", "Status", "CreateDate")}]
    key_id = created["AccessKeyId"]
    assert api("UpdateAccessKey", UserName="alice", UserAccessKeyId=key_id, Status="Inactive") == {}
    assert api("GetAccessKeyLastUsed", UserName="alice", UserAccessKeyId=key_id) == {
        "AccessKeyLastUsed": {}
    }
    assert api("DeleteAccessKey", ALICE, UserAccessKeyId=key_id) == {}


# ---- groups -------------------------------------------------------------------------------


def test_groups(api: Api) -> None:
    api("CreateUser", UserName="alice")
    group = api("CreateGroup", GroupName="devs", Comments="developers")["Group"]
    assert set(group) == {"GroupId", "GroupName", "Comments", "CreateDate"}
    assert api("AddUserToGroup", GroupName="devs", UserName="alice") == {}
    [joined] = api("ListGroupsForUser", UserName="alice")["Groups"]["Group"]
    assert set(joined) == {"GroupId", "GroupName", "Comments", "JoinDate"}
    members = api("ListUsersForGroup", GroupName="devs")
    assert [m["UserName"] for m in members["Users"]["User"]] == ["alice"]
    assert members["IsTruncated"] is False
    listed = api("ListGroups", MaxItems="100")
    assert listed["Groups"]["Group"][0]["UpdateDate"] == group["CreateDate"]
    renamed = api("UpdateGroup", GroupName="devs", NewGroupName="ops")["Group"]
    assert renamed["GroupName"] == "ops"
    assert api("GetGroup", GroupName="ops")["Group"]["GroupId"] == group["GroupId"]
    api("RemoveUserFromGroup", GroupName="ops", UserName="alice")
    assert api("DeleteGroup", GroupName="ops") == {}


def test_list_groups_caps_max_items_at_100(api: Api) -> None:
    with pytest.raises(InvalidArgument) as caught:
        api("ListGroups", MaxItems="101")
    assert caught.value.param == "MaxItems"
    with pytest.raises(InvalidArgument) as caught:
        api("ListUsers", MaxItems="ten")
    assert (caught.value.param, caught.value.reason) == ("MaxItems", "Format")


# ---- roles --------------------------------------------------------------------------------


def test_create_role_as_the_tea_client_sends_it(api: Api) -> None:
    tags = json.dumps([{"Key": "team", "Value": "dev"}])
    role = api(
        "CreateRole",
        RoleName="oss-writer",
        AssumeRolePolicyDocument=TRUST,
        MaxSessionDuration="7200",
        Tag=tags,
        AllowConsoleLogin="True",
    )["Role"]
    assert role["Arn"] == f"acs:ram::{ACCOUNT}:role/oss-writer"
    assert role["AssumeRolePolicyDocument"] == TRUST  # a JSON string, as submitted
    assert (role["MaxSessionDuration"], role["AllowConsoleLogin"]) == (7200, True)
    listed = api("ListRoles", Tag=tags)["Roles"]["Role"]
    assert listed[0]["Tags"] == {"Tag": [{"TagKey": "team", "TagValue": "dev"}]}
    assert "AssumeRolePolicyDocument" not in listed[0]


def test_role_tags_may_be_flattened(api: Api) -> None:
    api(
        "CreateRole",
        RoleName="r",
        AssumeRolePolicyDocument=TRUST,
        **{"Tag.1.Key": "env", "Tag.1.Value": "prod"},
    )
    found = api("ListRoles", **{"Tag.1.Key": "env", "Tag.1.Value": "prod"})["Roles"]["Role"]
    assert [r["RoleName"] for r in found] == ["r"]
    assert api("ListRoles", **{"Tag.1.Key": "env", "Tag.1.Value": "dev"})["Roles"]["Role"] == []


def test_get_update_delete_role(api: Api) -> None:
    api("CreateRole", RoleName="Writer", AssumeRolePolicyDocument=TRUST)
    role = api("GetRole", RoleName="writer")["Role"]
    assert role["RoleName"] == "Writer" and role["IsServiceLinkedRole"] is False
    assert role["RolePrincipalName"] == f"Writer@role.{ACCOUNT}.onaliyunservice.com"
    updated = api(
        "UpdateRole",
        RoleName="Writer",
        NewMaxSessionDuration="43200",
        NewDescription="d",
        NewAllowConsoleLogin="false",
    )["Role"]
    assert (updated["MaxSessionDuration"], updated["Description"]) == (43200, "d")
    assert api("DeleteRole", RoleName="Writer") == {}


# ---- policies -----------------------------------------------------------------------------


def test_policy_actions(api: Api) -> None:
    created = api("CreatePolicy", PolicyName="p1", PolicyDocument=DOC, Description="d")["Policy"]
    assert created["PolicyType"] == "Custom" and created["DefaultVersion"] == "v1"
    version = api(
        "CreatePolicyVersion",
        PolicyName="p1",
        PolicyDocument=DOC,
        SetAsDefault="True",
        RotateStrategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
    )
    assert version["PolicyVersion"]["VersionId"] == "v2"
    assert version["PolicyVersion"]["IsDefaultVersion"] is True
    got = api("GetPolicy", PolicyName="p1", PolicyType="Custom")
    assert got["Policy"]["DefaultVersion"] == "v2" and got["Policy"]["AttachmentCount"] == 0
    assert got["DefaultPolicyVersion"]["PolicyDocument"] == DOC
    versions = api("ListPolicyVersions", PolicyName="p1", PolicyType="Custom")
    assert [v["VersionId"] for v in versions["PolicyVersions"]["PolicyVersion"]] == ["v1", "v2"]
    api("SetDefaultPolicyVersion", PolicyName="p1", VersionId="v1")
    v1 = api("GetPolicyVersion", PolicyName="p1", PolicyType="Custom", VersionId="v1")
    assert v1["PolicyVersion"]["IsDefaultVersion"] is True
    api("DeletePolicyVersion", PolicyName="p1", VersionId="v2")
    described = api("UpdatePolicyDescription", PolicyName="p1", NewDescription="better")
    assert described["Policy"]["Description"] == "better"
    assert api("DeletePolicy", PolicyName="p1", CascadingDelete="True") == {}


def test_list_policies_by_type(api: Api) -> None:
    api("CreatePolicy", PolicyName="mine", PolicyDocument=DOC)
    system = api("ListPolicies", PolicyType="system", MaxItems="1000")["Policies"]["Policy"]
    assert {p["PolicyType"] for p in system} == {"System"}
    assert "AdministratorAccess" in {p["PolicyName"] for p in system}
    everything = api("ListPolicies")["Policies"]["Policy"]
    assert everything[0]["PolicyName"] == "mine"  # Custom first
    with pytest.raises(InvalidArgument) as caught:
        api("ListPolicies", PolicyType="Managed")
    assert caught.value.param == "PolicyType"


@pytest.mark.parametrize(
    ("kind", "create"),
    [
        ("User", {"action": "CreateUser", "UserName": "x"}),
        ("Group", {"action": "CreateGroup", "GroupName": "x"}),
        ("Role", {"action": "CreateRole", "RoleName": "x", "AssumeRolePolicyDocument": TRUST}),
    ],
)
def test_attachments(api: Api, kind: str, create: dict[str, str]) -> None:
    params = dict(create)
    api(params.pop("action"), **params)
    principal = {f"{kind}Name": "x"}
    policy = {"PolicyName": "AliyunOSSFullAccess", "PolicyType": "System"}
    assert api(f"AttachPolicyTo{kind}", **principal, **policy) == {}
    [attached] = api(f"ListPoliciesFor{kind}", **principal)["Policies"]["Policy"]
    assert set(attached) == {
        "PolicyName",
        "PolicyType",
        "Description",
        "DefaultVersion",
        "AttachDate",
    }
    entities = api("ListEntitiesForPolicy", **policy)
    wrapper = {"User": "Users", "Group": "Groups", "Role": "Roles"}[kind]
    assert [
        e.get("UserName") or e.get("GroupName") or e.get("RoleName")
        for e in entities[wrapper][kind]
    ] == ["x"]
    assert api(f"DetachPolicyFrom{kind}", **principal, **policy) == {}
    assert api(f"ListPoliciesFor{kind}", **principal) == {"Policies": {"Policy": []}}
