"""The SQLite identity store (the embedded default).

Owns: the SQL for every ``IdentityStore`` method, one connection per thread (WAL lets readers
run beside the single writer), write transactions opened with ``BEGIN IMMEDIATE`` so that every
check-then-write is serialised across threads and processes, and the single place where
``sqlite3`` exceptions become Tessera errors (``translate_errors``).
Must not: validate input formats or decide limits (the service does), or let an ``sqlite3``
exception escape.

Listings are range scans on the sort key carried by the opaque marker, never OFFSET.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tessera.clock import SystemClock, iso8601
from tessera.errors import (
    AlreadyExists,
    DeleteConflict,
    InternalError,
    LimitExceeded,
    NotFound,
    TesseraError,
)
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
from tessera.store.migrations import apply_sqlite_migrations

Row = sqlite3.Row

# table of a failed UNIQUE constraint -> entity kind of the AlreadyExists raised
_UNIQUE_KINDS = {
    "accounts": "Account",
    "users": "User",
    "access_keys": "AccessKey",
    "user_groups": "Group",
    "memberships": "User.Group",
    "roles": "Role",
    "policies": "Policy",
    "attachments": "Policy.Attachment",
}


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn ``sqlite3`` exceptions into Tessera errors; Tessera errors pass through."""
    try:
        yield
    except TesseraError:
        raise
    except sqlite3.IntegrityError as exc:
        text = str(exc)
        if text.startswith("UNIQUE constraint failed:"):
            table = text.partition(":")[2].strip().partition(".")[0]
            raise AlreadyExists(_UNIQUE_KINDS.get(table, "Entity")) from exc
        raise InternalError(f"integrity violation: {text}") from exc
    except sqlite3.Error as exc:
        raise InternalError() from exc


