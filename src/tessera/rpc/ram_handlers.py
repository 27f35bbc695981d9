"""RAM 2015-05-01 over RPC: request parameters → ``RamService`` → response dictionaries.

Owns: one ``Action`` per RAM action (``register``), the RAM resource ARN each is authorized
against, reading parameters the way the official clients send them (``Params``: ``True`` for
booleans, ``Tag`` as JSON or flattened), and the response shapes of spec §3 with the field
names the official SDK models read (``alibabacloud_ram20150501.models``).
Must not: hold business rules (``identity.service`` does), authorize (``rpc.app`` does with
``policy_action`` + ``resource`` before a handler runs), or add ``RequestId`` (the renderer does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from tessera.errors import InvalidArgument, MissingArgument
from tessera.identity.model import IdentityType
from tessera.identity.service import IssuedAccessKey, RamService, parse_policy_type
from tessera.rpc.actions import RAM_VERSION, Action, ActionTable, Handler, ResourceOf, RpcContext
from tessera.store.base import (
    AccessKey,
    Group,
    Page,
    Policy,
    PolicyAttachment,
    PolicyType,
    PolicyVersion,
    PrincipalKind,
    Role,
    Tag,
    User,
)

Body = dict[str, Any]
T = TypeVar("T")


# ---- context helpers ----------------------------------------------------------------------


def _ram(ctx: RpcContext) -> RamService:
    ram: RamService = ctx.services.ram
    return ram


def _account(ctx: RpcContext) -> str:
    return ctx.caller.account_id


def _caller_user(ctx: RpcContext) -> str | None:
    """The calling RAM user's name: the default owner for the AccessKey actions."""
    caller = ctx.caller
    return caller.user_name if caller.identity_type is IdentityType.RAM_USER else None


def _tags(ctx: RpcContext) -> list[Tag]:
    """``Tag`` as the tea clients send it (JSON list) or flattened (``Tag.1.Key``)."""
    tags = []
    for item in ctx.params.objects("Tag"):
        key, value = item.get("Key"), item.get("Value", "")
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgument("Tag", "Format", "Each Tag needs a string Key and Value.")
        tags.append(Tag(key, value))
    return tags


# ---- resources ----------------------------------------------------------------------------


def _arn(ctx: RpcContext, kind: str, name: str) -> str:
    return f"acs:ram:*:{_account(ctx)}:{kind}/{name}"


def _named(kind: str, param: str) -> ResourceOf:
    return lambda ctx: _arn(ctx, kind, ctx.params.require(param))


def _everything(ctx: RpcContext) -> str:
    return f"acs:ram:*:{_account(ctx)}:*"


def _key_owner(ctx: RpcContext) -> str:
    name = ctx.params.get("UserName") or _caller_user(ctx)
    if name is None:
        raise MissingArgument("UserName")
    return _arn(ctx, "user", name)


def _policy(ctx: RpcContext) -> str:
    """System policies belong to no account: ``acs:ram:*:system:policy/<name>``."""
    name = ctx.params.require("PolicyName")
    kind = parse_policy_type(ctx.params.get("PolicyType"), required=False)
    owner = "system" if kind is PolicyType.SYSTEM else _account(ctx)
    return f"acs:ram:*:{owner}:policy/{name}"


_USER = _named("user", "UserName")
_GROUP = _named("group", "GroupName")
_ROLE = _named("role", "RoleName")
_PRINCIPAL_RESOURCES = {
    PrincipalKind.USER: _USER,
    PrincipalKind.GROUP: _GROUP,
    PrincipalKind.ROLE: _ROLE,
}
_PRINCIPAL_PARAMS = {
    PrincipalKind.USER: "UserName",
    PrincipalKind.GROUP: "GroupName",
    PrincipalKind.ROLE: "RoleName",
}


# ---- rendering ----------------------------------------------------------------------------


def _pick(fields: Mapping[str, Callable[[T], Any]], record: T, names: Sequence[str]) -> Body:
    """The named response fields of ``record``; absent (``None``) values are left out."""
    values = {name: fields[name](record) for name in names}
    return {name: value for name, value in values.items() if value is not None}


