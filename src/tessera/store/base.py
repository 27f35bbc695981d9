"""The identity store: one interface, several implementations (SQLite, memory, later PostgreSQL).

Owns: the frozen records of RAM state (accounts, users, AccessKeys, groups, roles, policies and
their versions, attachments, memberships, settings), the ``IdentityStore`` protocol every
implementation follows, and the opaque paging markers.

The store guarantees integrity the way a database with constraints does: names are unique per
account (role names case-insensitively), AccessKeyIds globally; a write that references a
missing entity raises ``NotFound(kind)``, a duplicate raises ``AlreadyExists(kind)``, deleting
an entity that still has dependents raises ``DeleteConflict(kind)``, and every check-then-write
(quotas passed in by the caller, version rotation, cascading deletes) is atomic, so concurrent
requests cannot exceed a limit. Getters return ``None`` for a missing entity; listing the
children of a missing parent raises ``NotFound``.

Must not: validate formats or lengths, choose limits, generate ids or read the clock — that is
``tessera.identity.service``. Timestamps are ISO-8601 UTC strings (``YYYY-MM-DDThh:mm:ssZ``),
handed in by the caller. Secrets are stored only as the caller's ciphertext.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from tessera.errors import InvalidArgument

T = TypeVar("T")


class PolicyType(StrEnum):
    SYSTEM = "System"
    CUSTOM = "Custom"


class PrincipalKind(StrEnum):
    """What a policy can be attached to; the value is the error-kind prefix (``User.Policy``)."""

    USER = "User"
    GROUP = "Group"
    ROLE = "Role"


class AccessKeyStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    created_at: str


@dataclass(frozen=True, slots=True)
class User:
    account_id: str
    user_id: str
    user_name: str
    created_at: str
    updated_at: str
    display_name: str | None = None
    mobile_phone: str | None = None
    email: str | None = None
    comments: str | None = None
    last_login_at: str | None = None


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A permanent AccessKey. ``user_id``/``user_name`` are ``None`` for the account's root key."""

    account_id: str
    access_key_id: str
    user_id: str | None
    user_name: str | None
    status: AccessKeyStatus
    secret_ciphertext: str = field(repr=False)
    created_at: str
    last_used_at: str | None = None

    @property
    def is_root(self) -> bool:
        return self.user_id is None


@dataclass(frozen=True, slots=True)
class Group:
    account_id: str
    group_id: str
    group_name: str
    created_at: str
    updated_at: str
    comments: str | None = None


@dataclass(frozen=True, slots=True)
class Role:
    """A RAM role; ``trust_policy`` is the AssumeRolePolicyDocument text as it was submitted."""

    account_id: str
    role_id: str
    role_name: str
    arn: str
    trust_policy: str
    max_session_duration: int
    created_at: str
    updated_at: str
    description: str | None = None
    allow_console_login: bool = False
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """A System (``account_id`` None, visible to all accounts) or Custom policy.

    ``attachment_count`` is computed on read: attachments within the account that asked.
    """

    account_id: str | None
    name: str
    policy_type: PolicyType
    default_version: str
    created_at: str
    updated_at: str
    description: str | None = None
    attachment_count: int = 0
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    account_id: str | None  # None: a version of a System policy
    policy_name: str
    policy_type: PolicyType
    version_id: str
    document: str
    is_default: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    """One effective identity policy of a user (own or via a group) or role: its default version."""

    name: str
    policy_type: PolicyType
    version_id: str
    document: str


@dataclass(frozen=True, slots=True)
class PolicyAttachment:
    """A policy attached to a principal (ListPoliciesForUser/Group/Role)."""

    policy: Policy
    attach_date: str


@dataclass(frozen=True, slots=True)
class AttachedUser:
    user: User
    attach_date: str


@dataclass(frozen=True, slots=True)
class AttachedGroup:
    group: Group
    attach_date: str


@dataclass(frozen=True, slots=True)
class AttachedRole:
    role: Role
    attach_date: str


@dataclass(frozen=True, slots=True)
class PolicyEntities:
    """Everything a policy is attached to within one account (ListEntitiesForPolicy)."""

    users: tuple[AttachedUser, ...]
    groups: tuple[AttachedGroup, ...]
    roles: tuple[AttachedRole, ...]


@dataclass(frozen=True, slots=True)
class GroupMembership:
    """A group the user belongs to (ListGroupsForUser)."""

    group: Group
    join_date: str


