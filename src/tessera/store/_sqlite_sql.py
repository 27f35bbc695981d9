"""SQL text, in-transaction helpers and row mapping for ``tessera.store.sqlite``.

Owns: every SQL statement of the SQLite identity store, the small helpers that run inside one
of its transactions (existence checks, quotas, dependents, lookups by name) and the conversion
between rows and store records.
Must not: open connections or transactions (``sqlite.py`` does). SQL text is composed only
from the constants and generated placeholder names in this module (hence the ``S608`` marks);
every value is a bound parameter.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from tessera.errors import AlreadyExists, DeleteConflict, LimitExceeded, NotFound
from tessera.store.base import (
    AccessKey,
    AccessKeyStatus,
    AttachedPolicy,
    Group,
    Policy,
    PolicyType,
    PolicyVersion,
    PrincipalKind,
    Role,
    Tag,
    User,
    decode_marker,
    version_number,
)

Row = sqlite3.Row

INSERT_USER = (
    "INSERT INTO users (user_id, account_id, user_name, display_name, mobile_phone, email,"
    " comments, created_at, updated_at, last_login_at) VALUES (:user_id, :account_id,"
    " :user_name, :display_name, :mobile_phone, :email, :comments, :created_at, :updated_at,"
    " :last_login_at)"
)
UPDATE_USER = (
    "UPDATE users SET user_name = :user_name, display_name = :display_name,"
    " mobile_phone = :mobile_phone, email = :email, comments = :comments,"
    " updated_at = :updated_at, last_login_at = :last_login_at WHERE user_id = :user_id"
)
INSERT_GROUP = (
    "INSERT INTO user_groups (group_id, account_id, group_name, comments, created_at, updated_at)"
    " VALUES (:group_id, :account_id, :group_name, :comments, :created_at, :updated_at)"
)
INSERT_ROLE = (
    "INSERT INTO roles (role_id, account_id, role_name, name_key, arn, description, trust_policy,"
    " max_session_duration, allow_console_login, tags, created_at, updated_at) VALUES"
    " (:role_id, :account_id, :role_name, :name_key, :arn, :description, :trust_policy,"
    " :max_session_duration, :allow_console_login, :tags, :created_at, :updated_at)"
)
UPDATE_ROLE = (
    "UPDATE roles SET role_name = :role_name, name_key = :name_key, arn = :arn,"
    " description = :description, trust_policy = :trust_policy,"
    " max_session_duration = :max_session_duration, allow_console_login = :allow_console_login,"
    " tags = :tags, updated_at = :updated_at WHERE role_id = :role_id"
)
SELECT_KEY = "SELECT k.*, u.user_name FROM access_keys k LEFT JOIN users u ON u.user_id = k.user_id"
# every query selecting policies binds :acct (the attachment count is per account)
POLICY_COLUMNS = (
    "p.policy_pk, p.account_id, p.policy_name, p.policy_type, p.description,"
    " p.default_version_no, p.last_version_no, p.tags, p.created_at, p.updated_at,"
    " (SELECT count(*) FROM attachments c WHERE c.policy_pk = p.policy_pk"
    " AND c.account_id = :acct) AS attachment_count"
)
POLICIES_OF_PRINCIPAL = (
    f"SELECT {POLICY_COLUMNS}, a.attach_date FROM attachments a"  # noqa: S608
    " JOIN policies p ON p.policy_pk = a.policy_pk"
    " WHERE a.principal_type = :kind AND a.principal_id = :id"
    " ORDER BY p.policy_type, p.policy_name"
)
ATTACHMENT_EXISTS = (
    "SELECT 1 FROM attachments WHERE principal_type = ? AND principal_id = ? AND policy_pk = ?"
)
COUNT_ATTACHED_OF_TYPE = (
    "SELECT count(*) FROM attachments a JOIN policies p ON p.policy_pk = a.policy_pk"
    " WHERE a.principal_type = ? AND a.principal_id = ? AND p.policy_type = ?"
)
ENTITIES_SQL = {
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
ATTACHED_COLUMNS = (
    "SELECT p.policy_name, p.policy_type, v.version_no, v.document FROM attachments a"
    " JOIN policies p ON p.policy_pk = a.policy_pk"
    " JOIN policy_versions v ON v.policy_pk = p.policy_pk AND v.version_no = p.default_version_no"
)
POLICIES_FOR_USER = (
    f"{ATTACHED_COLUMNS} WHERE a.principal_type = 'User' AND a.principal_id ="  # noqa: S608
    " (SELECT user_id FROM users WHERE account_id = :acct AND user_name = :name)"
    f" UNION {ATTACHED_COLUMNS} WHERE a.principal_type = 'Group' AND a.principal_id IN"
    " (SELECT m.group_id FROM memberships m JOIN users u ON u.user_id = m.user_id"
    " WHERE u.account_id = :acct AND u.user_name = :name)"
    " ORDER BY 2, 1"
)
POLICIES_FOR_ROLE = (
    f"{ATTACHED_COLUMNS} WHERE a.principal_type = 'Role' AND a.principal_id ="  # noqa: S608
    " (SELECT role_id FROM roles WHERE account_id = :acct AND name_key = :key)"
    " ORDER BY p.policy_type, p.policy_name"
)
USER_DEPENDENTS = (
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
GROUP_DEPENDENTS = (
    ("Group.User", "SELECT 1 FROM memberships WHERE group_id = :id"),
    (
        "Group.Policy",
        "SELECT 1 FROM attachments WHERE principal_type = 'Group' AND principal_id = :id",
    ),
)
ROLE_DEPENDENTS = (
    (
        "Role.Policy",
        "SELECT 1 FROM attachments WHERE principal_type = 'Role' AND principal_id = :id",
    ),
)
POLICY_DEPENDENTS = tuple(
    (
        f"Policy.{kind}",
        f"SELECT 1 FROM attachments WHERE policy_pk = :pk AND principal_type = '{kind}'",  # noqa: S608
    )
    for kind in ("User", "Group", "Role")
)


# ---- helpers run inside a transaction -----------------------------------------------------


def exists(conn: sqlite3.Connection, sql: str, *params: Any) -> bool:
    return conn.execute(sql + " LIMIT 1", params).fetchone() is not None


def check_quota(conn: sqlite3.Connection, kind: str, limit: int, sql: str, *params: Any) -> None:
    if int(conn.execute(sql, params).fetchone()[0]) >= limit:
        raise LimitExceeded(kind)


def refuse_dependents(
    conn: sqlite3.Connection, checks: Sequence[tuple[str, str]], **params: Any
) -> None:
    for kind, sql in checks:
        if conn.execute(sql + " LIMIT 1", params).fetchone() is not None:
            raise DeleteConflict(kind)


def require_account(conn: sqlite3.Connection, account_id: str) -> None:
    if not exists(conn, "SELECT 1 FROM accounts WHERE account_id = ?", account_id):
        raise NotFound("Account", account_id)


def id_of(kind: str, sql: str) -> Callable[[sqlite3.Connection, str, str], str]:
    def lookup(conn: sqlite3.Connection, account_id: str, name: str) -> str:
        key = name.lower() if kind == "Role" else name
        row = conn.execute(sql, (account_id, key)).fetchone()
        if row is None:
            raise NotFound(kind, name)
        return str(row[0])

    return lookup


user_id = id_of("User", "SELECT user_id FROM users WHERE account_id = ? AND user_name = ?")
group_id = id_of(
    "Group", "SELECT group_id FROM user_groups WHERE account_id = ? AND group_name = ?"
)
role_id = id_of("Role", "SELECT role_id FROM roles WHERE account_id = ? AND name_key = ?")
PRINCIPAL_IDS = {
    PrincipalKind.USER: user_id,
    PrincipalKind.GROUP: group_id,
    PrincipalKind.ROLE: role_id,
}


def refuse_taken(conn: sqlite3.Connection, kind: PrincipalKind, account_id: str, name: str) -> None:
    """``AlreadyExists`` when the name is in use (checked first, so the error names it)."""
    try:
        PRINCIPAL_IDS[kind](conn, account_id, name)
    except NotFound:
        return
    raise AlreadyExists(str(kind), name)


def owned_key(
    conn: sqlite3.Connection, account_id: str, user_name: str | None, access_key_id: str
) -> None:
    owner = None if user_name is None else user_id(conn, account_id, user_name)
    row = conn.execute(
        "SELECT user_id FROM access_keys WHERE access_key_id = ? AND account_id = ?",
        (access_key_id, account_id),
    ).fetchone()
    if row is None or row["user_id"] != owner:
        raise NotFound("User.AccessKey", access_key_id)


def insert_key(conn: sqlite3.Connection, key: AccessKey) -> None:
    if exists(conn, "SELECT 1 FROM access_keys WHERE access_key_id = ?", key.access_key_id):
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


def after(marker: str | None) -> str:
    key = decode_marker(marker)
    return "" if key is None else key[0]


def tag_filter(column: str, tags: Sequence[Tag]) -> tuple[str, dict[str, str]]:
    """SQL requiring every tag (an empty value matches any value), with its named params."""
    sql = "".join(
        f" AND EXISTS (SELECT 1 FROM json_each({column}) t WHERE t.key = :tag_k{i}"  # noqa: S608
        f" AND (:tag_v{i} = '' OR t.value = :tag_v{i}))"
        for i in range(len(tags))
    )
    params = {
        f"tag_{part}{i}": value
        for i, tag in enumerate(tags)
        for part, value in (("k", tag.key), ("v", tag.value))
    }
    return sql, params


def roles_after(
    conn: sqlite3.Connection, account_id: str, after: str, limit: int, tags: Sequence[Tag]
) -> list[Row]:
    """Up to ``limit`` roles whose name key follows ``after`` and that carry all ``tags``."""
    tag_sql, tag_params = tag_filter("r.tags", tags)
    rows: list[Row] = conn.execute(
        "SELECT r.* FROM roles r WHERE r.account_id = :acct AND r.name_key > :after"  # noqa: S608
        f"{tag_sql} ORDER BY r.name_key LIMIT :limit",
        {"acct": account_id, "after": after, "limit": limit, **tag_params},
    ).fetchall()
    return rows


def find_policy(
    conn: sqlite3.Connection, account_id: str, name: str, policy_type: PolicyType
) -> Row | None:
    if policy_type is PolicyType.SYSTEM:
        where = "p.account_id IS NULL AND p.policy_name = :name"
    else:
        where = "p.account_id = :acct AND p.policy_type = 'Custom' AND p.policy_name = :name"
    row: Row | None = conn.execute(
        f"SELECT {POLICY_COLUMNS} FROM policies p WHERE {where}",  # noqa: S608
        {"acct": account_id, "name": name},
    ).fetchone()
    return row


def policy_pk(conn: sqlite3.Connection, account_id: str, name: str, policy_type: PolicyType) -> int:
    row = find_policy(conn, account_id, name, policy_type)
    if row is None:
        raise NotFound("Policy", name)
    return int(row["policy_pk"])


def custom_policy(conn: sqlite3.Connection, account_id: str, name: str) -> Row:
    row = find_policy(conn, account_id, name, PolicyType.CUSTOM)
    if row is None:
        raise NotFound("Policy", name)
    return row


def policy_types_from(
    policy_type: PolicyType | None, start: tuple[str, ...] | None
) -> list[PolicyType]:
    """The policy types still to scan, Custom before System, from the marker's type on."""
    wanted = [t for t in (PolicyType.CUSTOM, PolicyType.SYSTEM) if policy_type in (None, t)]
    return [t for t in wanted if start is None or str(t) >= start[0]]