def _listing(wrapper: str, item: str, rendered: list[Body], page: Page[Any] | None = None) -> Body:
    body: Body = {wrapper: {item: rendered}}
    if page is not None:
        body["IsTruncated"] = page.is_truncated
        if page.marker is not None:
            body["Marker"] = page.marker
    return body


def _tag_list(tags: Sequence[Tag]) -> Body | None:
    return {"Tag": [{"TagKey": t.key, "TagValue": t.value} for t in tags]} if tags else None


USER_FIELDS: dict[str, Callable[[User], Any]] = {
    "UserId": lambda u: u.user_id,
    "UserName": lambda u: u.user_name,
    "DisplayName": lambda u: u.display_name,
    "MobilePhone": lambda u: u.mobile_phone,
    "Email": lambda u: u.email,
    "Comments": lambda u: u.comments,
    "CreateDate": lambda u: u.created_at,
    "UpdateDate": lambda u: u.updated_at,
    "LastLoginDate": lambda u: u.last_login_at,
}
_USER_CREATED = (
    "UserId",
    "UserName",
    "DisplayName",
    "MobilePhone",
    "Email",
    "Comments",
    "CreateDate",
)
_USER_LISTED = (*_USER_CREATED, "UpdateDate")
_USER_FULL = (*_USER_LISTED, "LastLoginDate")

GROUP_FIELDS: dict[str, Callable[[Group], Any]] = {
    "GroupId": lambda g: g.group_id,
    "GroupName": lambda g: g.group_name,
    "Comments": lambda g: g.comments,
    "CreateDate": lambda g: g.created_at,
    "UpdateDate": lambda g: g.updated_at,
}
_GROUP_CREATED = ("GroupId", "GroupName", "Comments", "CreateDate")
_GROUP_FULL = (*_GROUP_CREATED, "UpdateDate")

ROLE_FIELDS: dict[str, Callable[[Role], Any]] = {
    "RoleId": lambda r: r.role_id,
    "RoleName": lambda r: r.role_name,
    "Arn": lambda r: r.arn,
    "Description": lambda r: r.description,
    "AssumeRolePolicyDocument": lambda r: r.trust_policy,
    "MaxSessionDuration": lambda r: r.max_session_duration,
    "AllowConsoleLogin": lambda r: r.allow_console_login,
    "CreateDate": lambda r: r.created_at,
    "UpdateDate": lambda r: r.updated_at,
    "RolePrincipalName": lambda r: f"{r.role_name}@role.{r.account_id}.onaliyunservice.com",
    "IsServiceLinkedRole": lambda r: False,
    "Tags": lambda r: _tag_list(r.tags),
}
_ROLE_CREATED = (
    "RoleId",
    "RoleName",
    "Arn",
    "Description",
    "AssumeRolePolicyDocument",
    "MaxSessionDuration",
    "CreateDate",
    "AllowConsoleLogin",
)
_ROLE_UPDATED = (*_ROLE_CREATED, "UpdateDate")
_ROLE_FULL = (*_ROLE_UPDATED, "RolePrincipalName", "IsServiceLinkedRole")
_ROLE_LISTED = (
    "RoleId",
    "RoleName",
    "Arn",
    "Description",
    "MaxSessionDuration",
    "CreateDate",
    "UpdateDate",
    "AllowConsoleLogin",
    "Tags",
)

POLICY_FIELDS: dict[str, Callable[[Policy], Any]] = {
    "PolicyName": lambda p: p.name,
    "PolicyType": lambda p: str(p.policy_type),
    "Description": lambda p: p.description,
    "DefaultVersion": lambda p: p.default_version,
    "AttachmentCount": lambda p: p.attachment_count,
    "CreateDate": lambda p: p.created_at,
    "UpdateDate": lambda p: p.updated_at,
    "Tags": lambda p: _tag_list(p.tags),
}
_POLICY_CREATED = ("PolicyName", "PolicyType", "Description", "DefaultVersion", "CreateDate")
_POLICY_UPDATED = (*_POLICY_CREATED, "UpdateDate")
_POLICY_FULL = (*_POLICY_UPDATED, "AttachmentCount")
_POLICY_LISTED = (*_POLICY_FULL, "Tags")


