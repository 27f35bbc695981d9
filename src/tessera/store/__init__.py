"""Identity state behind one interface: ``IdentityStore`` with SQLite and in-memory implementations.

Owns: the public surface of ``tessera.store``. Callers depend on ``IdentityStore`` and the
records; they pick an implementation once, at startup (``open_sqlite_store(path)`` or
``MemoryIdentityStore()``).
Must not: import from ``identity``, ``rpc`` or any HTTP layer (the store sits below them).
"""

from __future__ import annotations

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
from tessera.store.memory import MemoryIdentityStore
from tessera.store.sqlite import SqliteIdentityStore, open_sqlite_store

__all__ = [
    "AccessKey",
    "AccessKeyStatus",
    "Account",
    "AttachedGroup",
    "AttachedPolicy",
    "AttachedRole",
    "AttachedUser",
    "Group",
    "GroupMember",
    "GroupMembership",
    "IdentityStore",
    "MemoryIdentityStore",
    "Page",
    "Policy",
    "PolicyAttachment",
    "PolicyEntities",
    "PolicyType",
    "PolicyVersion",
    "PrincipalKind",
    "Role",
    "SqliteIdentityStore",
    "Tag",
    "User",
    "open_sqlite_store",
]