def open_sqlite_store(
    path: str | os.PathLike[str], *, busy_timeout: float = 30.0
) -> SqliteIdentityStore:
    """Open (creating and migrating as needed) the SQLite identity store at ``path``."""
    store = SqliteIdentityStore(path, busy_timeout=busy_timeout)
    store.migrate()
    return store


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class SqliteIdentityStore:
    """``IdentityStore`` on one SQLite file. Use ``open_sqlite_store``; call ``close`` at exit."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        self._timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False

    # ---- plumbing -------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied."""
        with translate_errors():
            conn = self._connection()
            conn.execute("PRAGMA journal_mode = WAL")
            return apply_sqlite_migrations(conn, iso8601(SystemClock().now()))

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path, self._timeout)
            with self._guard:
                if self._closed:
                    conn.close()
                    raise InternalError("the identity store is closed")
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads that take more than one statement."""
        with translate_errors():
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with translate_errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Row | None:
        with translate_errors():
            row: Row | None = self._connection().execute(sql, params).fetchone()
            return row

    # ---- settings -------------------------------------------------------------------------

    def get_setting(self, name: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE name = ?", (name,))
        return None if row is None else str(row["value"])

    def put_setting(self, name: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    # ---- accounts -------------------------------------------------------------------------

    def create_account(self, account: Account, root_key: AccessKey) -> None:
        with self._write() as conn:
            if _exists(conn, "SELECT 1 FROM accounts WHERE account_id = ?", account.account_id):
                raise AlreadyExists("Account", account.account_id)
            conn.execute(
                "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)",
                (account.account_id, account.created_at),
            )
            _insert_key(conn, root_key)

    def add_root_access_key(self, key: AccessKey) -> None:
        with self._write() as conn:
            _require_account(conn, key.account_id)
            _insert_key(conn, key)

    def get_account(self, account_id: str) -> Account | None:
        row = self._one("SELECT * FROM accounts WHERE account_id = ?", (account_id,))
        return None if row is None else Account(row["account_id"], row["created_at"])

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM accounts ORDER BY account_id").fetchall()
        return [Account(row["account_id"], row["created_at"]) for row in rows]

    # ---- users ----------------------------------------------------------------------------

    def create_user(self, user: User, *, max_users: int) -> None:
        with self._write() as conn:
            _require_account(conn, user.account_id)
            _refuse_taken(conn, PrincipalKind.USER, user.account_id, user.user_name)
            _check_quota(
                conn,
                "User",
                max_users,
                "SELECT count(*) FROM users WHERE account_id = ?",
                user.account_id,
            )
            conn.execute(_INSERT_USER, _user_params(user))

    def get_user(self, account_id: str, user_name: str) -> User | None:
        row = self._one(
            "SELECT * FROM users WHERE account_id = ? AND user_name = ?", (account_id, user_name)
        )
        return None if row is None else _user(row)

    def get_user_by_id(self, account_id: str, user_id: str) -> User | None:
        row = self._one(
            "SELECT * FROM users WHERE account_id = ? AND user_id = ?", (account_id, user_id)
        )
        return None if row is None else _user(row)

    def update_user(self, account_id: str, user_name: str, user: User) -> None:
        with self._write() as conn:
            user_id = _user_id(conn, account_id, user_name)
            if user.user_name != user_name:
                _refuse_taken(conn, PrincipalKind.USER, account_id, user.user_name)
            conn.execute(_UPDATE_USER, {**_user_params(user), "user_id": user_id})

    def delete_user(self, account_id: str, user_name: str) -> None:
        with self._write() as conn:
            user_id = _user_id(conn, account_id, user_name)
            _refuse_dependents(conn, _USER_DEPENDENTS, account_id=account_id, id=user_id)
            conn.execute("DELETE FROM users WHERE user_id = ?", (user_id,))

    def list_users(self, account_id: str, *, marker: str | None, limit: int) -> Page[User]:
        after = _after(marker)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM users WHERE account_id = ? AND user_name > ?"
                " ORDER BY user_name LIMIT ?",
                (account_id, after, limit + 1),
            ).fetchall()
        return make_page([_user(row) for row in rows], limit, lambda u: (u.user_name,))

    # ---- access keys ----------------------------------------------------------------------

    def create_access_key(self, key: AccessKey, *, max_per_user: int) -> None:
        if key.user_id is None:
            raise ValueError("root keys are created with create_account/add_root_access_key")
        with self._write() as conn:
            if not _exists(
                conn,
                "SELECT 1 FROM users WHERE user_id = ? AND account_id = ?",
                key.user_id,
                key.account_id,
            ):
                raise NotFound("User", key.user_name or "")
            _check_quota(
                conn,
                "User.AccessKey",
                max_per_user,
                "SELECT count(*) FROM access_keys WHERE account_id = ? AND user_id = ?",
                key.account_id,
                key.user_id,
            )
            _insert_key(conn, key)

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        row = self._one(_SELECT_KEY + " WHERE k.access_key_id = ?", (access_key_id,))
        return None if row is None else _access_key(row)

    def list_access_keys(self, account_id: str, user_name: str | None) -> list[AccessKey]:
        with self._read() as conn:
            owner = None if user_name is None else _user_id(conn, account_id, user_name)
            rows = conn.execute(
                _SELECT_KEY + " WHERE k.account_id = ? AND k.user_id IS ?"
                " ORDER BY k.created_at, k.access_key_id",
                (account_id, owner),
            ).fetchall()
        return [_access_key(row) for row in rows]

    def set_access_key_status(
        self, account_id: str, user_name: str | None, access_key_id: str, status: AccessKeyStatus
    ) -> None:
        with self._write() as conn:
            _owned_key(conn, account_id, user_name, access_key_id)
            conn.execute(
                "UPDATE access_keys SET status = ? WHERE access_key_id = ?",
                (str(status), access_key_id),
            )

    def delete_access_key(self, account_id: str, user_name: str | None, access_key_id: str) -> None:
        with self._write() as conn:
            _owned_key(conn, account_id, user_name, access_key_id)
            conn.execute("DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,))

    def touch_access_key(self, access_key_id: str, used_at: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE access_keys SET last_used_at = ? WHERE access_key_id = ?",
                (used_at, access_key_id),
            )

    # ---- groups ---------------------------------------------------------------------------

    def create_group(self, group: Group, *, max_groups: int) -> None:
        with self._write() as conn:
            _require_account(conn, group.account_id)
            _refuse_taken(conn, PrincipalKind.GROUP, group.account_id, group.group_name)
            _check_quota(
                conn,
                "Group",
                max_groups,
                "SELECT count(*) FROM user_groups WHERE account_id = ?",
                group.account_id,
            )
            conn.execute(_INSERT_GROUP, _group_params(group))

    def get_group(self, account_id: str, group_name: str) -> Group | None:
        row = self._one(
            "SELECT * FROM user_groups WHERE account_id = ? AND group_name = ?",
            (account_id, group_name),
        )
        return None if row is None else _group(row)

    def update_group(self, account_id: str, group_name: str, group: Group) -> None:
        with self._write() as conn:
            group_id = _group_id(conn, account_id, group_name)
            if group.group_name != group_name:
                _refuse_taken(conn, PrincipalKind.GROUP, account_id, group.group_name)
            conn.execute(
                "UPDATE user_groups SET group_name = :group_name, comments = :comments,"
                " updated_at = :updated_at WHERE group_id = :group_id",
                {**_group_params(group), "group_id": group_id},
            )

    def delete_group(self, account_id: str, group_name: str) -> None:
        with self._write() as conn:
            group_id = _group_id(conn, account_id, group_name)
            _refuse_dependents(conn, _GROUP_DEPENDENTS, account_id=account_id, id=group_id)
            conn.execute("DELETE FROM user_groups WHERE group_id = ?", (group_id,))

    def list_groups(self, account_id: str, *, marker: str | None, limit: int) -> Page[Group]:
        after = _after(marker)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM user_groups WHERE account_id = ? AND group_name > ?"
                " ORDER BY group_name LIMIT ?",
                (account_id, after, limit + 1),
            ).fetchall()
        return make_page([_group(row) for row in rows], limit, lambda g: (g.group_name,))

    def add_user_to_group(
        self,
        account_id: str,
        group_name: str,
        user_name: str,
        *,
        join_date: str,
        max_groups_per_user: int,
    ) -> None:
        with self._write() as conn:
            group_id = _group_id(conn, account_id, group_name)
            user_id = _user_id(conn, account_id, user_name)
            if _exists(
                conn,
                "SELECT 1 FROM memberships WHERE group_id = ? AND user_id = ?",
                group_id,
                user_id,
            ):
                raise AlreadyExists("User.Group", f"{user_name} in {group_name}")
            _check_quota(
                conn,
                "User.Group",
                max_groups_per_user,
                "SELECT count(*) FROM memberships WHERE user_id = ?",
                user_id,
            )
            conn.execute(
                "INSERT INTO memberships (group_id, user_id, join_date) VALUES (?, ?, ?)",
                (group_id, user_id, join_date),
            )

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None:
        with self._write() as conn:
            group_id = _group_id(conn, account_id, group_name)
            user_id = _user_id(conn, account_id, user_name)
            cursor = conn.execute(
                "DELETE FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
            if cursor.rowcount == 0:
                raise NotFound("User.Group", f"{user_name} in {group_name}")

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[GroupMembership]:
        with self._read() as conn:
            user_id = _user_id(conn, account_id, user_name)
            rows = conn.execute(
                "SELECT g.*, m.join_date FROM memberships m"
                " JOIN user_groups g ON g.group_id = m.group_id"
                " WHERE m.user_id = ? ORDER BY g.group_name",
                (user_id,),
            ).fetchall()
        return [GroupMembership(_group(row), row["join_date"]) for row in rows]

    def list_users_for_group(
        self, account_id: str, group_name: str, *, marker: str | None, limit: int
    ) -> Page[GroupMember]:
        after = _after(marker)
        with self._read() as conn:
            group_id = _group_id(conn, account_id, group_name)
            rows = conn.execute(
                "SELECT u.*, m.join_date FROM memberships m JOIN users u ON u.user_id = m.user_id"
                " WHERE m.group_id = ? AND u.user_name > ? ORDER BY u.user_name LIMIT ?",
                (group_id, after, limit + 1),
            ).fetchall()
        members = [GroupMember(_user(row), row["join_date"]) for row in rows]
        return make_page(members, limit, lambda m: (m.user.user_name,))

    # ---- roles ----------------------------------------------------------------------------

    def create_role(self, role: Role, *, max_roles: int) -> None:
        with self._write() as conn:
            _require_account(conn, role.account_id)
            _refuse_taken(conn, PrincipalKind.ROLE, role.account_id, role.role_name)
            _check_quota(
                conn,
                "Role",
                max_roles,
                "SELECT count(*) FROM roles WHERE account_id = ?",
                role.account_id,
            )
            conn.execute(_INSERT_ROLE, _role_params(role))

    def get_role(self, account_id: str, role_name: str) -> Role | None:
        row = self._one(
            "SELECT * FROM roles WHERE account_id = ? AND name_key = ?",
            (account_id, role_name.lower()),
        )
        return None if row is None else _role(row)

    def get_role_by_id(self, account_id: str, role_id: str) -> Role | None:
        row = self._one(
            "SELECT * FROM roles WHERE account_id = ? AND role_id = ?", (account_id, role_id)
        )
        return None if row is None else _role(row)

    def update_role(self, account_id: str, role_name: str, role: Role) -> None:
        with self._write() as conn:
            role_id = _role_id(conn, account_id, role_name)
            if role.role_name.lower() != role_name.lower():
                _refuse_taken(conn, PrincipalKind.ROLE, account_id, role.role_name)
            conn.execute(_UPDATE_ROLE, {**_role_params(role), "role_id": role_id})

    def delete_role(self, account_id: str, role_name: str) -> None:
        with self._write() as conn:
            role_id = _role_id(conn, account_id, role_name)
            _refuse_dependents(conn, _ROLE_DEPENDENTS, account_id=account_id, id=role_id)
            conn.execute("DELETE FROM roles WHERE role_id = ?", (role_id,))

    def list_roles(
        self, account_id: str, *, marker: str | None, limit: int, tags: Sequence[Tag] = ()
    ) -> Page[Role]:
        tag_sql, tag_params = _tag_filter("r.tags", tags)
        params = {"acct": account_id, "after": _after(marker), "limit": limit + 1, **tag_params}
        with self._read() as conn:
            rows = conn.execute(
                "SELECT r.* FROM roles r WHERE r.account_id = :acct AND r.name_key > :after"
                f"{tag_sql} ORDER BY r.name_key LIMIT :limit",
                params,
            ).fetchall()
        return make_page([_role(row) for row in rows], limit, lambda r: (r.role_name.lower(),))

    # ---- policies -------------------------------------------------------------------------

    def put_system_policy(self, policy: Policy, document: str) -> None:
        version_no = version_number(policy.default_version) or 1
        with self._write() as conn:
            row = conn.execute(
                "SELECT policy_pk FROM policies WHERE account_id IS NULL AND policy_name = ?",
                (policy.name,),
            ).fetchone()
            if row is None:
                _insert_policy(conn, policy, document, version_no)
                return
            _refresh_system_policy(conn, int(row["policy_pk"]), policy, document, version_no)

    def create_policy(self, policy: Policy, document: str, *, max_policies: int) -> None:
        account_id = policy.account_id or ""
        with self._write() as conn:
            _require_account(conn, account_id)
            for kind in PolicyType:
                if _find_policy(conn, account_id, policy.name, kind) is not None:
                    raise AlreadyExists("Policy", policy.name)
            _check_quota(
                conn,
                "Policy",
                max_policies,
                "SELECT count(*) FROM policies WHERE account_id = ?",
                account_id,
            )
            _insert_policy(conn, policy, document, 1)

    def get_policy(self, account_id: str, name: str, policy_type: PolicyType) -> Policy | None:
        with self._read() as conn:
            row = _find_policy(conn, account_id, name, policy_type)
        return None if row is None else _policy(row)

    def list_policies(
        self,
        account_id: str,
        *,
        policy_type: PolicyType | None,
        marker: str | None,
        limit: int,
        tags: Sequence[Tag] = (),
    ) -> Page[Policy]:
        start = decode_marker(marker, 2)
        found: list[Policy] = []
        with self._read() as conn:
            for kind in _policy_types_from(policy_type, start):
                after = start[1] if start is not None and start[0] == kind else ""
                rows = _policies_after(conn, account_id, kind, after, limit + 1 - len(found), tags)
                found.extend(_policy(row) for row in rows)
                if len(found) > limit:
                    break
        return make_page(found, limit, lambda p: (str(p.policy_type), p.name))

    def update_policy_description(
        self, account_id: str, name: str, description: str, *, updated_at: str
    ) -> None:
        with self._write() as conn:
            pk = _custom_policy(conn, account_id, name)["policy_pk"]
            conn.execute(
                "UPDATE policies SET description = ?, updated_at = ? WHERE policy_pk = ?",
                (description, updated_at, pk),
            )

    def delete_policy(self, account_id: str, name: str, *, cascade: bool) -> None:
        with self._write() as conn:
            row = _custom_policy(conn, account_id, name)
            pk = int(row["policy_pk"])
            _refuse_dependents(conn, _POLICY_DEPENDENTS, pk=pk)
            if not cascade and _exists(
                conn,
                "SELECT 1 FROM policy_versions WHERE policy_pk = ? AND version_no != ?",
                pk,
                row["default_version_no"],
            ):
                raise DeleteConflict("Policy.Version")
            conn.execute("DELETE FROM policy_versions WHERE policy_pk = ?", (pk,))
            conn.execute("DELETE FROM policies WHERE policy_pk = ?", (pk,))

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
        with self._write() as conn:
            row = _custom_policy(conn, account_id, name)
            pk, default_no = int(row["policy_pk"]), int(row["default_version_no"])
            _make_room_for_version(conn, pk, default_no, max_versions, rotate)
            number = int(row["last_version_no"]) + 1
            conn.execute(
                "INSERT INTO policy_versions (policy_pk, version_no, document, created_at)"
                " VALUES (?, ?, ?, ?)",
                (pk, number, document, created_at),
            )
            conn.execute(
                "UPDATE policies SET last_version_no = ?, default_version_no = ?, updated_at = ?"
                " WHERE policy_pk = ?",
                (number, number if set_default else default_no, created_at, pk),
            )
        return PolicyVersion(
            name, PolicyType.CUSTOM, f"v{number}", document, set_default, created_at
        )

    def get_policy_version(
        self, account_id: str, name: str, policy_type: PolicyType, version_id: str
    ) -> PolicyVersion | None:
        number = version_number(version_id)
        with self._read() as conn:
            policy = _find_policy(conn, account_id, name, policy_type)
            if policy is None or number is None:
                return None
            row = conn.execute(
                "SELECT * FROM policy_versions WHERE policy_pk = ? AND version_no = ?",
                (policy["policy_pk"], number),
            ).fetchone()
        return None if row is None else _policy_version(policy, row)

    def list_policy_versions(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> list[PolicyVersion]:
        with self._read() as conn:
            policy = _find_policy(conn, account_id, name, policy_type)
            if policy is None:
                raise NotFound("Policy", name)
            rows = conn.execute(
                "SELECT * FROM policy_versions WHERE policy_pk = ? ORDER BY version_no",
                (policy["policy_pk"],),
            ).fetchall()
        return [_policy_version(policy, row) for row in rows]

    def set_default_policy_version(
        self, account_id: str, name: str, version_id: str, *, updated_at: str
    ) -> None:
        with self._write() as conn:
            pk = int(_custom_policy(conn, account_id, name)["policy_pk"])
            number = _existing_version(conn, pk, version_id)
            conn.execute(
                "UPDATE policies SET default_version_no = ?, updated_at = ? WHERE policy_pk = ?",
                (number, updated_at, pk),
            )

    def delete_policy_version(self, account_id: str, name: str, version_id: str) -> None:
        with self._write() as conn:
            row = _custom_policy(conn, account_id, name)
            number = _existing_version(conn, int(row["policy_pk"]), version_id)
            if number == row["default_version_no"]:
                raise DeleteConflict("Policy.Version.Default")
            conn.execute(
                "DELETE FROM policy_versions WHERE policy_pk = ? AND version_no = ?",
                (row["policy_pk"], number),
            )

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
        with self._write() as conn:
            principal_id = _PRINCIPAL_IDS[kind](conn, account_id, principal_name)
            pk = _policy_pk(conn, account_id, policy_name, policy_type)
            if _exists(conn, _ATTACHMENT_EXISTS, str(kind), principal_id, pk):
                raise AlreadyExists(f"{kind}.Policy", f"{policy_name} on {principal_name}")
            _check_quota(
                conn,
                f"{kind}.Policy",
                max_attached,
                _COUNT_ATTACHED_OF_TYPE,
                str(kind),
                principal_id,
                str(policy_type),
            )
            conn.execute(
                "INSERT INTO attachments (account_id, principal_type, principal_id, policy_pk,"
                " attach_date) VALUES (?, ?, ?, ?, ?)",
                (account_id, str(kind), principal_id, pk, attach_date),
            )

    def detach_policy(
        self,
        account_id: str,
        kind: PrincipalKind,
        principal_name: str,
        policy_name: str,
        policy_type: PolicyType,
    ) -> None:
        with self._write() as conn:
            principal_id = _PRINCIPAL_IDS[kind](conn, account_id, principal_name)
            pk = _policy_pk(conn, account_id, policy_name, policy_type)
            cursor = conn.execute(
                "DELETE FROM attachments WHERE principal_type = ? AND principal_id = ?"
                " AND policy_pk = ?",
                (str(kind), principal_id, pk),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"{kind}.Policy", f"{policy_name} on {principal_name}")

    def list_policies_for(
        self, account_id: str, kind: PrincipalKind, principal_name: str
    ) -> list[PolicyAttachment]:
        with self._read() as conn:
            principal_id = _PRINCIPAL_IDS[kind](conn, account_id, principal_name)
            rows = conn.execute(
                f"SELECT {_POLICY_COLUMNS}, a.attach_date FROM attachments a"
                " JOIN policies p ON p.policy_pk = a.policy_pk"
                " WHERE a.principal_type = :kind AND a.principal_id = :id"
                " ORDER BY p.policy_type, p.policy_name",
                {"kind": str(kind), "id": principal_id, "acct": account_id},
            ).fetchall()
        return [PolicyAttachment(_policy(row), row["attach_date"]) for row in rows]

    def list_entities_for_policy(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> PolicyEntities:
        with self._read() as conn:
            pk = _policy_pk(conn, account_id, name, policy_type)
            found = {
                kind: conn.execute(sql, (pk, account_id)).fetchall()
                for kind, sql in _ENTITIES_SQL.items()
            }
        return PolicyEntities(
            users=tuple(AttachedUser(_user(r), r["attach_date"]) for r in found["User"]),
            groups=tuple(AttachedGroup(_group(r), r["attach_date"]) for r in found["Group"]),
            roles=tuple(AttachedRole(_role(r), r["attach_date"]) for r in found["Role"]),
        )

    def policies_for_user(self, account_id: str, user_name: str) -> list[AttachedPolicy]:
        with self._read() as conn:
            rows = conn.execute(_POLICIES_FOR_USER, {"acct": account_id, "name": user_name})
            return [_attached(row) for row in rows.fetchall()]

    def policies_for_role(self, account_id: str, role_name: str) -> list[AttachedPolicy]:
        with self._read() as conn:
            rows = conn.execute(_POLICIES_FOR_ROLE, {"acct": account_id, "key": role_name.lower()})
            return [_attached(row) for row in rows.fetchall()]


# ---- SQL ----------------------------------------------------------------------------------

_INSERT_USER = (
    "INSERT INTO users (user_id, account_id, user_name, display_name, mobile_phone, email,"
    " comments, created_at, updated_at, last_login_at) VALUES (:user_id, :account_id,"
    " :user_name, :display_name, :mobile_phone, :email, :comments, :created_at, :updated_at,"
    " :last_login_at)"
)
_UPDATE_USER = (
    "UPDATE users SET user_name = :user_name, display_name = :display_name,"
    " mobile_phone = :mobile_phone, email = :email, comments = :comments,"
    " updated_at = :updated_at, last_login_at = :last_login_at WHERE user_id = :user_id"
)
_INSERT_GROUP = (
    "INSERT INTO user_groups (group_id, account_id, group_name, comments, created_at, updated_at)"
    " VALUES (:group_id, :account_id, :group_name, :comments, :created_at, :updated_at)"
)
_INSERT_ROLE = (
    "INSERT INTO roles (role_id, account_id, role_name, name_key, arn, description, trust_policy,"
    " max_session_duration, allow_console_login, tags, created_at, updated_at) VALUES"
    " (:role_id, :account_id, :role_name, :name_key, :arn, :description, :trust_policy,"
    " :max_session_duration, :allow_console_login, :tags, :created_at, :updated_at)"
)
_UPDATE_ROLE = (
    "UPDATE roles SET role_name = :role_name, name_key = :name_key, arn = :arn,"
    " description = :description, trust_policy = :trust_policy,"
    " max_session_duration = :max_session_duration, allow_console_login = :allow_console_login,"
    " tags = :tags, updated_at = :updated_at WHERE role_id = :role_id"
)
_SELECT_KEY = (
    "SELECT k.*, u.user_name FROM access_keys k LEFT JOIN users u ON u.user_id = k.user_id"
)
# every query selecting policies binds :acct (the attachment count is per account)
_POLICY_COLUMNS = (
    "p.policy_pk, p.account_id, p.policy_name, p.policy_type, p.description,"
    " p.default_version_no, p.last_version_no, p.tags, p.created_at, p.updated_at,"
    " (SELECT count(*) FROM attachments c WHERE c.policy_pk = p.policy_pk"
    " AND c.account_id = :acct) AS attachment_count"
)
_ATTACHMENT_EXISTS = (
    "SELECT 1 FROM attachments WHERE principal_type = ? AND principal_id = ? AND policy_pk = ?"
)
_COUNT_ATTACHED_OF_TYPE = (
    "SELECT count(*) FROM attachments a JOIN policies p ON p.policy_pk = a.policy_pk"
    " WHERE a.principal_type = ? AND a.principal_id = ? AND p.policy_type = ?"
)
_ENTITIES_SQL = {
    "User": "SELECT u.*, a.attach_date FROM attachments a JOIN users u ON u.user_id ="
    " a.principal_id WHERE a.policy_pk = ? AND a.account_id = ? AND a.principal_type = 'User'"
    " ORDER BY u.user_name",
    "Group": "SELECT g.*, a.attach_date FROM attachments a JOIN user_groups g ON g.group_id ="
    " a.principal_id WHERE a.policy_pk = ? AND a.account_id = ? AND a.principal_type = 'Group'"
    " ORDER BY g.group_name",
    "Role": "SELECT r.*, a.attach_date FROM attachments a JOIN roles r ON r.role_id ="
    " a.principal_id WHERE a.policy_pk = ? AND a.account_id = ? AND a.principal_type = 'Role'"
    " ORDER BY r.name_key",
}
_ATTACHED_COLUMNS = (
    "SELECT p.policy_name, p.policy_type, v.version_no, v.document FROM attachments a"
    " JOIN policies p ON p.policy_pk = a.policy_pk"
    " JOIN policy_versions v ON v.policy_pk = p.policy_pk AND v.version_no = p.default_version_no"
)
_POLICIES_FOR_USER = (
    f"{_ATTACHED_COLUMNS} WHERE a.principal_type = 'User' AND a.principal_id ="
    " (SELECT user_id FROM users WHERE account_id = :acct AND user_name = :name)"
    f" UNION {_ATTACHED_COLUMNS} WHERE a.principal_type = 'Group' AND a.principal_id IN"
    " (SELECT m.group_id FROM memberships m JOIN users u ON u.user_id = m.user_id"
    " WHERE u.account_id = :acct AND u.user_name = :name)"
    " ORDER BY 2, 1"
)
_POLICIES_FOR_ROLE = (
    f"{_ATTACHED_COLUMNS} WHERE a.principal_type = 'Role' AND a.principal_id ="
    " (SELECT role_id FROM roles WHERE account_id = :acct AND name_key = :key)"
    " ORDER BY p.policy_type, p.policy_name"
)
_USER_DEPENDENTS = (
    (
        "User.AccessKey",
        "SELECT 1 FROM access_keys WHERE account_id = :account_id AND user_id = :id",
    ),
    ("User.Group", "SELECT 1 FROM memberships WHERE user_id = :id"),
    (
        "User.Policy",
        "SELECT 1 FROM attachments WHERE principal_type = 'User' AND principal_id = :id",
    ),
)
_GROUP_DEPENDENTS = (
    ("Group.User", "SELECT 1 FROM memberships WHERE group_id = :id"),
    (
        "Group.Policy",
        "SELECT 1 FROM attachments WHERE principal_type = 'Group' AND principal_id = :id",
    ),
)
_ROLE_DEPENDENTS = (
    (
        "Role.Policy",
        "SELECT 1 FROM attachments WHERE principal_type = 'Role' AND principal_id = :id",
    ),
)
_POLICY_DEPENDENTS = tuple(
    (
        f"Policy.{kind}",
        f"SELECT 1 FROM attachments WHERE policy_pk = :pk AND principal_type = '{kind}'",
    )
    for kind in ("User", "Group", "Role")
)


# ---- helpers run inside a transaction -----------------------------------------------------


def _exists(conn: sqlite3.Connection, sql: str, *params: Any) -> bool:
    return conn.execute(sql + " LIMIT 1", params).fetchone() is not None


def _check_quota(conn: sqlite3.Connection, kind: str, limit: int, sql: str, *params: Any) -> None:
    if int(conn.execute(sql, params).fetchone()[0]) >= limit:
        raise LimitExceeded(kind)


def _refuse_dependents(
    conn: sqlite3.Connection, checks: Sequence[tuple[str, str]], **params: Any
) -> None:
    for kind, sql in checks:
        if conn.execute(sql + " LIMIT 1", params).fetchone() is not None:
            raise DeleteConflict(kind)


def _require_account(conn: sqlite3.Connection, account_id: str) -> None:
    if not _exists(conn, "SELECT 1 FROM accounts WHERE account_id = ?", account_id):
        raise NotFound("Account", account_id)


def _id_of(kind: str, sql: str) -> Callable[[sqlite3.Connection, str, str], str]:
    def lookup(conn: sqlite3.Connection, account_id: str, name: str) -> str:
        key = name.lower() if kind == "Role" else name
        row = conn.execute(sql, (account_id, key)).fetchone()
        if row is None:
            raise NotFound(kind, name)
        return str(row[0])

    return lookup


_user_id = _id_of("User", "SELECT user_id FROM users WHERE account_id = ? AND user_name = ?")
_group_id = _id_of(
    "Group", "SELECT group_id FROM user_groups WHERE account_id = ? AND group_name = ?"
)
_role_id = _id_of("Role", "SELECT role_id FROM roles WHERE account_id = ? AND name_key = ?")
_PRINCIPAL_IDS = {
    PrincipalKind.USER: _user_id,
    PrincipalKind.GROUP: _group_id,
    PrincipalKind.ROLE: _role_id,
}


def _refuse_taken(
    conn: sqlite3.Connection, kind: PrincipalKind, account_id: str, name: str
) -> None:
    """``AlreadyExists`` when the name is in use (checked first, so the error names it)."""
    try:
        _PRINCIPAL_IDS[kind](conn, account_id, name)
    except NotFound:
        return
    raise AlreadyExists(str(kind), name)


def _owned_key(
    conn: sqlite3.Connection, account_id: str, user_name: str | None, access_key_id: str
) -> None:
    owner = None if user_name is None else _user_id(conn, account_id, user_name)
    row = conn.execute(
        "SELECT user_id FROM access_keys WHERE access_key_id = ? AND account_id = ?",
        (access_key_id, account_id),
    ).fetchone()
    if row is None or row["user_id"] != owner:
        raise NotFound("User.AccessKey", access_key_id)


def _insert_key(conn: sqlite3.Connection, key: AccessKey) -> None:
    if _exists(conn, "SELECT 1 FROM access_keys WHERE access_key_id = ?", key.access_key_id):
        raise AlreadyExists("AccessKey", key.access_key_id)
    conn.execute(
        "INSERT INTO access_keys (access_key_id, account_id, user_id, status, secret_ciphertext,"
        " created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            key.access_key_id,
            key.account_id,
            key.user_id,
            str(key.status),
            key.secret_ciphertext,
            key.created_at,
            key.last_used_at,
        ),
    )


def _after(marker: str | None) -> str:
    key = decode_marker(marker)
    return "" if key is None else key[0]


def _tag_filter(column: str, tags: Sequence[Tag]) -> tuple[str, dict[str, str]]:
    """SQL requiring every tag (an empty value matches any value), with its named params."""
    sql = "".join(
        f" AND EXISTS (SELECT 1 FROM json_each({column}) t WHERE t.key = :tag_k{i}"
        f" AND (:tag_v{i} = '' OR t.value = :tag_v{i}))"
        for i in range(len(tags))
    )
    params = {
        f"tag_{part}{i}": value
        for i, tag in enumerate(tags)
        for part, value in (("k", tag.key), ("v", tag.value))
    }
    return sql, params


def _find_policy(
    conn: sqlite3.Connection, account_id: str, name: str, policy_type: PolicyType
) -> Row | None:
    if policy_type is PolicyType.SYSTEM:
        where = "p.account_id IS NULL AND p.policy_name = :name"
    else:
        where = "p.account_id = :acct AND p.policy_type = 'Custom' AND p.policy_name = :name"
    row: Row | None = conn.execute(
        f"SELECT {_POLICY_COLUMNS} FROM policies p WHERE {where}",
        {"acct": account_id, "name": name},
    ).fetchone()
    return row


def _policy_pk(
    conn: sqlite3.Connection, account_id: str, name: str, policy_type: PolicyType
) -> int:
    row = _find_policy(conn, account_id, name, policy_type)
    if row is None:
        raise NotFound("Policy", name)
    return int(row["policy_pk"])


def _custom_policy(conn: sqlite3.Connection, account_id: str, name: str) -> Row:
    row = _find_policy(conn, account_id, name, PolicyType.CUSTOM)
    if row is None:
        raise NotFound("Policy", name)
    return row


def _policy_types_from(
    policy_type: PolicyType | None, start: tuple[str, ...] | None
) -> list[PolicyType]:
    """The policy types still to scan, Custom before System, from the marker's type on."""
    wanted = [t for t in (PolicyType.CUSTOM, PolicyType.SYSTEM) if policy_type in (None, t)]
    return [t for t in wanted if start is None or str(t) >= start[0]]