@dataclass(frozen=True, slots=True)
class GroupMember:
    """A user in a group (ListUsersForGroup)."""

    user: User
    join_date: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``marker`` (opaque) is set only when more items follow."""

    items: tuple[T, ...]
    marker: str | None = None

    @property
    def is_truncated(self) -> bool:
        return self.marker is not None


_MARKER_SEPARATOR = "\x1f"


def encode_marker(*key: str) -> str:
    """An opaque marker for the sort key of the last item returned."""
    raw = _MARKER_SEPARATOR.join(key).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_marker(marker: str | None, parts: int = 1) -> tuple[str, ...] | None:
    """The sort key inside ``marker`` (``None`` for the first page); bad markers are rejected."""
    if marker is None:
        return None
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument("Marker", "Format", "The parameter Marker is not valid.") from None
    key = tuple(text.split(_MARKER_SEPARATOR))
    if len(key) != parts:
        raise InvalidArgument("Marker", "Format", "The parameter Marker is not valid.")
    return key


def version_number(version_id: str) -> int | None:
    """``"v3"`` → 3; ``None`` for anything that is not a policy version id."""
    if len(version_id) < 2 or version_id[0] != "v" or not version_id[1:].isdigit():
        return None
    return int(version_id[1:])


def make_page(items: Sequence[T], limit: int, sort_key: Callable[[T], tuple[str, ...]]) -> Page[T]:
    """A page from up to ``limit + 1`` items fetched in sort order: the extra one means "more"."""
    if len(items) <= limit:
        return Page(tuple(items))
    kept = tuple(items[:limit])
    return Page(kept, encode_marker(*sort_key(kept[-1])))


class IdentityStore(Protocol):
    """RAM state. Every method is thread-safe; every write is one atomic transaction."""

    def close(self) -> None: ...

    # settings: a small key-value table (e.g. the STS token keyring)
    def get_setting(self, name: str) -> str | None: ...
    def put_setting(self, name: str, value: str) -> None: ...

    # accounts
    def create_account(self, account: Account, root_key: AccessKey) -> None:
        """Account and its root key together. ``AlreadyExists("Account"|"AccessKey")``."""
        ...

    def add_root_access_key(self, key: AccessKey) -> None:
        """Another root key for an existing account. ``NotFound("Account")``."""
        ...

    def get_account(self, account_id: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...

    # users
    def create_user(self, user: User, *, max_users: int) -> None:
        """``NotFound("Account")``, ``AlreadyExists("User")``, ``LimitExceeded("User")``."""
        ...

    def get_user(self, account_id: str, user_name: str) -> User | None: ...
    def get_user_by_id(self, account_id: str, user_id: str) -> User | None: ...

    def update_user(self, account_id: str, user_name: str, user: User) -> None:
        """Replace the user named ``user_name`` by ``user`` (same id; the name may change)."""
        ...

    def delete_user(self, account_id: str, user_name: str) -> None:
        """``DeleteConflict("User.AccessKey"|"User.Group"|"User.Policy")`` while it has any."""
        ...

    def list_users(self, account_id: str, *, marker: str | None, limit: int) -> Page[User]: ...

    # access keys
    def create_access_key(self, key: AccessKey, *, max_per_user: int) -> None:
        """A user's key. ``NotFound("User")``, ``LimitExceeded("User.AccessKey")``."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        """Global lookup by AccessKeyId (authentication); one indexed query."""
        ...

    def list_access_keys(self, account_id: str, user_name: str | None) -> list[AccessKey]:
        """A user's keys, or the root keys when ``user_name`` is None. ``NotFound("User")``."""
        ...

    def set_access_key_status(
        self, account_id: str, user_name: str | None, access_key_id: str, status: AccessKeyStatus
    ) -> None:
        """``NotFound("User")``, ``NotFound("User.AccessKey")`` (also when owned by another)."""
        ...

    def delete_access_key(
        self, account_id: str, user_name: str | None, access_key_id: str
    ) -> None: ...

    def touch_access_key(self, access_key_id: str, used_at: str) -> None:
        """Record a use of the key; unknown keys are ignored."""
        ...

    # groups and memberships
    def create_group(self, group: Group, *, max_groups: int) -> None: ...
    def get_group(self, account_id: str, group_name: str) -> Group | None: ...
    def update_group(self, account_id: str, group_name: str, group: Group) -> None: ...

    def delete_group(self, account_id: str, group_name: str) -> None:
        """``DeleteConflict("Group.User"|"Group.Policy")`` while it has any."""
        ...

    def list_groups(self, account_id: str, *, marker: str | None, limit: int) -> Page[Group]: ...

    def add_user_to_group(
        self,
        account_id: str,
        group_name: str,
        user_name: str,
        *,
        join_date: str,
        max_groups_per_user: int,
    ) -> None:
        """``AlreadyExists("User.Group")``, ``LimitExceeded("User.Group")``."""
        ...

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None:
        """``NotFound("User.Group")`` when the user is not a member."""
        ...

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[GroupMembership]: ...

    def list_users_for_group(
        self, account_id: str, group_name: str, *, marker: str | None, limit: int
    ) -> Page[GroupMember]: ...

    # roles (names case-insensitive)
    def create_role(self, role: Role, *, max_roles: int) -> None: ...
    def get_role(self, account_id: str, role_name: str) -> Role | None: ...
    def get_role_by_id(self, account_id: str, role_id: str) -> Role | None: ...
    def update_role(self, account_id: str, role_name: str, role: Role) -> None: ...

    def delete_role(self, account_id: str, role_name: str) -> None:
        """``DeleteConflict("Role.Policy")`` while policies are attached."""
        ...

    def list_roles(
        self, account_id: str, *, marker: str | None, limit: int, tags: Sequence[Tag] = ()
    ) -> Page[Role]:
        """Roles carrying every tag in ``tags`` (an empty tag value matches any value)."""
        ...

    # policies and versions; a Custom policy lives in one account, a System one in all
    def put_system_policy(self, policy: Policy, document: str) -> None:
        """Insert or refresh a System policy (description, default version ``v1`` document)."""
        ...

    def create_policy(self, policy: Policy, document: str, *, max_policies: int) -> None:
        """A Custom policy with version ``v1``; ``AlreadyExists("Policy")`` also for the name of a
        System policy."""
        ...

    def get_policy(self, account_id: str, name: str, policy_type: PolicyType) -> Policy | None: ...

    def list_policies(
        self,
        account_id: str,
        *,
        policy_type: PolicyType | None,
        marker: str | None,
        limit: int,
        tags: Sequence[Tag] = (),
    ) -> Page[Policy]:
        """Custom policies first, then System ones, each by name."""
        ...

    def update_policy_description(
        self, account_id: str, name: str, description: str, *, updated_at: str
    ) -> None: ...

    def delete_policy(self, account_id: str, name: str, *, cascade: bool) -> None:
        """``DeleteConflict("Policy.User"|"Policy.Group"|"Policy.Role")`` while attached, and
        ``DeleteConflict("Policy.Version")`` while non-default versions exist (unless
        ``cascade``, which deletes them)."""
        ...

    def create_policy_version(
        self,
        account_id: str,
        name: str,
        document: str,
        *,
        set_default: bool,
        created_at: str,
        max_versions: int,
        rotate: bool,
    ) -> PolicyVersion:
        """Version ``v<n+1>``. At ``max_versions``: with ``rotate`` the oldest non-default
        version is deleted, else ``LimitExceeded("Policy.Version")``."""
        ...

    def get_policy_version(
        self, account_id: str, name: str, policy_type: PolicyType, version_id: str
    ) -> PolicyVersion | None: ...

    def list_policy_versions(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> list[PolicyVersion]:
        """Oldest first. ``NotFound("Policy")``."""
        ...

    def set_default_policy_version(
        self, account_id: str, name: str, version_id: str, *, updated_at: str
    ) -> None:
        """``NotFound("Policy"|"Policy.Version")``."""
        ...

    def delete_policy_version(self, account_id: str, name: str, version_id: str) -> None:
        """``DeleteConflict("Policy.Version.Default")`` for the default version."""
        ...

    # attachments
    def attach_policy(
        self,
        account_id: str,
        kind: PrincipalKind,
        principal_name: str,
        policy_name: str,
        policy_type: PolicyType,
        *,
        attach_date: str,
        max_attached: int,
    ) -> None:
        """``NotFound(kind|"Policy")``, ``AlreadyExists("<kind>.Policy")``, and
        ``LimitExceeded("<kind>.Policy")`` when the principal already has ``max_attached``
        policies of that type."""
        ...

    def detach_policy(
        self,
        account_id: str,
        kind: PrincipalKind,
        principal_name: str,
        policy_name: str,
        policy_type: PolicyType,
    ) -> None:
        """``NotFound(kind|"Policy"|"<kind>.Policy")``."""
        ...

    def list_policies_for(
        self, account_id: str, kind: PrincipalKind, principal_name: str
    ) -> list[PolicyAttachment]: ...

    def list_entities_for_policy(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> PolicyEntities: ...

    def policies_for_user(self, account_id: str, user_name: str) -> list[AttachedPolicy]:
        """The user's own and its groups' policies (default versions), each once; ``[]`` for
        an unknown user."""
        ...

    def policies_for_role(self, account_id: str, role_name: str) -> list[AttachedPolicy]: ...