def _version(version: PolicyVersion) -> Body:
    return {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.is_default,
        "PolicyDocument": version.document,
        "CreateDate": version.created_at,
    }


def _key(key: AccessKey) -> Body:
    return {
        "AccessKeyId": key.access_key_id,
        "Status": str(key.status),
        "CreateDate": key.created_at,
    }


def _issued(issued: IssuedAccessKey) -> Body:
    return {**_key(issued.key), "AccessKeySecret": issued.secret}


def _attached_policy(attachment: PolicyAttachment) -> Body:
    names = ("PolicyName", "PolicyType", "Description", "DefaultVersion")
    return {**_pick(POLICY_FIELDS, attachment.policy, names), "AttachDate": attachment.attach_date}


# ---- users --------------------------------------------------------------------------------


def create_user(ctx: RpcContext) -> Body:
    p = ctx.params
    user = _ram(ctx).create_user(
        _account(ctx),
        p.require("UserName"),
        display_name=p.get("DisplayName"),
        mobile_phone=p.get("MobilePhone"),
        email=p.get("Email"),
        comments=p.get("Comments"),
    )
    return {"User": _pick(USER_FIELDS, user, _USER_CREATED)}


def get_user(ctx: RpcContext) -> Body:
    user = _ram(ctx).get_user(_account(ctx), ctx.params.require("UserName"))
    return {"User": _pick(USER_FIELDS, user, _USER_FULL)}


def update_user(ctx: RpcContext) -> Body:
    p = ctx.params
    user = _ram(ctx).update_user(
        _account(ctx),
        p.require("UserName"),
        new_user_name=p.get("NewUserName"),
        new_display_name=p.get("NewDisplayName"),
        new_mobile_phone=p.get("NewMobilePhone"),
        new_email=p.get("NewEmail"),
        new_comments=p.get("NewComments"),
    )
    return {"User": _pick(USER_FIELDS, user, _USER_LISTED)}


def delete_user(ctx: RpcContext) -> Body:
    _ram(ctx).delete_user(_account(ctx), ctx.params.require("UserName"))
    return {}


def list_users(ctx: RpcContext) -> Body:
    page = _ram(ctx).list_users(
        _account(ctx),
        marker=ctx.params.get("Marker"),
        max_items=ctx.params.integer("MaxItems"),
    )
    return _listing(
        "Users", "User", [_pick(USER_FIELDS, u, _USER_LISTED) for u in page.items], page
    )


# ---- access keys --------------------------------------------------------------------------


def create_access_key(ctx: RpcContext) -> Body:
    issued = _ram(ctx).create_access_key(
        _account(ctx), ctx.params.get("UserName"), caller_user_name=_caller_user(ctx)
    )
    return {"AccessKey": _issued(issued)}


def list_access_keys(ctx: RpcContext) -> Body:
    keys = _ram(ctx).list_access_keys(
        _account(ctx), ctx.params.get("UserName"), caller_user_name=_caller_user(ctx)
    )
    return _listing("AccessKeys", "AccessKey", [_key(k) for k in keys])


def update_access_key(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).update_access_key(
        _account(ctx),
        p.require("UserAccessKeyId"),
        p.require("Status"),
        p.get("UserName"),
        caller_user_name=_caller_user(ctx),
    )
    return {}


def delete_access_key(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).delete_access_key(
        _account(ctx),
        p.require("UserAccessKeyId"),
        p.get("UserName"),
        caller_user_name=_caller_user(ctx),
    )
    return {}


def get_access_key_last_used(ctx: RpcContext) -> Body:
    p = ctx.params
    key = _ram(ctx).get_access_key_last_used(
        _account(ctx),
        p.require("UserAccessKeyId"),
        p.get("UserName"),
        caller_user_name=_caller_user(ctx),
    )
    used = {} if key.last_used_at is None else {"LastUsedDate": key.last_used_at}
    return {"AccessKeyLastUsed": used}


# ---- groups -------------------------------------------------------------------------------


def create_group(ctx: RpcContext) -> Body:
    group = _ram(ctx).create_group(
        _account(ctx), ctx.params.require("GroupName"), comments=ctx.params.get("Comments")
    )
    return {"Group": _pick(GROUP_FIELDS, group, _GROUP_CREATED)}