def _policies_after(
    conn: sqlite3.Connection,
    account_id: str,
    policy_type: PolicyType,
    after: str,
    limit: int,
    tags: Sequence[Tag],
) -> list[Row]:
    owner = "p.account_id IS NULL" if policy_type is PolicyType.SYSTEM else "p.account_id = :acct"
    tag_sql, tag_params = _tag_filter("p.tags", tags)
    rows: list[Row] = conn.execute(
        f"SELECT {_POLICY_COLUMNS} FROM policies p WHERE {owner} AND p.policy_type = :type"
        f" AND p.policy_name > :after{tag_sql} ORDER BY p.policy_name LIMIT :limit",
        {
            "acct": account_id,
            "type": str(policy_type),
            "after": after,
            "limit": limit,
            **tag_params,
        },
    ).fetchall()
    return rows


def _insert_policy(
    conn: sqlite3.Connection, policy: Policy, document: str, version_no: int
) -> None:
    cursor = conn.execute(
        "INSERT INTO policies (account_id, policy_name, policy_type, description,"
        " default_version_no, last_version_no, tags, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            policy.account_id,
            policy.name,
            str(policy.policy_type),
            policy.description,
            version_no,
            version_no,
            _tags_json(policy.tags),
            policy.created_at,
            policy.updated_at,
        ),
    )
    conn.execute(
        "INSERT INTO policy_versions (policy_pk, version_no, document, created_at)"
        " VALUES (?, ?, ?, ?)",
        (cursor.lastrowid, version_no, document, policy.created_at),
    )


