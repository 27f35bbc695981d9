"""The ``store`` fixture: every contract test runs once per ``IdentityStore`` implementation.

PostgreSQL joins when ``TESSERA_TEST_POSTGRES_DSN`` is set: its module must then provide
``open_postgres_store(dsn, schema=...)`` giving each test a fresh, migrated schema.
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tessera.store import IdentityStore, MemoryIdentityStore, open_sqlite_store

from .records import ACCOUNT, OTHER_ACCOUNT, account, root_key


def _memory(tmp_path: Path) -> IdentityStore:
    return MemoryIdentityStore()


def _sqlite(tmp_path: Path) -> IdentityStore:
    return open_sqlite_store(tmp_path / "identity.db")


def _postgres(tmp_path: Path) -> IdentityStore:
    dsn = os.environ["TESSERA_TEST_POSTGRES_DSN"]
    module = importlib.import_module("tessera.store.postgres")
    opened: IdentityStore = module.open_postgres_store(dsn, schema=f"t_{uuid.uuid4().hex}")
    return opened


IMPLEMENTATIONS: dict[str, Callable[[Path], IdentityStore]] = {
    "memory": _memory,
    "sqlite": _sqlite,
}
# An implementation joins the contract only where it can run; no placeholder skips.
if os.environ.get("TESSERA_TEST_POSTGRES_DSN"):
    IMPLEMENTATIONS["postgres"] = _postgres


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdentityStore]:
    store = IMPLEMENTATIONS[request.param](tmp_path)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def store(empty_store: IdentityStore) -> IdentityStore:
    """A store with two accounts (``ACCOUNT`` and ``OTHER_ACCOUNT``), each with a root key."""
    for account_id in (ACCOUNT, OTHER_ACCOUNT):
        empty_store.create_account(account(account_id), root_key(account_id))
    return empty_store
