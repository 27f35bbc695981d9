"""What only the SQLite store promises: durability, migrations, error translation."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tessera.errors import AlreadyExists, InternalError
from tessera.identity.system_policies import SYSTEM_POLICIES, install_system_policies
from tessera.store import PolicyType, open_sqlite_store
from tessera.store.migrations import load_migrations, schema_version, split_statements
from tessera.store.sqlite import translate_errors

from .records import ACCOUNT, DOC, MANY, T1, account, custom_policy, key, role, root_key, user


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "identity.db"
    store = open_sqlite_store(path)
    store.create_account(account(), root_key())
    store.create_user(user("alice"), max_users=MANY)
    store.create_access_key(key(user("alice"), "LTAIalice"), max_per_user=2)
    store.create_role(role("Writer"), max_roles=MANY)
    store.create_policy(custom_policy("p1"), DOC, max_policies=MANY)
    store.create_policy_version(
        ACCOUNT, "p1", "{2}", set_default=True, created_at=T1, max_versions=5, rotate=False
    )
    store.put_setting("sts.keyring", "k1")
    install_system_policies(store)
    store.close()

    reopened = open_sqlite_store(path)
    try:
        assert reopened.get_account(ACCOUNT) == account()
        assert reopened.get_user(ACCOUNT, "alice") == user("alice")
        assert reopened.get_access_key("LTAIalice") == key(user("alice"), "LTAIalice")
        assert reopened.get_role(ACCOUNT, "writer") == role("Writer")
        policy = reopened.get_policy(ACCOUNT, "p1", PolicyType.CUSTOM)
        assert policy is not None and policy.default_version == "v2"
        assert reopened.get_setting("sts.keyring") == "k1"
        names = {
            p.name
            for p in reopened.list_policies(
                ACCOUNT, policy_type=PolicyType.SYSTEM, marker=None, limit=100
            ).items
        }
        assert names == {p.name for p in SYSTEM_POLICIES}
    finally:
        reopened.close()


def test_migrations_are_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "identity.db"
    first = open_sqlite_store(path)
    assert first.migrate() == []  # open_sqlite_store already applied them
    first.close()
    second = open_sqlite_store(path)
    assert second.migrate() == []
    second.close()
    with sqlite3.connect(path) as conn:
        latest = max(m.version for m in load_migrations("sqlite"))
        assert schema_version(conn) == latest
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "identity.db"
    barrier, errors = threading.Barrier(4), []

    def open_it() -> None:
        barrier.wait()
        try:
            open_sqlite_store(path).close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version FROM schema_version").fetchall()
    conn.close()
    assert sorted(r[0] for r in rows) == [m.version for m in load_migrations("sqlite")]


def test_migration_files_are_numbered_and_split_cleanly() -> None:
    migrations = load_migrations("sqlite")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        assert all(sqlite3.complete_statement(s) for s in split_statements(migration.sql))


def test_split_statements_rejects_a_truncated_script() -> None:
    assert split_statements("-- c\nCREATE TABLE a (x);\n-- tail\n") == ["-- c\nCREATE TABLE a (x);"]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE a (x)")


def test_sqlite_errors_are_translated() -> None:
    with pytest.raises(AlreadyExists) as caught, translate_errors():
        raise sqlite3.IntegrityError("UNIQUE constraint failed: users.account_id, users.user_name")
    assert caught.value.kind == "User"
    with pytest.raises(InternalError), translate_errors():
        raise sqlite3.OperationalError("database is locked")
    with pytest.raises(InternalError), translate_errors():
        raise sqlite3.IntegrityError("FOREIGN KEY constraint failed")


def test_a_closed_store_fails_cleanly(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "identity.db")
    store.close()
    with pytest.raises(InternalError):
        store.get_account(ACCOUNT)