def _refresh_system_policy(
    conn: sqlite3.Connection, pk: int, policy: Policy, document: str, version_no: int
) -> None:
    """Bring a stored System policy in line with the shipped definition; no-op when equal."""
    current = conn.execute(
        "SELECT p.description, p.default_version_no, v.document FROM policies p"
        " LEFT JOIN policy_versions v ON v.policy_pk = p.policy_pk AND v.version_no = ?"
        " WHERE p.policy_pk = ?",
        (version_no, pk),
    ).fetchone()
    if tuple(current) == (policy.description, version_no, document):
        return
    conn.execute(
        "INSERT INTO policy_versions (policy_pk, version_no, document, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (policy_pk, version_no)"
        " DO UPDATE SET document = excluded.document",
        (pk, version_no, document, policy.updated_at),
    )
    conn.execute(
        "UPDATE policies SET description = ?, updated_at = ?, default_version_no = ?,"
        " last_version_no = max(last_version_no, ?) WHERE policy_pk = ?",
        (policy.description, policy.updated_at, version_no, version_no, pk),
    )


def _make_room_for_version(
    conn: sqlite3.Connection, pk: int, default_no: int, max_versions: int, rotate: bool
) -> None:
    numbers = [
        int(row[0])
        for row in conn.execute(
            "SELECT version_no FROM policy_versions WHERE policy_pk = ? ORDER BY version_no", (pk,)
        )
    ]
    removable = [n for n in numbers if n != default_no]
    while len(numbers) >= max_versions:
        if not rotate or not removable:
            raise LimitExceeded("Policy.Version")
        oldest = removable.pop(0)
        numbers.remove(oldest)
        conn.execute(
            "DELETE FROM policy_versions WHERE policy_pk = ? AND version_no = ?", (pk, oldest)
        )


