"""The in-memory identity store: the same contract as SQLite, in dictionaries.

Owns: a complete ``IdentityStore`` for tests and throwaway servers. One re-entrant lock makes
every method atomic, which is how the quotas and multi-step changes stay consistent.
Must not: persist anything, or differ in behaviour from the other implementations — the
contract suite (``tests/contract``) runs against all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from tessera.errors import AlreadyExists, DeleteConflict, LimitExceeded, NotFound
from tessera.store.base import (
    AccessKey,
    AccessKeyStatus,
    Account,
    AttachedGroup,
    AttachedPolicy,
    AttachedRole,
    AttachedUser,
    Group,
    GroupMember,
    GroupMembership,
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
    decode_marker,
    make_page,
    version_number,
)

R = TypeVar("R", User, Group, Role)
PolicyKey = tuple[str | None, str]  # (account_id, name); account None = System


class _Named(Generic[R]):
    """Records of one kind, by id and by (account, name) — names folded for roles."""

    def __init__(
        self,
        kind: str,
        id_of: Callable[[R], str],
        name_of: Callable[[R], str],
        fold_case: bool = False,
    ) -> None:
        self.kind = kind
        self._id_of: Callable[[R], str] = id_of
        self._name_of: Callable[[R], str] = name_of
        self._fold = fold_case
        self._by_id: dict[str, R] = {}
        self._by_name: dict[tuple[str, str], str] = {}

    def sort_key(self, record: R) -> str:
        return self._key(self._name_of(record))

    def get(self, account_id: str, name: str) -> R | None:
        record_id = self._by_name.get((account_id, self._key(name)))
        return None if record_id is None else self._by_id[record_id]

    def require(self, account_id: str, name: str) -> R:
        record = self.get(account_id, name)
        if record is None:
            raise NotFound(self.kind, name)
        return record

    def by_id(self, record_id: str) -> R | None:
        return self._by_id.get(record_id)

    def add(self, account_id: str, record: R) -> None:
        self.refuse_taken(account_id, self._name_of(record))
        self._by_id[self._id_of(record)] = record
        self._by_name[(account_id, self.sort_key(record))] = self._id_of(record)

    def replace(self, account_id: str, old: R, new: R) -> None:
        if self.sort_key(old) != self.sort_key(new):
            self.refuse_taken(account_id, self._name_of(new))
            del self._by_name[(account_id, self.sort_key(old))]
        self._by_id[self._id_of(old)] = new
        self._by_name[(account_id, self.sort_key(new))] = self._id_of(old)

    def remove(self, account_id: str, record: R) -> None:
        del self._by_id[self._id_of(record)]
        del self._by_name[(account_id, self.sort_key(record))]

    def count(self, account_id: str) -> int:
        return sum(1 for acct, _ in self._by_name if acct == account_id)

    def after(self, account_id: str, after: str) -> list[R]:
        """The account's records whose sort key follows ``after``, in order."""
        keys = sorted(k for acct, k in self._by_name if acct == account_id and k > after)
        return [self._by_id[self._by_name[(account_id, k)]] for k in keys]

    def refuse_taken(self, account_id: str, name: str) -> None:
        if self.get(account_id, name) is not None:
            raise AlreadyExists(self.kind, name)

    def _key(self, name: str) -> str:
        return name.lower() if self._fold else name


@dataclass
class _StoredPolicy:
    policy: Policy
    versions: dict[int, tuple[str, str]] = field(default_factory=dict)  # no -> (doc, created)
    default_no: int = 1
    last_no: int = 1


@dataclass(frozen=True, slots=True)
class _Attachment:
    account_id: str
    attach_date: str


