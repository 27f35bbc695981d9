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

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from tessera.clock import SystemClock, iso8601
from tessera.errors import (
    AlreadyExists,
    DeleteConflict,
    InternalError,
    NotFound,
    TesseraError,
)
from tessera.store import _sqlite_sql as sql
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
from tessera.store.commit_queue import Commit, CommitQueue, CommitWatch
from tessera.store.migrations import apply_sqlite_migrations

T = TypeVar("T")

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
    # FULL: in WAL mode a commit fsyncs the log, so a write reported to a client survives a
    # power cut too (NORMAL keeps it only across a process crash). Hot OSS writes share the
    # fsync through ``CommitQueue``.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def as_tessera_error(exc: BaseException) -> BaseException:
    """The error ``translate_errors`` would raise for ``exc`` (for errors crossing threads)."""
    try:
        with translate_errors():
            raise exc
    except BaseException as translated:
        return translated


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL. SQLite answers "locked" at once (no busy wait) while another connection
    is creating the same new database, so retry until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SqliteConnections:
    """Per-thread connections to one SQLite file and the transaction helpers every SQLite
    store uses (identity and OSS metadata share the file and this plumbing): ``_write`` for a
    transaction on the caller's thread, ``_submit`` for one that joins the group commit of
    ``CommitQueue`` (started on first use, stopped by ``close``)."""

    _store_name = "store"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        on_statement: Callable[[str], None] | None = None,
    ) -> None:
        self._path = os.fspath(path)
        self._timeout = busy_timeout
        self._on_statement = on_statement
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False
        self._commits: CommitQueue | None = None

    def migrate(self) -> list[int]:
        """Apply pending migrations (one version line for every table in the file)."""
        with translate_errors():
            conn = self._connection()
            enable_wal(conn, self._timeout)
            return apply_sqlite_migrations(conn, iso8601(SystemClock().now()))

    def close(self) -> None:
        with self._guard:
            self._closed = True  # first: a write submitted from now on is refused
            commits, self._commits = self._commits, None
        if commits is not None:
            commits.close()
        with self._guard:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection()
            with self._guard:
                if self._closed:
                    conn.close()
                    raise InternalError(f"the {self._store_name} is closed")
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _new_connection(self) -> sqlite3.Connection:
        conn = _connect(self._path, self._timeout)
        if self._on_statement is not None:
            conn.set_trace_callback(self._on_statement)
        return conn

    def _submit(
        self, work: Callable[[sqlite3.Connection], T], *, savepoint: bool = True
    ) -> Future[T]:
        """Run ``work(conn)`` on the writer thread in a shared write transaction (group
        commit); the future resolves once that transaction is durably committed.
        ``savepoint=False`` for a work that changes nothing when it raises
        (``CommitQueue.submit``)."""
        return self._commit_queue().submit(work, savepoint=savepoint)

    def _submit_here(
        self,
        work: Callable[[sqlite3.Connection], T],
        *,
        savepoint: bool = True,
        keeps_watched: bool = False,
    ) -> Commit[T]:
        """``_submit`` from an event loop: the loop running in this thread commits ``work``
        itself, with its other works of that pass (small works only,
        ``CommitQueue.submit_here``). ``keeps_watched``: ``work`` changes nothing that
        ``_commit_watch`` watches."""
        return self._commit_queue().submit_here(
            work, savepoint=savepoint, keeps_watched=keeps_watched
        )

    def _commit_watch(self) -> CommitWatch | None:
        """What the commit queue tells of each transaction it commits (none here)."""
        return None

    def _commit_queue(self) -> CommitQueue:
        with self._guard:
            if self._closed:
                raise InternalError(f"the {self._store_name} is closed")
            if self._commits is None:
                self._commits = CommitQueue(
                    self._new_connection,
                    as_tessera_error,
                    lock_path=self._path + "-commit.lock",
                    log_path=self._path + "-wal",
                    name=f"tessera-commit-{os.path.basename(self._path)}",
                    watch=self._commit_watch(),
                )
            return self._commits

    def _queued(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` committed through the commit queue, waited for. For the calling
        thread a plain write transaction, but it shares the batch (and fsync) of concurrent
        writes and never polls SQLite's write lock while the queue's writer holds it. Not
        from the event loop (it blocks) nor from inside a queued work (it would wait for
        itself)."""
        return self._submit(work).result()

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
        """A write transaction of the calling thread (identity writes: rare, admin-driven;
        the OSS store queues every write instead, ``_queued``)."""
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

    def _one(self, query: str, params: Sequence[Any] | dict[str, Any]) -> Row | None:
        with translate_errors():
            row: Row | None = self._connection().execute(query, params).fetchone()
            return row


class SqliteIdentityStore(SqliteConnections):
    """``IdentityStore`` on one SQLite file. Use ``open_sqlite_store``; call ``close`` at exit."""

    _store_name = "identity store"

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
            if sql.exists(conn, "SELECT 1 FROM accounts WHERE account_id = ?", account.account_id):
                raise AlreadyExists("Account", account.account_id)
            conn.execute(
                "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)",
                (account.account_id, account.created_at),
            )
            sql.insert_key(conn, root_key)

    def add_root_access_key(self, key: AccessKey) -> None:
        with self._write() as conn:
            sql.require_account(conn, key.account_id)
            sql.insert_key(conn, key)

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
            sql.require_account(conn, user.account_id)
            sql.refuse_taken(conn, PrincipalKind.USER, user.account_id, user.user_name)
            sql.check_quota(
                conn,
                "User",
                max_users,
                "SELECT count(*) FROM users WHERE account_id = ?",
                user.account_id,
            )
            conn.execute(sql.INSERT_USER, sql.user_params(user))

    def get_user(self, account_id: str, user_name: str) -> User | None:
        row = self._one(
            "SELECT * FROM users WHERE account_id = ? AND user_name = ?", (account_id, user_name)
        )
        return None if row is None else sql.user(row)

    def get_user_by_id(self, account_id: str, user_id: str) -> User | None:
        row = self._one(
            "SELECT * FROM users WHERE account_id = ? AND user_id = ?", (account_id, user_id)
        )
        return None if row is None else sql.user(row)

    def update_user(self, account_id: str, user_name: str, user: User) -> None:
        with self._write() as conn:
            user_id = sql.user_id(conn, account_id, user_name)
            if user.user_name != user_name:
                sql.refuse_taken(conn, PrincipalKind.USER, account_id, user.user_name)
            conn.execute(sql.UPDATE_USER, {**sql.user_params(user), "user_id": user_id})

    def delete_user(self, account_id: str, user_name: str) -> None:
        with self._write() as conn:
            user_id = sql.user_id(conn, account_id, user_name)
            sql.refuse_dependents(conn, sql.USER_DEPENDENTS, account_id=account_id, id=user_id)
            conn.execute("DELETE FROM users WHERE user_id = ?", (user_id,))

    def list_users(self, account_id: str, *, marker: str | None, limit: int) -> Page[User]:
        after = sql.after(marker)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM users WHERE account_id = ? AND user_name > ?"
                " ORDER BY user_name LIMIT ?",
                (account_id, after, limit + 1),
            ).fetchall()
        return make_page([sql.user(row) for row in rows], limit, lambda u: (u.user_name,))

    # ---- access keys ----------------------------------------------------------------------

    def create_access_key(self, key: AccessKey, *, max_per_user: int) -> None:
        if key.user_id is None:
            raise ValueError("root keys are created with create_account/add_root_access_key")
        with self._write() as conn:
            if not sql.exists(
                conn,
                "SELECT 1 FROM users WHERE user_id = ? AND account_id = ?",
                key.user_id,
                key.account_id,
            ):
                raise NotFound("User", key.user_name or "")
            sql.check_quota(
                conn,
                "User.AccessKey",
                max_per_user,
                "SELECT count(*) FROM access_keys WHERE account_id = ? AND user_id = ?",
                key.account_id,
                key.user_id,
            )
            sql.insert_key(conn, key)

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        row = self._one(sql.SELECT_KEY + " WHERE k.access_key_id = ?", (access_key_id,))
        return None if row is None else sql.access_key(row)

    def list_access_keys(self, account_id: str, user_name: str | None) -> list[AccessKey]:
        with self._read() as conn:
            owner = None if user_name is None else sql.user_id(conn, account_id, user_name)
            rows = conn.execute(
                sql.SELECT_KEY + " WHERE k.account_id = ? AND k.user_id IS ?"
                " ORDER BY k.created_at, k.access_key_id",
                (account_id, owner),
            ).fetchall()
        return [sql.access_key(row) for row in rows]

    def set_access_key_status(
        self, account_id: str, user_name: str | None, access_key_id: str, status: AccessKeyStatus
    ) -> None:
        with self._write() as conn:
            sql.owned_key(conn, account_id, user_name, access_key_id)
            conn.execute(
                "UPDATE access_keys SET status = ? WHERE access_key_id = ?",
                (str(status), access_key_id),
            )

    def delete_access_key(self, account_id: str, user_name: str | None, access_key_id: str) -> None:
        with self._write() as conn:
            sql.owned_key(conn, account_id, user_name, access_key_id)
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
            sql.require_account(conn, group.account_id)
            sql.refuse_taken(conn, PrincipalKind.GROUP, group.account_id, group.group_name)
            sql.check_quota(
                conn,
                "Group",
                max_groups,
                "SELECT count(*) FROM user_groups WHERE account_id = ?",
                group.account_id,
            )
            conn.execute(sql.INSERT_GROUP, sql.group_params(group))

    def get_group(self, account_id: str, group_name: str) -> Group | None:
        row = self._one(
            "SELECT * FROM user_groups WHERE account_id = ? AND group_name = ?",
            (account_id, group_name),
        )
        return None if row is None else sql.group(row)

    def update_group(self, account_id: str, group_name: str, group: Group) -> None:
        with self._write() as conn:
            group_id = sql.group_id(conn, account_id, group_name)
            if group.group_name != group_name:
                sql.refuse_taken(conn, PrincipalKind.GROUP, account_id, group.group_name)
            conn.execute(
                "UPDATE user_groups SET group_name = :group_name, comments = :comments,"
                " updated_at = :updated_at WHERE group_id = :group_id",
                {**sql.group_params(group), "group_id": group_id},
            )

    def delete_group(self, account_id: str, group_name: str) -> None:
        with self._write() as conn:
            group_id = sql.group_id(conn, account_id, group_name)
            sql.refuse_dependents(conn, sql.GROUP_DEPENDENTS, account_id=account_id, id=group_id)
            conn.execute("DELETE FROM user_groups WHERE group_id = ?", (group_id,))

    def list_groups(self, account_id: str, *, marker: str | None, limit: int) -> Page[Group]:
        after = sql.after(marker)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM user_groups WHERE account_id = ? AND group_name > ?"
                " ORDER BY group_name LIMIT ?",
                (account_id, after, limit + 1),
            ).fetchall()
        return make_page([sql.group(row) for row in rows], limit, lambda g: (g.group_name,))

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
            group_id = sql.group_id(conn, account_id, group_name)
            user_id = sql.user_id(conn, account_id, user_name)
            if sql.exists(
                conn,
                "SELECT 1 FROM memberships WHERE group_id = ? AND user_id = ?",
                group_id,
                user_id,
            ):
                raise AlreadyExists("User.Group", f"{user_name} in {group_name}")
            sql.check_quota(
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
            group_id = sql.group_id(conn, account_id, group_name)
            user_id = sql.user_id(conn, account_id, user_name)
            cursor = conn.execute(
                "DELETE FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
            if cursor.rowcount == 0:
                raise NotFound("User.Group", f"{user_name} in {group_name}")

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[GroupMembership]:
        with self._read() as conn:
            user_id = sql.user_id(conn, account_id, user_name)
            rows = conn.execute(
                "SELECT g.*, m.join_date FROM memberships m"
                " JOIN user_groups g ON g.group_id = m.group_id"
                " WHERE m.user_id = ? ORDER BY g.group_name",
                (user_id,),
            ).fetchall()
        return [GroupMembership(sql.group(row), row["join_date"]) for row in rows]

    def list_users_for_group(
        self, account_id: str, group_name: str, *, marker: str | None, limit: int
    ) -> Page[GroupMember]:
        after = sql.after(marker)
        with self._read() as conn:
            group_id = sql.group_id(conn, account_id, group_name)
            rows = conn.execute(
                "SELECT u.*, m.join_date FROM memberships m JOIN users u ON u.user_id = m.user_id"
                " WHERE m.group_id = ? AND u.user_name > ? ORDER BY u.user_name LIMIT ?",
                (group_id, after, limit + 1),
            ).fetchall()
        members = [GroupMember(sql.user(row), row["join_date"]) for row in rows]
        return make_page(members, limit, lambda m: (m.user.user_name,))

    # ---- roles ----------------------------------------------------------------------------

    def create_role(self, role: Role, *, max_roles: int) -> None:
        with self._write() as conn:
            sql.require_account(conn, role.account_id)
            sql.refuse_taken(conn, PrincipalKind.ROLE, role.account_id, role.role_name)
            sql.check_quota(
                conn,
                "Role",
                max_roles,
                "SELECT count(*) FROM roles WHERE account_id = ?",
                role.account_id,
            )
            conn.execute(sql.INSERT_ROLE, sql.role_params(role))

    def get_role(self, account_id: str, role_name: str) -> Role | None:
        row = self._one(
            "SELECT * FROM roles WHERE account_id = ? AND name_key = ?",
            (account_id, role_name.lower()),
        )
        return None if row is None else sql.role(row)

    def get_role_by_id(self, account_id: str, role_id: str) -> Role | None:
        row = self._one(
            "SELECT * FROM roles WHERE account_id = ? AND role_id = ?", (account_id, role_id)
        )
        return None if row is None else sql.role(row)

    def update_role(self, account_id: str, role_name: str, role: Role) -> None:
        with self._write() as conn:
            role_id = sql.role_id(conn, account_id, role_name)
            if role.role_name.lower() != role_name.lower():
                sql.refuse_taken(conn, PrincipalKind.ROLE, account_id, role.role_name)
            conn.execute(sql.UPDATE_ROLE, {**sql.role_params(role), "role_id": role_id})

    def delete_role(self, account_id: str, role_name: str) -> None:
        with self._write() as conn:
            role_id = sql.role_id(conn, account_id, role_name)
            sql.refuse_dependents(conn, sql.ROLE_DEPENDENTS, account_id=account_id, id=role_id)
            conn.execute("DELETE FROM roles WHERE role_id = ?", (role_id,))

    def list_roles(
        self, account_id: str, *, marker: str | None, limit: int, tags: Sequence[Tag] = ()
    ) -> Page[Role]:
        with self._read() as conn:
            rows = sql.roles_after(conn, account_id, sql.after(marker), limit + 1, tags)
        return make_page([sql.role(row) for row in rows], limit, lambda r: (r.role_name.lower(),))

    # ---- policies -------------------------------------------------------------------------

    def put_system_policy(self, policy: Policy, document: str) -> None:
        version_no = version_number(policy.default_version) or 1
        with self._write() as conn:
            row = conn.execute(
                "SELECT policy_pk FROM policies WHERE account_id IS NULL AND policy_name = ?",
                (policy.name,),
            ).fetchone()
            if row is None:
                sql.insert_policy(conn, policy, document, version_no)
                return
            sql.refresh_system_policy(conn, int(row["policy_pk"]), policy, document, version_no)

    def create_policy(self, policy: Policy, document: str, *, max_policies: int) -> None:
        account_id = policy.account_id or ""
        with self._write() as conn:
            sql.require_account(conn, account_id)
            for kind in PolicyType:
                if sql.find_policy(conn, account_id, policy.name, kind) is not None:
                    raise AlreadyExists("Policy", policy.name)
            sql.check_quota(
                conn,
                "Policy",
                max_policies,
                "SELECT count(*) FROM policies WHERE account_id = ?",
                account_id,
            )
            sql.insert_policy(conn, policy, document, 1)

    def get_policy(self, account_id: str, name: str, policy_type: PolicyType) -> Policy | None:
        with self._read() as conn:
            row = sql.find_policy(conn, account_id, name, policy_type)
        return None if row is None else sql.policy(row)

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
            for kind in sql.policy_types_from(policy_type, start):
                after = start[1] if start is not None and start[0] == kind else ""
                rows = sql.policies_after(
                    conn, account_id, kind, after, limit + 1 - len(found), tags
                )
                found.extend(sql.policy(row) for row in rows)
                if len(found) > limit:
                    break
        return make_page(found, limit, lambda p: (str(p.policy_type), p.name))

    def update_policy_description(
        self, account_id: str, name: str, description: str, *, updated_at: str
    ) -> None:
        with self._write() as conn:
            pk = sql.custom_policy(conn, account_id, name)["policy_pk"]
            conn.execute(
                "UPDATE policies SET description = ?, updated_at = ? WHERE policy_pk = ?",
                (description, updated_at, pk),
            )

    def delete_policy(self, account_id: str, name: str, *, cascade: bool) -> None:
        with self._write() as conn:
            row = sql.custom_policy(conn, account_id, name)
            pk = int(row["policy_pk"])
            sql.refuse_dependents(conn, sql.POLICY_DEPENDENTS, pk=pk)
            if not cascade and sql.exists(
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
            row = sql.custom_policy(conn, account_id, name)
            pk, default_no = int(row["policy_pk"]), int(row["default_version_no"])
            sql.make_room_for_version(conn, pk, default_no, max_versions, rotate)
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
            account_id, name, PolicyType.CUSTOM, f"v{number}", document, set_default, created_at
        )

    def get_policy_version(
        self, account_id: str, name: str, policy_type: PolicyType, version_id: str
    ) -> PolicyVersion | None:
        number = version_number(version_id)
        with self._read() as conn:
            policy = sql.find_policy(conn, account_id, name, policy_type)
            if policy is None or number is None:
                return None
            row = conn.execute(
                "SELECT * FROM policy_versions WHERE policy_pk = ? AND version_no = ?",
                (policy["policy_pk"], number),
            ).fetchone()
        return None if row is None else sql.policy_version(policy, row)

    def list_policy_versions(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> list[PolicyVersion]:
        with self._read() as conn:
            policy = sql.find_policy(conn, account_id, name, policy_type)
            if policy is None:
                raise NotFound("Policy", name)
            rows = conn.execute(
                "SELECT * FROM policy_versions WHERE policy_pk = ? ORDER BY version_no",
                (policy["policy_pk"],),
            ).fetchall()
        return [sql.policy_version(policy, row) for row in rows]

    def set_default_policy_version(
        self, account_id: str, name: str, version_id: str, *, updated_at: str
    ) -> None:
        with self._write() as conn:
            pk = int(sql.custom_policy(conn, account_id, name)["policy_pk"])
            number = sql.existing_version(conn, pk, version_id)
            conn.execute(
                "UPDATE policies SET default_version_no = ?, updated_at = ? WHERE policy_pk = ?",
                (number, updated_at, pk),
            )

    def delete_policy_version(self, account_id: str, name: str, version_id: str) -> None:
        with self._write() as conn:
            row = sql.custom_policy(conn, account_id, name)
            number = sql.existing_version(conn, int(row["policy_pk"]), version_id)
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
            principal_id = sql.PRINCIPAL_IDS[kind](conn, account_id, principal_name)
            pk = sql.policy_pk(conn, account_id, policy_name, policy_type)
            if sql.exists(conn, sql.ATTACHMENT_EXISTS, str(kind), principal_id, pk):
                raise AlreadyExists(f"{kind}.Policy", f"{policy_name} on {principal_name}")
            sql.check_quota(
                conn,
                f"{kind}.Policy",
                max_attached,
                sql.COUNT_ATTACHED_OF_TYPE,
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
            principal_id = sql.PRINCIPAL_IDS[kind](conn, account_id, principal_name)
            pk = sql.policy_pk(conn, account_id, policy_name, policy_type)
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
            principal_id = sql.PRINCIPAL_IDS[kind](conn, account_id, principal_name)
            rows = conn.execute(
                sql.POLICIES_OF_PRINCIPAL,
                {"kind": str(kind), "id": principal_id, "acct": account_id},
            ).fetchall()
        return [PolicyAttachment(sql.policy(row), row["attach_date"]) for row in rows]

    def list_entities_for_policy(
        self, account_id: str, name: str, policy_type: PolicyType
    ) -> PolicyEntities:
        with self._read() as conn:
            pk = sql.policy_pk(conn, account_id, name, policy_type)
            found = {
                kind: conn.execute(query, (pk, account_id)).fetchall()
                for kind, query in sql.ENTITIES_SQL.items()
            }
        return PolicyEntities(
            users=tuple(AttachedUser(sql.user(r), r["attach_date"]) for r in found["User"]),
            groups=tuple(AttachedGroup(sql.group(r), r["attach_date"]) for r in found["Group"]),
            roles=tuple(AttachedRole(sql.role(r), r["attach_date"]) for r in found["Role"]),
        )

    def policies_for_user(self, account_id: str, user_name: str) -> list[AttachedPolicy]:
        with self._read() as conn:
            rows = conn.execute(sql.POLICIES_FOR_USER, {"acct": account_id, "name": user_name})
            return [sql.attached(row) for row in rows.fetchall()]

    def policies_for_role(self, account_id: str, role_name: str) -> list[AttachedPolicy]:
        with self._read() as conn:
            rows = conn.execute(
                sql.POLICIES_FOR_ROLE, {"acct": account_id, "key": role_name.lower()}
            )
            return [sql.attached(row) for row in rows.fetchall()]