def policies_after(
    conn: sqlite3.Connection,
    account_id: str,
    policy_type: PolicyType,
    after: str,
    limit: int,
    tags: Sequence[Tag],
) -> list[Row]:
    owner = "p.account_id IS NULL" if policy_type is PolicyType.SYSTEM else "p.account_id = :acct"
    tag_sql, tag_params = tag_filter("p.tags", tags)
    rows: list[Row] = conn.execute(
        f"SELECT {POLICY_COLUMNS} FROM policies p WHERE {owner} AND p.policy_type = :type"  # noqa: S608
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


def insert_policy(conn: sqlite3.Connection, policy: Policy, document: str, version_no: int) -> None:
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
            tags_json(policy.tags),
            policy.created_at,
            policy.updated_at,
        ),
    )
    conn.execute(
        "INSERT INTO policy_versions (policy_pk, version_no, document, created_at)"
        " VALUES (?, ?, ?, ?)",
        (cursor.lastrowid, version_no, document, policy.created_at),
    )


def refresh_system_policy(
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


def make_room_for_version(
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


def existing_version(conn: sqlite3.Connection, pk: int, version_id: str) -> int:
    number = version_number(version_id)
    if number is None or not exists(
        conn, "SELECT 1 FROM policy_versions WHERE policy_pk = ? AND version_no = ?", pk, number
    ):
        raise NotFound("Policy.Version", version_id)
    return number


# ---- rows <-> records ---------------------------------------------------------------------


def user_params(user: User) -> dict[str, Any]:
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


def user(row: Row) -> User:
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


def access_key(row: Row) -> AccessKey:
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


def group_params(group: Group) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "account_id": group.account_id,
        "group_name": group.group_name,
        "comments": group.comments,
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


def group(row: Row) -> Group:
    return Group(
        account_id=row["account_id"],
        group_id=row["group_id"],
        group_name=row["group_name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        comments=row["comments"],
    )


def tags_json(tags: Sequence[Tag]) -> str:
    return json.dumps({tag.key: tag.value for tag in tags})


def tags(text: str) -> tuple[Tag, ...]:
    return tuple(Tag(key, value) for key, value in json.loads(text).items())


def role_params(role: Role) -> dict[str, Any]:
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
        "tags": tags_json(role.tags),
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }


def role(row: Row) -> Role:
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
        tags=tags(row["tags"]),
    )


def policy(row: Row) -> Policy:
    return Policy(
        account_id=row["account_id"],
        name=row["policy_name"],
        policy_type=PolicyType(row["policy_type"]),
        default_version=f"v{row['default_version_no']}",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        description=row["description"],
        attachment_count=int(row["attachment_count"]),
        tags=tags(row["tags"]),
    )


def policy_version(policy: Row, row: Row) -> PolicyVersion:
    return PolicyVersion(
        account_id=policy["account_id"],
        policy_name=policy["policy_name"],
        policy_type=PolicyType(policy["policy_type"]),
        version_id=f"v{row['version_no']}",
        document=row["document"],
        is_default=row["version_no"] == policy["default_version_no"],
        created_at=row["created_at"],
    )


def attached(row: Row) -> AttachedPolicy:
    return AttachedPolicy(
        name=row["policy_name"],
        policy_type=PolicyType(row["policy_type"]),
        version_id=f"v{row['version_no']}",
        document=row["document"],
    )