def get_group(ctx: RpcContext) -> Body:
    group = _ram(ctx).get_group(_account(ctx), ctx.params.require("GroupName"))
    return {"Group": _pick(GROUP_FIELDS, group, _GROUP_FULL)}


def update_group(ctx: RpcContext) -> Body:
    p = ctx.params
    group = _ram(ctx).update_group(
        _account(ctx),
        p.require("GroupName"),
        new_group_name=p.get("NewGroupName"),
        new_comments=p.get("NewComments"),
    )
    return {"Group": _pick(GROUP_FIELDS, group, _GROUP_FULL)}


def delete_group(ctx: RpcContext) -> Body:
    _ram(ctx).delete_group(_account(ctx), ctx.params.require("GroupName"))
    return {}


def list_groups(ctx: RpcContext) -> Body:
    page = _ram(ctx).list_groups(
        _account(ctx),
        marker=ctx.params.get("Marker"),
        max_items=ctx.params.integer("MaxItems"),
    )
    groups = [_pick(GROUP_FIELDS, g, _GROUP_FULL) for g in page.items]
    return _listing("Groups", "Group", groups, page)


def add_user_to_group(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).add_user_to_group(_account(ctx), p.require("GroupName"), p.require("UserName"))
    return {}


def remove_user_from_group(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).remove_user_from_group(_account(ctx), p.require("GroupName"), p.require("UserName"))
    return {}


def list_groups_for_user(ctx: RpcContext) -> Body:
    found = _ram(ctx).list_groups_for_user(_account(ctx), ctx.params.require("UserName"))
    groups = [
        {
            **_pick(GROUP_FIELDS, m.group, ("GroupId", "GroupName", "Comments")),
            "JoinDate": m.join_date,
        }
        for m in found
    ]
    return _listing("Groups", "Group", groups)


def list_users_for_group(ctx: RpcContext) -> Body:
    p = ctx.params
    page = _ram(ctx).list_users_for_group(
        _account(ctx),
        p.require("GroupName"),
        marker=p.get("Marker"),
        max_items=p.integer("MaxItems"),
    )
    users = [
        {**_pick(USER_FIELDS, m.user, ("UserName", "DisplayName")), "JoinDate": m.join_date}
        for m in page.items
    ]
    return _listing("Users", "User", users, page)


# ---- roles --------------------------------------------------------------------------------


def create_role(ctx: RpcContext) -> Body:
    p = ctx.params
    role = _ram(ctx).create_role(
        _account(ctx),
        p.require("RoleName"),
        p.require("AssumeRolePolicyDocument"),
        description=p.get("Description"),
        max_session_duration=p.integer("MaxSessionDuration"),
        allow_console_login=p.boolean("AllowConsoleLogin"),
        tags=_tags(ctx),
    )
    return {"Role": _pick(ROLE_FIELDS, role, _ROLE_CREATED)}


def get_role(ctx: RpcContext) -> Body:
    role = _ram(ctx).get_role(_account(ctx), ctx.params.require("RoleName"))
    return {"Role": _pick(ROLE_FIELDS, role, _ROLE_FULL)}


def update_role(ctx: RpcContext) -> Body:
    p = ctx.params
    console = p.boolean("NewAllowConsoleLogin") if p.get("NewAllowConsoleLogin") else None
    role = _ram(ctx).update_role(
        _account(ctx),
        p.require("RoleName"),
        new_assume_role_policy_document=p.get("NewAssumeRolePolicyDocument"),
        new_max_session_duration=p.integer("NewMaxSessionDuration"),
        new_description=p.get("NewDescription"),
        new_allow_console_login=console,
    )
    return {"Role": _pick(ROLE_FIELDS, role, _ROLE_UPDATED)}


def delete_role(ctx: RpcContext) -> Body:
    _ram(ctx).delete_role(_account(ctx), ctx.params.require("RoleName"))
    return {}


def list_roles(ctx: RpcContext) -> Body:
    p = ctx.params
    page = _ram(ctx).list_roles(
        _account(ctx), marker=p.get("Marker"), max_items=p.integer("MaxItems"), tags=_tags(ctx)
    )
    roles = [_pick(ROLE_FIELDS, r, _ROLE_LISTED) for r in page.items]
    return _listing("Roles", "Role", roles, page)


