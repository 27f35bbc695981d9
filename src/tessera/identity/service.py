"""RAM business rules: users, AccessKeys, groups, roles, policies and their attachments.

Owns: every constraint of the RAM 2015-05-01 API (spec §3) — name lengths and character sets,
text limits, e-mail and phone formats, MaxSessionDuration bounds, policy document size and
grammar (through the injected ``validate_policy``), version rotation, the quotas of §3.10
(``RamLimits``) — plus id generation, timestamps, encryption of new secrets and the account
bootstrap. Each method takes the caller's account id and typed arguments and returns store
records; failures are ``tessera.errors`` exceptions.
Must not: know about HTTP, wire codes or parameter encoding (``rpc.ram_handlers`` does), keep
or log a plaintext secret (``create_access_key`` hands it back exactly once), or authorize
(the RPC layer does before calling here).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Concatenate, ParamSpec, TypeVar

from tessera import ids as idgen
from tessera.clock import Clock, iso8601
from tessera.errors import AlreadyExists, InvalidArgument, MissingArgument, NotFound
from tessera.identity.system_policies import install_system_policies
from tessera.ids import IdSource
from tessera.store.base import (
    AccessKey,
    AccessKeyStatus,
    Account,
    Group,
    GroupMember,
    GroupMembership,
    IdentityStore,
    Page,
    Policy,
    PolicyAttachment,
    PolicyEntities,
    PolicyType,
    PolicyVersion,
    PrincipalKind,
    Role,
    Tag,
    User,
)

logger = logging.getLogger(__name__)

EncryptSecret = Callable[[str, str], str]  # (plaintext secret, aad=AccessKeyId) -> ciphertext
ValidatePolicy = Callable[[str, str], None]  # (document, "identity"|"trust"); MalformedPolicy

ROTATE_OLDEST = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
DEFAULT_MAX_ITEMS = 100
MIN_SESSION_DURATION, DEFAULT_SESSION_DURATION, MAX_SESSION_DURATION = 3600, 3600, 43200


@dataclass(frozen=True, slots=True)
class RamLimits:
    """Quotas (spec §3.10, §3.3, §3.5). Exceeding one raises ``LimitExceeded(kind)``."""

    users: int = 1000
    groups: int = 50
    roles: int = 1000
    custom_policies: int = 1500
    access_keys_per_user: int = 2
    groups_per_user: int = 5
    custom_policies_per_user: int = 10
    custom_policies_per_group: int = 5
    custom_policies_per_role: int = 5
    system_policies_per_principal: int = 20
    versions_per_policy: int = 5
    tags_per_resource: int = 20

    def attached(self, kind: PrincipalKind, policy_type: PolicyType) -> int:
        if policy_type is PolicyType.SYSTEM:
            return self.system_policies_per_principal
        return {
            PrincipalKind.USER: self.custom_policies_per_user,
            PrincipalKind.GROUP: self.custom_policies_per_group,
            PrincipalKind.ROLE: self.custom_policies_per_role,
        }[kind]


@dataclass(frozen=True, slots=True)
class IssuedAccessKey:
    """A new AccessKey and its plaintext secret — the only time the secret is available."""

    key: AccessKey
    secret: str = field(repr=False)


# ---- parameter rules (spec §3.2-§3.7) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    max_len: int
    pattern: re.Pattern[str] | None = None
    pattern_reason: str = "InvalidChars"


_USER_OR_GROUP = _Rule(64, re.compile(r"[A-Za-z0-9._-]+"))
_ROLE = _Rule(64, re.compile(r"[A-Za-z0-9.-]+"))
_POLICY = _Rule(128, re.compile(r"[A-Za-z0-9-]+"))
_DOCUMENT = _Rule(6144)
_RULES: dict[str, _Rule] = {
    "UserName": _USER_OR_GROUP,
    "NewUserName": _USER_OR_GROUP,
    "GroupName": _USER_OR_GROUP,
    "NewGroupName": _USER_OR_GROUP,
    "RoleName": _ROLE,
    "PolicyName": _POLICY,
    "DisplayName": _Rule(128),
    "NewDisplayName": _Rule(128),
    "Comments": _Rule(128),
    "NewComments": _Rule(128),
    "Description": _Rule(1024),
    "NewDescription": _Rule(1024),
    "Email": _Rule(128, re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+"), "Format"),
    "NewEmail": _Rule(128, re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+"), "Format"),
    "MobilePhone": _Rule(32, re.compile(r"[0-9]{1,6}-[0-9]{4,20}"), "Format"),
    "NewMobilePhone": _Rule(32, re.compile(r"[0-9]{1,6}-[0-9]{4,20}"), "Format"),
    "PolicyDocument": _DOCUMENT,
    "AssumeRolePolicyDocument": _DOCUMENT,
    "NewAssumeRolePolicyDocument": _DOCUMENT,
    "UserAccessKeyId": _Rule(128, re.compile(r"[A-Za-z0-9._-]+")),
    "VersionId": _Rule(16, re.compile(r"v[1-9][0-9]*"), "Format"),
    "AccountId": _Rule(16, re.compile(r"[0-9]{16}"), "Format"),
    "AccessKeyId": _Rule(128, re.compile(r"(?!STS\.)[A-Za-z0-9._-]{3,}"), "Format"),
    "AccessKeySecret": _Rule(128, re.compile(r"[!-~]+"), "Format"),
    "Tag.Key": _Rule(128, re.compile(r"(?!(?i:aliyun|acs:)).+"), "Format"),
    "Tag.Value": _Rule(128),
}
_MESSAGES = {
    "Length": 'The parameter - "{param}" beyond the length limit.',
    "InvalidChars": 'The parameter - "{param}" contains invalid chars.',
    "Format": 'The format of the parameter - "{param}" is incorrect.',
}
_PRINCIPAL_PARAMS = {
    PrincipalKind.USER: "UserName",
    PrincipalKind.GROUP: "GroupName",
    PrincipalKind.ROLE: "RoleName",
}


def _invalid(param: str, reason: str) -> InvalidArgument:
    return InvalidArgument(param, reason, _MESSAGES[reason].format(param=param))


def check(param: str, value: str) -> str:
    """``value`` if it satisfies the rule for ``param``, else ``InvalidArgument``."""
    rule = _RULES[param]
    if len(value) > rule.max_len or (not value and param != "Tag.Value"):
        raise _invalid(param, "Length")
    if rule.pattern is not None and not rule.pattern.fullmatch(value):
        raise _invalid(param, rule.pattern_reason)
    return value


def _optional(param: str, value: str | None) -> str | None:
    return None if value is None else check(param, value)


def _required(param: str, value: str | None) -> str:
    if not value:
        raise MissingArgument(param)
    return check(param, value)


def parse_policy_type(value: str | None, *, required: bool = True) -> PolicyType | None:
    """``System``/``Custom``, case-insensitively; anything else is ``InvalidArgument``."""
    if value is None or value == "":
        if required:
            raise MissingArgument("PolicyType")
        return None
    for policy_type in PolicyType:
        if value.lower() == policy_type.value.lower():
            return policy_type
    raise InvalidArgument("PolicyType", None, "The parameter PolicyType must be System or Custom.")


def _policy_type(value: str) -> PolicyType:
    parsed = parse_policy_type(value)
    assert parsed is not None
    return parsed


def _access_key_status(value: str) -> AccessKeyStatus:
    for status in AccessKeyStatus:
        if value.lower() == status.value.lower():
            return status
    raise InvalidArgument("Status", "Format", "The parameter Status must be Active or Inactive.")


def _rotate(strategy: str | None) -> bool:
    if strategy is None or strategy.lower() == "none":
        return False
    if strategy.lower() == ROTATE_OLDEST.lower():
        return True
    raise InvalidArgument(
        "RotateStrategy", None, f"The parameter RotateStrategy must be None or {ROTATE_OLDEST}."
    )


def _max_items(value: int | None, maximum: int) -> int:
    if value is None:
        return min(DEFAULT_MAX_ITEMS, maximum)
    if not 1 <= value <= maximum:
        raise InvalidArgument(
            "MaxItems", "Range", f'The parameter - "MaxItems" is out of range [1, {maximum}].'
        )
    return value


def _session_duration(value: int | None) -> int | None:
    if value is not None and not MIN_SESSION_DURATION <= value <= MAX_SESSION_DURATION:
        raise InvalidArgument(
            "MaxSessionDuration",
            "Range",
            f"The parameter MaxSessionDuration must be between {MIN_SESSION_DURATION}"
            f" and {MAX_SESSION_DURATION}.",
        )
    return value


def _tags(tags: Sequence[Tag], limit: int) -> tuple[Tag, ...]:
    if len(tags) > limit:
        raise InvalidArgument("Tag", "Length", f"At most {limit} tags are allowed.")
    if len({tag.key for tag in tags}) != len(tags):
        raise InvalidArgument("Tag", "Format", "Tag keys must be unique.")
    for tag in tags:
        check("Tag.Key", tag.key)
        check("Tag.Value", tag.value)
    return tuple(tags)


def role_arn(account_id: str, role_name: str) -> str:
    return f"acs:ram::{account_id}:role/{role_name}"


# ---- the service --------------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def _mutation(
    method: Callable[Concatenate[RamService, P], R],
) -> Callable[Concatenate[RamService, P], R]:
    """Tell the change listener (policy caches) after a successful write."""

    @functools.wraps(method)
    def run(self: RamService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result = method(self, *args, **kwargs)
        self._changed()
        return result

    return run


class RamService:
    """RAM for one deployment; every method acts within the caller's ``account_id``."""

    def __init__(
        self,
        store: IdentityStore,
        clock: Clock,
        ids: IdSource,
        encrypt_secret: EncryptSecret,
        validate_policy: ValidatePolicy,
        *,
        limits: RamLimits | None = None,
        change_listener: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._encrypt = encrypt_secret
        self._validate_policy = validate_policy
        self.limits = limits or RamLimits()
        self._listener = change_listener
        install_system_policies(store)

    def _now(self) -> str:
        return iso8601(self._clock.now())

    def _changed(self) -> None:
        if self._listener is None:
            return
        try:
            self._listener()
        except Exception:  # the write is committed; a cache hook must not turn it into an error
            logger.exception("RAM change listener failed")

    # ---- accounts (admin command and first start) -----------------------------------------

    @_mutation
    def create_account(
        self,
        account_id: str | None = None,
        root_access_key_id: str | None = None,
        root_secret: str | None = None,
    ) -> tuple[Account, AccessKey, str | None]:
        """Create an account with a root AccessKey; generated values where none are given.

        Idempotent: when ``root_access_key_id`` already is a root key (of ``account_id``, or of
        any account when no id is given) the existing records are returned and the secret is
        ``None``: a secret is only ever returned by the call that stored it, and a given secret
        is not compared with the stored one. A given key may be added to an existing account.
        """
        wanted = _optional("AccountId", account_id or None)
        root_access_key_id = _optional("AccessKeyId", root_access_key_id or None)
        root_secret = _optional("AccessKeySecret", root_secret or None)
        existing = self._existing_root(wanted, root_access_key_id)
        if existing is not None:
            return (*existing, None)
        new_id = wanted or idgen.account_id(self._ids)
        try:
            return self._new_account_key(new_id, root_access_key_id, root_secret)
        except AlreadyExists:  # another node bootstrapped the same account at the same time
            existing = self._existing_root(wanted, root_access_key_id)
            if existing is None:
                raise
            return (*existing, None)

    def _existing_root(
        self, account_id: str | None, access_key_id: str | None
    ) -> tuple[Account, AccessKey] | None:
        """The account and root key when ``access_key_id`` is one already; ``AlreadyExists``
        when it is taken by a user or by another account."""
        key = None if access_key_id is None else self._store.get_access_key(access_key_id)
        if key is None:
            return None
        account = self._store.get_account(key.account_id)
        if not key.is_root or account_id not in (None, key.account_id) or account is None:
            raise AlreadyExists("AccessKey", key.access_key_id)
        return account, key

    def _new_account_key(
        self, account_id: str, access_key_id: str | None, secret: str | None
    ) -> tuple[Account, AccessKey, str]:
        now = self._now()
        key, secret = self._new_key(account_id, None, None, access_key_id, secret)
        account = self._store.get_account(account_id)
        if account is None:
            account = Account(account_id, now)
            self._store.create_account(account, key)
        elif access_key_id is None:
            raise AlreadyExists("Account", account_id)
        else:
            self._store.add_root_access_key(key)
        return account, key, secret

    def get_account(self, account_id: str) -> Account:
        account = self._store.get_account(account_id)
        if account is None:
            raise NotFound("Account", account_id)
        return account

    def list_accounts(self) -> list[Account]:
        return self._store.list_accounts()

    # ---- users ----------------------------------------------------------------------------

    @_mutation
    def create_user(
        self,
        account_id: str,
        user_name: str,
        *,
        display_name: str | None = None,
        mobile_phone: str | None = None,
        email: str | None = None,
        comments: str | None = None,
    ) -> User:
        now = self._now()
        user = User(
            account_id=account_id,
            user_id=idgen.numeric_id(self._ids),
            user_name=_required("UserName", user_name),
            created_at=now,
            updated_at=now,
            display_name=_optional("DisplayName", display_name),
            mobile_phone=_optional("MobilePhone", mobile_phone),
            email=_optional("Email", email),
            comments=_optional("Comments", comments),
        )
        self._store.create_user(user, max_users=self.limits.users)
        return user

    def get_user(self, account_id: str, user_name: str) -> User:
        user = self._store.get_user(account_id, _required("UserName", user_name))
        if user is None:
            raise NotFound("User", user_name)
        return user

    @_mutation
    def update_user(
        self,
        account_id: str,
        user_name: str,
        *,
        new_user_name: str | None = None,
        new_display_name: str | None = None,
        new_mobile_phone: str | None = None,
        new_email: str | None = None,
        new_comments: str | None = None,
    ) -> User:
        changes = {
            "user_name": _optional("NewUserName", new_user_name),
            "display_name": _optional("NewDisplayName", new_display_name),
            "mobile_phone": _optional("NewMobilePhone", new_mobile_phone),
            "email": _optional("NewEmail", new_email),
            "comments": _optional("NewComments", new_comments),
        }
        user = self.get_user(account_id, user_name)
        updated = replace(user, **_given(changes), updated_at=self._now())
        self._store.update_user(account_id, user.user_name, updated)
        return updated

    @_mutation
    def delete_user(self, account_id: str, user_name: str) -> None:
        self._store.delete_user(account_id, _required("UserName", user_name))

    def list_users(
        self, account_id: str, *, marker: str | None = None, max_items: int | None = None
    ) -> Page[User]:
        limit = _max_items(max_items, 1000)
        return self._store.list_users(account_id, marker=marker, limit=limit)

    # ---- access keys ----------------------------------------------------------------------

    def _key_owner(self, user_name: str | None, caller_user_name: str | None) -> str:
        """The user named, else the calling RAM user; root and role sessions must name one."""
        name = user_name or caller_user_name
        if not name:
            raise MissingArgument("UserName")
        return check("UserName", name)

    def _new_key(
        self,
        account_id: str,
        user: User | None,
        status: AccessKeyStatus | None,
        access_key_id: str | None = None,
        secret: str | None = None,
    ) -> tuple[AccessKey, str]:
        access_key_id = access_key_id or idgen.access_key_id(self._ids)
        secret = secret or idgen.access_key_secret(self._ids)
        key = AccessKey(
            account_id=account_id,
            access_key_id=access_key_id,
            user_id=None if user is None else user.user_id,
            user_name=None if user is None else user.user_name,
            status=status or AccessKeyStatus.ACTIVE,
            secret_ciphertext=self._encrypt(secret, access_key_id),
            created_at=self._now(),
        )
        return key, secret

    @_mutation
    def create_access_key(
        self,
        account_id: str,
        user_name: str | None = None,
        *,
        caller_user_name: str | None = None,
    ) -> IssuedAccessKey:
        """A new Active key for ``user_name`` (default: the calling RAM user)."""
        user = self.get_user(account_id, self._key_owner(user_name, caller_user_name))
        key, secret = self._new_key(account_id, user, AccessKeyStatus.ACTIVE)
        self._store.create_access_key(key, max_per_user=self.limits.access_keys_per_user)
        return IssuedAccessKey(key, secret)

    def list_access_keys(
        self,
        account_id: str,
        user_name: str | None = None,
        *,
        caller_user_name: str | None = None,
    ) -> list[AccessKey]:
        owner = self._key_owner(user_name, caller_user_name)
        return self._store.list_access_keys(account_id, owner)

    @_mutation
    def update_access_key(
        self,
        account_id: str,
        access_key_id: str,
        status: str,
        user_name: str | None = None,
        *,
        caller_user_name: str | None = None,
    ) -> None:
        owner = self._key_owner(user_name, caller_user_name)
        parsed = _access_key_status(status)
        key_id = _required("UserAccessKeyId", access_key_id)
        self._store.set_access_key_status(account_id, owner, key_id, parsed)

    @_mutation
    def delete_access_key(
        self,
        account_id: str,
        access_key_id: str,
        user_name: str | None = None,
        *,
        caller_user_name: str | None = None,
    ) -> None:
        owner = self._key_owner(user_name, caller_user_name)
        key_id = _required("UserAccessKeyId", access_key_id)
        self._store.delete_access_key(account_id, owner, key_id)

    def get_access_key_last_used(
        self,
        account_id: str,
        access_key_id: str,
        user_name: str | None = None,
        *,
        caller_user_name: str | None = None,
    ) -> AccessKey:
        """The key (its ``last_used_at`` is the answer); ``NotFound`` unless the user owns it."""
        owner = self._key_owner(user_name, caller_user_name)
        key_id = _required("UserAccessKeyId", access_key_id)
        for key in self._store.list_access_keys(account_id, owner):
            if key.access_key_id == key_id:
                return key
        raise NotFound("User.AccessKey", key_id)

    # ---- groups ---------------------------------------------------------------------------

    @_mutation
    def create_group(
        self, account_id: str, group_name: str, *, comments: str | None = None
    ) -> Group:
        now = self._now()
        group = Group(
            account_id=account_id,
            group_id=idgen.group_id(self._ids),
            group_name=_required("GroupName", group_name),
            created_at=now,
            updated_at=now,
            comments=_optional("Comments", comments),
        )
        self._store.create_group(group, max_groups=self.limits.groups)
        return group

    def get_group(self, account_id: str, group_name: str) -> Group:
        group = self._store.get_group(account_id, _required("GroupName", group_name))
        if group is None:
            raise NotFound("Group", group_name)
        return group

    @_mutation
    def update_group(
        self,
        account_id: str,
        group_name: str,
        *,
        new_group_name: str | None = None,
        new_comments: str | None = None,
    ) -> Group:
        changes = {
            "group_name": _optional("NewGroupName", new_group_name),
            "comments": _optional("NewComments", new_comments),
        }
        group = self.get_group(account_id, group_name)
        updated = replace(group, **_given(changes), updated_at=self._now())
        self._store.update_group(account_id, group.group_name, updated)
        return updated

    @_mutation
    def delete_group(self, account_id: str, group_name: str) -> None:
        self._store.delete_group(account_id, _required("GroupName", group_name))

    def list_groups(
        self, account_id: str, *, marker: str | None = None, max_items: int | None = None
    ) -> Page[Group]:
        limit = _max_items(max_items, 100)
        return self._store.list_groups(account_id, marker=marker, limit=limit)

    @_mutation
    def add_user_to_group(self, account_id: str, group_name: str, user_name: str) -> None:
        self._store.add_user_to_group(
            account_id,
            _required("GroupName", group_name),
            _required("UserName", user_name),
            join_date=self._now(),
            max_groups_per_user=self.limits.groups_per_user,
        )

    @_mutation
    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None:
        self._store.remove_user_from_group(
            account_id, _required("GroupName", group_name), _required("UserName", user_name)
        )

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[GroupMembership]:
        return self._store.list_groups_for_user(account_id, _required("UserName", user_name))

    def list_users_for_group(
        self,
        account_id: str,
        group_name: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[GroupMember]:
        limit = _max_items(max_items, 1000)
        name = _required("GroupName", group_name)
        return self._store.list_users_for_group(account_id, name, marker=marker, limit=limit)

    # ---- roles ----------------------------------------------------------------------------

    def _trust_policy(self, param: str, document: str | None) -> str:
        text = _required(param, document)
        self._validate_policy(text, "trust")
        return text

    @_mutation
    def create_role(
        self,
        account_id: str,
        role_name: str,
        assume_role_policy_document: str,
        *,
        description: str | None = None,
        max_session_duration: int | None = None,
        allow_console_login: bool = False,
        tags: Sequence[Tag] = (),
    ) -> Role:
        name = _required("RoleName", role_name)
        now = self._now()
        role = Role(
            account_id=account_id,
            role_id=idgen.numeric_id(self._ids),
            role_name=name,
            arn=role_arn(account_id, name),
            trust_policy=self._trust_policy(
                "AssumeRolePolicyDocument", assume_role_policy_document
            ),
            max_session_duration=_session_duration(max_session_duration)
            or DEFAULT_SESSION_DURATION,
            created_at=now,
            updated_at=now,
            description=_optional("Description", description),
            allow_console_login=allow_console_login,
            tags=_tags(tags, self.limits.tags_per_resource),
        )
        self._store.create_role(role, max_roles=self.limits.roles)
        return role

    def get_role(self, account_id: str, role_name: str) -> Role:
        role = self._store.get_role(account_id, _required("RoleName", role_name))
        if role is None:
            raise NotFound("Role", role_name)
        return role

    @_mutation
    def update_role(
        self,
        account_id: str,
        role_name: str,
        *,
        new_assume_role_policy_document: str | None = None,
        new_max_session_duration: int | None = None,
        new_description: str | None = None,
        new_allow_console_login: bool | None = None,
    ) -> Role:
        trust = new_assume_role_policy_document
        changes = {
            "trust_policy": None
            if trust is None
            else self._trust_policy("NewAssumeRolePolicyDocument", trust),
            "max_session_duration": _session_duration(new_max_session_duration),
            "description": _optional("NewDescription", new_description),
            "allow_console_login": new_allow_console_login,
        }
        role = self.get_role(account_id, role_name)
        updated = replace(role, **_given(changes), updated_at=self._now())
        self._store.update_role(account_id, role.role_name, updated)
        return updated

    @_mutation
    def delete_role(self, account_id: str, role_name: str) -> None:
        self._store.delete_role(account_id, _required("RoleName", role_name))

    def list_roles(
        self,
        account_id: str,
        *,
        marker: str | None = None,
        max_items: int | None = None,
        tags: Sequence[Tag] = (),
    ) -> Page[Role]:
        limit = _max_items(max_items, 1000)
        return self._store.list_roles(account_id, marker=marker, limit=limit, tags=tags)

    # ---- policies and versions ------------------------------------------------------------

    def _identity_document(self, document: str | None) -> str:
        text = _required("PolicyDocument", document)
        self._validate_policy(text, "identity")
        return text

    @_mutation
    def create_policy(
        self,
        account_id: str,
        policy_name: str,
        policy_document: str,
        *,
        description: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> Policy:
        now = self._now()
        policy = Policy(
            account_id=account_id,
            name=_required("PolicyName", policy_name),
            policy_type=PolicyType.CUSTOM,
            default_version="v1",
            created_at=now,
            updated_at=now,
            description=_optional("Description", description),
            tags=_tags(tags, self.limits.tags_per_resource),
        )
        document = self._identity_document(policy_document)
        self._store.create_policy(policy, document, max_policies=self.limits.custom_policies)
        return policy

    def get_policy(
        self, account_id: str, policy_name: str, policy_type: str
    ) -> tuple[Policy, PolicyVersion]:
        """The policy and its default version."""
        name, kind = _required("PolicyName", policy_name), _policy_type(policy_type)
        policy = self._store.get_policy(account_id, name, kind)
        version = None
        if policy is not None:
            version = self._store.get_policy_version(account_id, name, kind, policy.default_version)
        if policy is None or version is None:
            raise NotFound("Policy", name)
        return policy, version

    def list_policies(
        self,
        account_id: str,
        *,
        policy_type: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
        tags: Sequence[Tag] = (),
    ) -> Page[Policy]:
        kind = parse_policy_type(policy_type, required=False)
        limit = _max_items(max_items, 1000)
        return self._store.list_policies(
            account_id, policy_type=kind, marker=marker, limit=limit, tags=tags
        )

    @_mutation
    def update_policy_description(
        self, account_id: str, policy_name: str, new_description: str | None
    ) -> Policy:
        name = _required("PolicyName", policy_name)
        description = _optional("NewDescription", new_description) or ""
        self._store.update_policy_description(account_id, name, description, updated_at=self._now())
        return self.get_policy(account_id, name, PolicyType.CUSTOM)[0]

    @_mutation
    def delete_policy(
        self, account_id: str, policy_name: str, *, cascading_delete: bool = False
    ) -> None:
        name = _required("PolicyName", policy_name)
        self._store.delete_policy(account_id, name, cascade=cascading_delete)

    @_mutation
    def create_policy_version(
        self,
        account_id: str,
        policy_name: str,
        policy_document: str,
        *,
        set_as_default: bool = False,
        rotate_strategy: str | None = None,
    ) -> PolicyVersion:
        name = _required("PolicyName", policy_name)
        rotate = _rotate(rotate_strategy)
        document = self._identity_document(policy_document)
        return self._store.create_policy_version(
            account_id,
            name,
            document,
            set_default=set_as_default,
            created_at=self._now(),
            max_versions=self.limits.versions_per_policy,
            rotate=rotate,
        )

    def get_policy_version(
        self, account_id: str, policy_name: str, policy_type: str, version_id: str
    ) -> PolicyVersion:
        policy, _ = self.get_policy(account_id, policy_name, policy_type)
        version_id = _required("VersionId", version_id)
        version = self._store.get_policy_version(
            account_id, policy.name, policy.policy_type, version_id
        )
        if version is None:
            raise NotFound("Policy.Version", version_id)
        return version

    def list_policy_versions(
        self, account_id: str, policy_name: str, policy_type: str
    ) -> list[PolicyVersion]:
        name, kind = _required("PolicyName", policy_name), _policy_type(policy_type)
        return self._store.list_policy_versions(account_id, name, kind)

    @_mutation
    def set_default_policy_version(
        self, account_id: str, policy_name: str, version_id: str
    ) -> None:
        name, version = _required("PolicyName", policy_name), _required("VersionId", version_id)
        self._store.set_default_policy_version(account_id, name, version, updated_at=self._now())

    @_mutation
    def delete_policy_version(self, account_id: str, policy_name: str, version_id: str) -> None:
        name, version = _required("PolicyName", policy_name), _required("VersionId", version_id)
        self._store.delete_policy_version(account_id, name, version)

    # ---- attachments ----------------------------------------------------------------------

    @_mutation
    def attach_policy(
        self,
        account_id: str,
        kind: PrincipalKind,
        principal_name: str,
        *,
        policy_name: str,
        policy_type: str,
    ) -> None:
        """Attach to a user, group or role (``AttachPolicyToUser|Group|Role``)."""
        principal = _required(_PRINCIPAL_PARAMS[kind], principal_name)
        name, ptype = _required("PolicyName", policy_name), _policy_type(policy_type)
        self._store.attach_policy(
            account_id,
            kind,
            principal,
            name,
            ptype,
            attach_date=self._now(),
            max_attached=self.limits.attached(kind, ptype),
        )

    @_mutation
    def detach_policy(
        self,
        account_id: str,
        kind: PrincipalKind,
        principal_name: str,
        *,
        policy_name: str,
        policy_type: str,
    ) -> None:
        """Detach from a user, group or role (``DetachPolicyFromUser|Group|Role``)."""
        principal = _required(_PRINCIPAL_PARAMS[kind], principal_name)
        name, ptype = _required("PolicyName", policy_name), _policy_type(policy_type)
        self._store.detach_policy(account_id, kind, principal, name, ptype)

    def list_policies_for(
        self, account_id: str, kind: PrincipalKind, principal_name: str
    ) -> list[PolicyAttachment]:
        """``ListPoliciesForUser|Group|Role``."""
        principal = _required(_PRINCIPAL_PARAMS[kind], principal_name)
        return self._store.list_policies_for(account_id, kind, principal)

    def list_entities_for_policy(
        self, account_id: str, policy_name: str, policy_type: str
    ) -> PolicyEntities:
        name, kind = _required("PolicyName", policy_name), _policy_type(policy_type)
        return self._store.list_entities_for_policy(account_id, name, kind)


def _given(changes: Mapping[str, object]) -> dict[str, Any]:
    """The changes actually requested (``None`` = leave as is)."""
    return {name: value for name, value in changes.items() if value is not None}