def _existing_version(conn: sqlite3.Connection, pk: int, version_id: str) -> int:
    number = version_number(version_id)
    if number is None or not _exists(
        conn, "SELECT 1 FROM policy_versions WHERE policy_pk = ? AND version_no = ?", pk, number
    ):
        raise NotFound("Policy.Version", version_id)
    return number


# ---- rows <-> records ---------------------------------------------------------------------


def _user_params(user: User) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "account_id": user.account_id,
        "user_name": user.user_name,
        "display_name": user.display_name,
        "mobile_phone": user.mobile_phone,
        "email": user.email,
        "comments": user.comments,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "last_login_at": user.last_login_at,
    }


def _user(row: Row) -> User:
    return User(
        account_id=row["account_id"],
        user_id=row["user_id"],
        user_name=row["user_name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        display_name=row["display_name"],
        mobile_phone=row["mobile_phone"],
        email=row["email"],
        comments=row["comments"],
        last_login_at=row["last_login_at"],
    )


def _access_key(row: Row) -> AccessKey:
    return AccessKey(
        account_id=row["account_id"],
        access_key_id=row["access_key_id"],
        user_id=row["user_id"],
        user_name=row["user_name"],
        status=AccessKeyStatus(row["status"]),
        secret_ciphertext=row["secret_ciphertext"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


def _group_params(group: Group) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "account_id": group.account_id,
        "group_name": group.group_name,
        "comments": group.comments,
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


def _group(row: Row) -> Group:
    return Group(
        account_id=row["account_id"],
        group_id=row["group_id"],
        group_name=row["group_name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        comments=row["comments"],
    )


def _tags_json(tags: Sequence[Tag]) -> str:
    return json.dumps({tag.key: tag.value for tag in tags})


def _tags(text: str) -> tuple[Tag, ...]:
    return tuple(Tag(key, value) for key, value in json.loads(text).items())


def _role_params(role: Role) -> dict[str, Any]:
    return {
        "role_id": role.role_id,
        "account_id": role.account_id,
        "role_name": role.role_name,
        "name_key": role.role_name.lower(),
        "arn": role.arn,
        "description": role.description,
        "trust_policy": role.trust_policy,
        "max_session_duration": role.max_session_duration,
        "allow_console_login": int(role.allow_console_login),
        "tags": _tags_json(role.tags),
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }


def _role(row: Row) -> Role:
    return Role(
        account_id=row["account_id"],
        role_id=row["role_id"],
        role_name=row["role_name"],
        arn=row["arn"],
        trust_policy=row["trust_policy"],
        max_session_duration=int(row["max_session_duration"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        description=row["description"],
        allow_console_login=bool(row["allow_console_login"]),
        tags=_tags(row["tags"]),
    )


def _policy(row: Row) -> Policy:
    return Policy(
        account_id=row["account_id"],
        name=row["policy_name"],
        policy_type=PolicyType(row["policy_type"]),
        default_version=f"v{row['default_version_no']}",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        description=row["description"],
        attachment_count=int(row["attachment_count"]),
        tags=_tags(row["tags"]),
    )


def _policy_version(policy: Row, row: Row) -> PolicyVersion:
    return PolicyVersion(
        policy_name=policy["policy_name"],
        policy_type=PolicyType(policy["policy_type"]),
        version_id=f"v{row['version_no']}",
        document=row["document"],
        is_default=row["version_no"] == policy["default_version_no"],
        created_at=row["created_at"],
    )


def _attached(row: Row) -> AttachedPolicy:
    return AttachedPolicy(
        name=row["policy_name"],
        policy_type=PolicyType(row["policy_type"]),
        version_id=f"v{row['version_no']}",
        document=row["document"],
    )