# ---- policies -----------------------------------------------------------------------------


def create_policy(ctx: RpcContext) -> Body:
    p = ctx.params
    policy = _ram(ctx).create_policy(
        _account(ctx),
        p.require("PolicyName"),
        p.require("PolicyDocument"),
        description=p.get("Description"),
        tags=_tags(ctx),
    )
    return {"Policy": _pick(POLICY_FIELDS, policy, _POLICY_CREATED)}


def get_policy(ctx: RpcContext) -> Body:
    p = ctx.params
    policy, default = _ram(ctx).get_policy(
        _account(ctx), p.require("PolicyName"), p.require("PolicyType")
    )
    return {
        "Policy": _pick(POLICY_FIELDS, policy, _POLICY_FULL),
        "DefaultPolicyVersion": _version(default),
    }


def list_policies(ctx: RpcContext) -> Body:
    p = ctx.params
    page = _ram(ctx).list_policies(
        _account(ctx),
        policy_type=p.get("PolicyType"),
        marker=p.get("Marker"),
        max_items=p.integer("MaxItems"),
        tags=_tags(ctx),
    )
    policies = [_pick(POLICY_FIELDS, x, _POLICY_LISTED) for x in page.items]
    return _listing("Policies", "Policy", policies, page)


def update_policy_description(ctx: RpcContext) -> Body:
    p = ctx.params
    policy = _ram(ctx).update_policy_description(
        _account(ctx), p.require("PolicyName"), p.get("NewDescription")
    )
    return {"Policy": _pick(POLICY_FIELDS, policy, _POLICY_UPDATED)}


def delete_policy(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).delete_policy(
        _account(ctx), p.require("PolicyName"), cascading_delete=p.boolean("CascadingDelete")
    )
    return {}


def create_policy_version(ctx: RpcContext) -> Body:
    p = ctx.params
    version = _ram(ctx).create_policy_version(
        _account(ctx),
        p.require("PolicyName"),
        p.require("PolicyDocument"),
        set_as_default=p.boolean("SetAsDefault"),
        rotate_strategy=p.get("RotateStrategy"),
    )
    return {"PolicyVersion": _version(version)}


def get_policy_version(ctx: RpcContext) -> Body:
    p = ctx.params
    version = _ram(ctx).get_policy_version(
        _account(ctx), p.require("PolicyName"), p.require("PolicyType"), p.require("VersionId")
    )
    return {"PolicyVersion": _version(version)}


def list_policy_versions(ctx: RpcContext) -> Body:
    p = ctx.params
    versions = _ram(ctx).list_policy_versions(
        _account(ctx), p.require("PolicyName"), p.require("PolicyType")
    )
    return _listing("PolicyVersions", "PolicyVersion", [_version(v) for v in versions])


def set_default_policy_version(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).set_default_policy_version(
        _account(ctx), p.require("PolicyName"), p.require("VersionId")
    )
    return {}


def delete_policy_version(ctx: RpcContext) -> Body:
    p = ctx.params
    _ram(ctx).delete_policy_version(_account(ctx), p.require("PolicyName"), p.require("VersionId"))
    return {}


def list_entities_for_policy(ctx: RpcContext) -> Body:
    p = ctx.params
    found = _ram(ctx).list_entities_for_policy(
        _account(ctx), p.require("PolicyName"), p.require("PolicyType")
    )
    users = [
        {
            **_pick(USER_FIELDS, a.user, ("UserId", "UserName", "DisplayName")),
            "AttachDate": a.attach_date,
        }
        for a in found.users
    ]
    groups = [
        {**_pick(GROUP_FIELDS, a.group, ("GroupName", "Comments")), "AttachDate": a.attach_date}
        for a in found.groups
    ]
    roles = [
        {
            **_pick(ROLE_FIELDS, a.role, ("RoleId", "RoleName", "Arn", "Description")),
            "AttachDate": a.attach_date,
        }
        for a in found.roles
    ]
    return {"Users": {"User": users}, "Groups": {"Group": groups}, "Roles": {"Role": roles}}