class MemoryIdentityStore:
    """``IdentityStore`` in process memory; thread-safe, nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._settings: dict[str, str] = {}
        self._accounts: dict[str, Account] = {}
        self._users = _Named[User]("User", lambda u: u.user_id, lambda u: u.user_name)
        self._groups = _Named[Group]("Group", lambda g: g.group_id, lambda g: g.group_name)
        self._roles = _Named[Role]("Role", lambda r: r.role_id, lambda r: r.role_name, True)
        self._keys: dict[str, AccessKey] = {}
        self._members: dict[tuple[str, str], str] = {}  # (group_id, user_id) -> join date
        self._policies: dict[PolicyKey, _StoredPolicy] = {}
        self._attachments: dict[tuple[PrincipalKind, str, PolicyKey], _Attachment] = {}

    def close(self) -> None:
        """Nothing to release."""

    # ---- settings -------------------------------------------------------------------------

    def get_setting(self, name: str) -> str | None:
        with self._lock:
            return self._settings.get(name)

    def put_setting(self, name: str, value: str) -> None:
        with self._lock:
            self._settings[name] = value

    # ---- accounts -------------------------------------------------------------------------

    def create_account(self, account: Account, root_key: AccessKey) -> None:
        with self._lock:
            if account.account_id in self._accounts:
                raise AlreadyExists("Account", account.account_id)
            self._refuse_key_taken(root_key.access_key_id)
            self._accounts[account.account_id] = account
            self._keys[root_key.access_key_id] = root_key

    def add_root_access_key(self, key: AccessKey) -> None:
        with self._lock:
            self._require_account(key.account_id)
            self._refuse_key_taken(key.access_key_id)
            self._keys[key.access_key_id] = key

    def get_account(self, account_id: str) -> Account | None:
        with self._lock:
            return self._accounts.get(account_id)

    def list_accounts(self) -> list[Account]:
        with self._lock:
            return [self._accounts[a] for a in sorted(self._accounts)]

    # ---- users ----------------------------------------------------------------------------

    def create_user(self, user: User, *, max_users: int) -> None:
        with self._lock:
            self._require_account(user.account_id)
            self._users.refuse_taken(user.account_id, user.user_name)
            _check_quota("User", self._users.count(user.account_id), max_users)
            self._users.add(user.account_id, user)

    def get_user(self, account_id: str, user_name: str) -> User | None:
        with self._lock:
            return self._users.get(account_id, user_name)

    def get_user_by_id(self, account_id: str, user_id: str) -> User | None:
        with self._lock:
            user = self._users.by_id(user_id)
            return user if user is not None and user.account_id == account_id else None

    def update_user(self, account_id: str, user_name: str, user: User) -> None:
        with self._lock:
            old = self._users.require(account_id, user_name)
            self._users.replace(account_id, old, replace(user, user_id=old.user_id))

    def delete_user(self, account_id: str, user_name: str) -> None:
        with self._lock:
            user = self._users.require(account_id, user_name)
            _refuse_dependents(
                ("User.AccessKey", any(k.user_id == user.user_id for k in self._keys.values())),
                ("User.Group", any(uid == user.user_id for _, uid in self._members)),
                ("User.Policy", self._has_attachments(PrincipalKind.USER, user.user_id)),
            )
            self._users.remove(account_id, user)

    def list_users(self, account_id: str, *, marker: str | None, limit: int) -> Page[User]:
        with self._lock:
            users = self._users.after(account_id, _after(marker))[: limit + 1]
        return make_page(users, limit, lambda u: (u.user_name,))

    # ---- access keys ----------------------------------------------------------------------

    def create_access_key(self, key: AccessKey, *, max_per_user: int) -> None:
        if key.user_id is None:
            raise ValueError("root keys are created with create_account/add_root_access_key")
        with self._lock:
            if self.get_user_by_id(key.account_id, key.user_id) is None:
                raise NotFound("User", key.user_name or "")
            owned = sum(1 for k in self._keys.values() if k.user_id == key.user_id)
            _check_quota("User.AccessKey", owned, max_per_user)
            self._refuse_key_taken(key.access_key_id)
            self._keys[key.access_key_id] = key

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        with self._lock:
            key = self._keys.get(access_key_id)
            return None if key is None else self._with_owner_name(key)

    def list_access_keys(self, account_id: str, user_name: str | None) -> list[AccessKey]:
        with self._lock:
            owner = self._owner_id(account_id, user_name)
            keys = [
                self._with_owner_name(k)
                for k in self._keys.values()
                if k.account_id == account_id and k.user_id == owner
            ]
        return sorted(keys, key=lambda k: (k.created_at, k.access_key_id))

    def set_access_key_status(
        self, account_id: str, user_name: str | None, access_key_id: str, status: AccessKeyStatus
    ) -> None:
        with self._lock:
            key = self._owned_key(account_id, user_name, access_key_id)
            self._keys[access_key_id] = replace(key, status=status)

    def delete_access_key(self, account_id: str, user_name: str | None, access_key_id: str) -> None:
        with self._lock:
            self._owned_key(account_id, user_name, access_key_id)
            del self._keys[access_key_id]

    def touch_access_key(self, access_key_id: str, used_at: str) -> None:
        with self._lock:
            key = self._keys.get(access_key_id)
            if key is not None:
                self._keys[access_key_id] = replace(key, last_used_at=used_at)

    # ---- groups ---------------------------------------------------------------------------

    def create_group(self, group: Group, *, max_groups: int) -> None:
        with self._lock:
            self._require_account(group.account_id)
            self._groups.refuse_taken(group.account_id, group.group_name)
            _check_quota("Group", self._groups.count(group.account_id), max_groups)
            self._groups.add(group.account_id, group)

    def get_group(self, account_id: str, group_name: str) -> Group | None:
        with self._lock:
            return self._groups.get(account_id, group_name)

    def update_group(self, account_id: str, group_name: str, group: Group) -> None:
        with self._lock:
            old = self._groups.require(account_id, group_name)
            self._groups.replace(account_id, old, replace(group, group_id=old.group_id))

    def delete_group(self, account_id: str, group_name: str) -> None:
        with self._lock:
            group = self._groups.require(account_id, group_name)
            _refuse_dependents(
                ("Group.User", any(gid == group.group_id for gid, _ in self._members)),
                ("Group.Policy", self._has_attachments(PrincipalKind.GROUP, group.group_id)),
            )
            self._groups.remove(account_id, group)

    def list_groups(self, account_id: str, *, marker: str | None, limit: int) -> Page[Group]:
        with self._lock:
            groups = self._groups.after(account_id, _after(marker))[: limit + 1]
        return make_page(groups, limit, lambda g: (g.group_name,))

    def add_user_to_group(
        self,
        account_id: str,
        group_name: str,
        user_name: str,
        *,
        join_date: str,
        max_groups_per_user: int,
    ) -> None:
        with self._lock:
            group = self._groups.require(account_id, group_name)
            user = self._users.require(account_id, user_name)
            if (group.group_id, user.user_id) in self._members:
                raise AlreadyExists("User.Group", f"{user_name} in {group_name}")
            joined = sum(1 for _, uid in self._members if uid == user.user_id)
            _check_quota("User.Group", joined, max_groups_per_user)
            self._members[(group.group_id, user.user_id)] = join_date

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None:
        with self._lock:
            group = self._groups.require(account_id, group_name)
            user = self._users.require(account_id, user_name)
            if self._members.pop((group.group_id, user.user_id), None) is None:
                raise NotFound("User.Group", f"{user_name} in {group_name}")

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[GroupMembership]:
        with self._lock:
            user = self._users.require(account_id, user_name)
            found = [
                GroupMembership(self._group_by_id(gid), joined)
                for (gid, uid), joined in self._members.items()
                if uid == user.user_id
            ]
        return sorted(found, key=lambda m: m.group.group_name)

    def list_users_for_group(
        self, account_id: str, group_name: str, *, marker: str | None, limit: int
    ) -> Page[GroupMember]:
        after = _after(marker)
        with self._lock:
            group = self._groups.require(account_id, group_name)
            members = [
                GroupMember(self._user_by_id(uid), joined)
                for (gid, uid), joined in self._members.items()
                if gid == group.group_id
            ]
        members = sorted(
            (m for m in members if m.user.user_name > after), key=lambda m: m.user.user_name
        )
        return make_page(members[: limit + 1], limit, lambda m: (m.user.user_name,))

    # ---- roles ----------------------------------------------------------------------------

    def create_role(self, role: Role, *, max_roles: int) -> None:
        with self._lock:
            self._require_account(role.account_id)
            self._roles.refuse_taken(role.account_id, role.role_name)
            _check_quota("Role", self._roles.count(role.account_id), max_roles)
            self._roles.add(role.account_id, role)

    def get_role(self, account_id: str, role_name: str) -> Role | None:
        with self._lock:
            return self._roles.get(account_id, role_name)

    def get_role_by_id(self, account_id: str, role_id: str) -> Role | None:
        with self._lock:
            role = self._roles.by_id(role_id)
            return role if role is not None and role.account_id == account_id else None

    def update_role(self, account_id: str, role_name: str, role: Role) -> None:
        with self._lock:
            old = self._roles.require(account_id, role_name)
            self._roles.replace(account_id, old, replace(role, role_id=old.role_id))

    def delete_role(self, account_id: str, role_name: str) -> None:
        with self._lock:
            role = self._roles.require(account_id, role_name)
            _refuse_dependents(
                ("Role.Policy", self._has_attachments(PrincipalKind.ROLE, role.role_id)),
            )
            self._roles.remove(account_id, role)

    def list_roles(
        self, account_id: str, *, marker: str | None, limit: int, tags: Sequence[Tag] = ()
    ) -> Page[Role]:
        with self._lock:
            roles = [
                r for r in self._roles.after(account_id, _after(marker)) if _has_tags(r.tags, tags)
            ]
        return make_page(roles[: limit + 1], limit, lambda r: (r.role_name.lower(),))

    # ---- policies -------------------------------------------------------------------------

    def put_system_policy(self, policy: Policy, document: str) -> None:
        number = version_number(policy.default_version) or 1
        with self._lock:
            stored = self._policies.get((None, policy.name))
            if stored is None:
                stored = _StoredPolicy(
                    replace(policy, account_id=None), default_no=number, last_no=number
                )
                stored.versions[number] = (document, policy.created_at)
                self._policies[(None, policy.name)] = stored
                return
            current = (
                stored.policy.description,
                stored.default_no,
                stored.versions.get(number, ("",))[0],
            )
            if current == (policy.description, number, document):
                return
            created = stored.versions.get(number, ("", policy.updated_at))[1]
            stored.versions[number] = (document, created)
            stored.default_no, stored.last_no = number, max(stored.last_no, number)
            stored.policy = replace(
                stored.policy, description=policy.description, updated_at=policy.updated_at
            )

    def create_policy(self, policy: Policy, document: str, *, max_policies: int) -> None:
        account_id = policy.account_id or ""
        with self._lock:
            self._require_account(account_id)
            if (None, policy.name) in self._policies or (account_id, policy.name) in self._policies:
                raise AlreadyExists("Policy", policy.name)
            custom = sum(1 for acct, _ in self._policies if acct == account_id)
            _check_quota("Policy", custom, max_policies)
            stored = _StoredPolicy(replace(policy, default_version="v1", attachment_count=0))
            stored.versions[1] = (document, policy.created_at)
            self._policies[(account_id, policy.name)] = stored

    def get_policy(self, account_id: str, name: str, policy_type: PolicyType) -> Policy | None:
        with self._lock:
            key = _policy_key(account_id, name, policy_type)
            stored = self._policies.get(key)
            return None if stored is None else self._policy_view(account_id, key, stored)

    def list_policies(
        self,
        account_id: str,
        *,
        policy_type: PolicyType | None,
        marker: str | None,
        limit: int,
        tags: Sequence[Tag] = (),
    ) -> Page[Policy]:
        start = decode_marker(marker, 2) or ("", "")
        with self._lock:
            found = sorted(
                (
                    self._policy_view(account_id, key, stored)
                    for key, stored in self._policies.items()
                    if key[0] in (None, account_id)
                ),
                key=lambda p: (str(p.policy_type), p.name),
            )
        found = [
            p
            for p in found
            if policy_type in (None, p.policy_type)
            and (str(p.policy_type), p.name) > start
            and _has_tags(p.tags, tags)
        ]
        return make_page(found[: limit + 1], limit, lambda p: (str(p.policy_type), p.name))

    def update_policy_description(
        self, account_id: str, name: str, description: str, *, updated_at: str
    ) -> None:
        with self._lock:
            stored = self._custom_policy(account_id, name)
            stored.policy = replace(stored.policy, description=description, updated_at=updated_at)

    def delete_policy(self, account_id: str, name: str, *, cascade: bool) -> None:
        with self._lock:
            stored = self._custom_policy(account_id, name)
            key = (account_id, name)
            attached = {kind for kind, _, pkey in self._attachments if pkey == key}
            _refuse_dependents(
                *((f"Policy.{kind}", kind in attached) for kind in PrincipalKind),
                ("Policy.Version", not cascade and len(stored.versions) > 1),
            )
            del self._policies[key]

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
        with self._lock:
            stored = self._custom_policy(account_id, name)
            _make_room_for_version(stored, max_versions, rotate)
            stored.last_no += 1
            stored.versions[stored.last_no] = (document, created_at)
            if set_default:
                stored.default_no = stored.last_no
            stored.policy = replace(stored.policy, updated_at=created_at)
            return _version_view(stored, stored.last_no)

    def get_policy_version(
        self, account_id: str, name: str, policy_type: PolicyType, version_id: str
    ) -> PolicyVersion | None:
        with self._lock:
            stored = self._policies.get(_policy_key(account_id, name, policy_type))
            number = version_number(version_id)
            if stored is None or number not in stored.versions:
                return None
            return _version_view(stored, number)

    def list_policy_versions(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> list[PolicyVersion]:
        with self._lock:
            stored = self._policies.get(_policy_key(account_id, name, policy_type))
            if stored is None:
                raise NotFound("Policy", name)
            return [_version_view(stored, number) for number in sorted(stored.versions)]

    def set_default_policy_version(
        self, account_id: str, name: str, version_id: str, *, updated_at: str
    ) -> None:
        with self._lock:
            stored = self._custom_policy(account_id, name)
            stored.default_no = _existing_version(stored, version_id)
            stored.policy = replace(stored.policy, updated_at=updated_at)

    def delete_policy_version(self, account_id: str, name: str, version_id: str) -> None:
        with self._lock:
            stored = self._custom_policy(account_id, name)
            number = _existing_version(stored, version_id)
            if number == stored.default_no:
                raise DeleteConflict("Policy.Version.Default")
            del stored.versions[number]

    # ---- attachments ----------------------------------------------------------------------

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
        with self._lock:
            principal_id = self._principal_id(account_id, kind, principal_name)
            key = self._require_policy_key(account_id, policy_name, policy_type)
            if (kind, principal_id, key) in self._attachments:
                raise AlreadyExists(f"{kind}.Policy", f"{policy_name} on {principal_name}")
            same_type = sum(
                1
                for k, pid, pkey in self._attachments
                if (k, pid) == (kind, principal_id) and (pkey[0] is None) == (key[0] is None)
            )
            _check_quota(f"{kind}.Policy", same_type, max_attached)
            self._attachments[(kind, principal_id, key)] = _Attachment(account_id, attach_date)

    def detach_policy(
        self,
        account_id: str,
        kind: PrincipalKind,
        principal_name: str,
        policy_name: str,
        policy_type: PolicyType,
    ) -> None:
        with self._lock:
            principal_id = self._principal_id(account_id, kind, principal_name)
            key = self._require_policy_key(account_id, policy_name, policy_type)
            if self._attachments.pop((kind, principal_id, key), None) is None:
                raise NotFound(f"{kind}.Policy", f"{policy_name} on {principal_name}")

    def list_policies_for(
        self, account_id: str, kind: PrincipalKind, principal_name: str
    ) -> list[PolicyAttachment]:
        with self._lock:
            principal_id = self._principal_id(account_id, kind, principal_name)
            found = [
                PolicyAttachment(
                    self._policy_view(account_id, key, self._policies[key]), found.attach_date
                )
                for (k, pid, key), found in self._attachments.items()
                if (k, pid) == (kind, principal_id)
            ]
        return sorted(found, key=lambda a: (str(a.policy.policy_type), a.policy.name))

    def list_entities_for_policy(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> PolicyEntities:
        with self._lock:
            key = self._require_policy_key(account_id, name, policy_type)
            dates = {
                (kind, pid): found.attach_date
                for (kind, pid, pkey), found in self._attachments.items()
                if pkey == key and found.account_id == account_id
            }
            users = [
                AttachedUser(self._user_by_id(pid), d)
                for (k, pid), d in dates.items()
                if k is PrincipalKind.USER
            ]
            groups = [
                AttachedGroup(self._group_by_id(pid), d)
                for (k, pid), d in dates.items()
                if k is PrincipalKind.GROUP
            ]
            roles = [
                AttachedRole(self._role_by_id(pid), d)
                for (k, pid), d in dates.items()
                if k is PrincipalKind.ROLE
            ]
        return PolicyEntities(
            users=tuple(sorted(users, key=lambda a: a.user.user_name)),
            groups=tuple(sorted(groups, key=lambda a: a.group.group_name)),
            roles=tuple(sorted(roles, key=lambda a: a.role.role_name.lower())),
        )

    def policies_for_user(self, account_id: str, user_name: str) -> list[AttachedPolicy]:
        with self._lock:
            user = self._users.get(account_id, user_name)
            if user is None:
                return []
            holders = {(PrincipalKind.USER, user.user_id)} | {
                (PrincipalKind.GROUP, gid) for gid, uid in self._members if uid == user.user_id
            }
            return self._effective(holders)

    def policies_for_role(self, account_id: str, role_name: str) -> list[AttachedPolicy]:
        with self._lock:
            role = self._roles.get(account_id, role_name)
            if role is None:
                return []
            return self._effective({(PrincipalKind.ROLE, role.role_id)})

    # ---- internals (called with the lock held) --------------------------------------------

    def _require_account(self, account_id: str) -> None:
        if account_id not in self._accounts:
            raise NotFound("Account", account_id)

    def _refuse_key_taken(self, access_key_id: str) -> None:
        if access_key_id in self._keys:
            raise AlreadyExists("AccessKey", access_key_id)

    def _with_owner_name(self, key: AccessKey) -> AccessKey:
        user = None if key.user_id is None else self._users.by_id(key.user_id)
        return replace(key, user_name=None if user is None else user.user_name)

    def _owner_id(self, account_id: str, user_name: str | None) -> str | None:
        return None if user_name is None else self._users.require(account_id, user_name).user_id

    def _owned_key(self, account_id: str, user_name: str | None, access_key_id: str) -> AccessKey:
        owner = self._owner_id(account_id, user_name)
        key = self._keys.get(access_key_id)
        if key is None or key.account_id != account_id or key.user_id != owner:
            raise NotFound("User.AccessKey", access_key_id)
        return key

    def _user_by_id(self, user_id: str) -> User:
        user = self._users.by_id(user_id)
        assert user is not None
        return user

    def _group_by_id(self, group_id: str) -> Group:
        group = self._groups.by_id(group_id)
        assert group is not None
        return group

    def _role_by_id(self, role_id: str) -> Role:
        role = self._roles.by_id(role_id)
        assert role is not None
        return role

    def _principal_id(self, account_id: str, kind: PrincipalKind, name: str) -> str:
        if kind is PrincipalKind.USER:
            return self._users.require(account_id, name).user_id
        if kind is PrincipalKind.GROUP:
            return self._groups.require(account_id, name).group_id
        return self._roles.require(account_id, name).role_id

    def _has_attachments(self, kind: PrincipalKind, principal_id: str) -> bool:
        return any((k, pid) == (kind, principal_id) for k, pid, _ in self._attachments)

    def _require_policy_key(self, account_id: str, name: str, policy_type: PolicyType) -> PolicyKey:
        key = _policy_key(account_id, name, policy_type)
        if key not in self._policies:
            raise NotFound("Policy", name)
        return key

    def _custom_policy(self, account_id: str, name: str) -> _StoredPolicy:
        stored = self._policies.get((account_id, name))
        if stored is None:
            raise NotFound("Policy", name)
        return stored

    def _policy_view(self, account_id: str, key: PolicyKey, stored: _StoredPolicy) -> Policy:
        count = sum(
            1
            for (_, _, pkey), found in self._attachments.items()
            if pkey == key and found.account_id == account_id
        )
        return replace(
            stored.policy, default_version=f"v{stored.default_no}", attachment_count=count
        )

    def _effective(self, holders: set[tuple[PrincipalKind, str]]) -> list[AttachedPolicy]:
        keys = {key for kind, pid, key in self._attachments if (kind, pid) in holders}
        found = []
        for key in keys:
            stored = self._policies[key]
            found.append(
                AttachedPolicy(
                    name=stored.policy.name,
                    policy_type=stored.policy.policy_type,
                    version_id=f"v{stored.default_no}",
                    document=stored.versions[stored.default_no][0],
                )
            )
        return sorted(found, key=lambda p: (str(p.policy_type), p.name))


def _check_quota(kind: str, used: int, limit: int) -> None:
    if used >= limit:
        raise LimitExceeded(kind)


def _refuse_dependents(*checks: tuple[str, bool]) -> None:
    for kind, present in checks:
        if present:
            raise DeleteConflict(kind)


def _after(marker: str | None) -> str:
    key = decode_marker(marker)
    return "" if key is None else key[0]


def _has_tags(have: Iterable[Tag], wanted: Sequence[Tag]) -> bool:
    present = {tag.key: tag.value for tag in have}
    return all(t.key in present and t.value in ("", present[t.key]) for t in wanted)


def _policy_key(account_id: str, name: str, policy_type: PolicyType) -> PolicyKey:
    return (None, name) if policy_type is PolicyType.SYSTEM else (account_id, name)


def _existing_version(stored: _StoredPolicy, version_id: str) -> int:
    number = version_number(version_id)
    if number is None or number not in stored.versions:
        raise NotFound("Policy.Version", version_id)
    return number


def _make_room_for_version(stored: _StoredPolicy, max_versions: int, rotate: bool) -> None:
    removable = sorted(n for n in stored.versions if n != stored.default_no)
    while len(stored.versions) >= max_versions:
        if not rotate or not removable:
            raise LimitExceeded("Policy.Version")
        del stored.versions[removable.pop(0)]


def _version_view(stored: _StoredPolicy, number: int) -> PolicyVersion:
    document, created_at = stored.versions[number]
    return PolicyVersion(
        account_id=stored.policy.account_id,
        policy_name=stored.policy.name,
        policy_type=stored.policy.policy_type,
        version_id=f"v{number}",
        document=document,
        is_default=number == stored.default_no,
        created_at=created_at,
    )