# ---- attachments: one handler factory per verb, one row per principal kind ----------------


def _attach(kind: PrincipalKind) -> Handler:
    def handler(ctx: RpcContext) -> Body:
        p = ctx.params
        _ram(ctx).attach_policy(
            _account(ctx),
            kind,
            p.require(_PRINCIPAL_PARAMS[kind]),
            policy_name=p.require("PolicyName"),
            policy_type=p.require("PolicyType"),
        )
        return {}

    return handler


def _detach(kind: PrincipalKind) -> Handler:
    def handler(ctx: RpcContext) -> Body:
        p = ctx.params
        _ram(ctx).detach_policy(
            _account(ctx),
            kind,
            p.require(_PRINCIPAL_PARAMS[kind]),
            policy_name=p.require("PolicyName"),
            policy_type=p.require("PolicyType"),
        )
        return {}

    return handler


def _policies_for(kind: PrincipalKind) -> Handler:
    def handler(ctx: RpcContext) -> Body:
        found = _ram(ctx).list_policies_for(
            _account(ctx), kind, ctx.params.require(_PRINCIPAL_PARAMS[kind])
        )
        return _listing("Policies", "Policy", [_attached_policy(a) for a in found])

    return handler


# ---- the table ----------------------------------------------------------------------------

ACTIONS: tuple[tuple[str, Handler, ResourceOf], ...] = (
    ("CreateUser", create_user, _USER),
    ("GetUser", get_user, _USER),
    ("UpdateUser", update_user, _USER),
    ("DeleteUser", delete_user, _USER),
    ("ListUsers", list_users, _everything),
    ("CreateAccessKey", create_access_key, _key_owner),
    ("ListAccessKeys", list_access_keys, _key_owner),
    ("UpdateAccessKey", update_access_key, _key_owner),
    ("DeleteAccessKey", delete_access_key, _key_owner),
    ("GetAccessKeyLastUsed", get_access_key_last_used, _key_owner),
    ("CreateGroup", create_group, _GROUP),
    ("GetGroup", get_group, _GROUP),
    ("UpdateGroup", update_group, _GROUP),
    ("DeleteGroup", delete_group, _GROUP),
    ("ListGroups", list_groups, _everything),
    ("AddUserToGroup", add_user_to_group, _GROUP),
    ("RemoveUserFromGroup", remove_user_from_group, _GROUP),
    ("ListGroupsForUser", list_groups_for_user, _USER),
    ("ListUsersForGroup", list_users_for_group, _GROUP),
    ("CreateRole", create_role, _ROLE),
    ("GetRole", get_role, _ROLE),
    ("UpdateRole", update_role, _ROLE),
    ("DeleteRole", delete_role, _ROLE),
    ("ListRoles", list_roles, _everything),
    ("CreatePolicy", create_policy, _policy),
    ("GetPolicy", get_policy, _policy),
    ("ListPolicies", list_policies, _everything),
    ("UpdatePolicyDescription", update_policy_description, _policy),
    ("DeletePolicy", delete_policy, _policy),
    ("CreatePolicyVersion", create_policy_version, _policy),
    ("GetPolicyVersion", get_policy_version, _policy),
    ("ListPolicyVersions", list_policy_versions, _policy),
    ("SetDefaultPolicyVersion", set_default_policy_version, _policy),
    ("DeletePolicyVersion", delete_policy_version, _policy),
    ("ListEntitiesForPolicy", list_entities_for_policy, _policy),
    *(
        (f"{verb}{kind}", factory(kind), _PRINCIPAL_RESOURCES[kind])
        for kind in PrincipalKind
        for verb, factory in (
            ("AttachPolicyTo", _attach),
            ("DetachPolicyFrom", _detach),
            ("ListPoliciesFor", _policies_for),
        )
    ),
)


def register(table: ActionTable) -> None:
    """Add every RAM action to ``table`` (version ``2015-05-01``, ``ram:<Action>``)."""
    for name, handler, resource in ACTIONS:
        table.register(
            Action(
                name=name,
                version=RAM_VERSION,
                handler=handler,
                policy_action=f"ram:{name}",
                resource=resource,
            )
        )
