"""Small builders of store records for the contract tests (fixed, readable values)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tessera.errors import TesseraError
from tessera.store.base import (
    AccessKey,
    AccessKeyStatus,
    Account,
    Group,
    Policy,
    PolicyType,
    Role,
    Tag,
    User,
)

T0 = "2024-01-01T00:00:00Z"
T1 = "2024-01-02T00:00:00Z"
ACCOUNT = "1234567890123456"
OTHER_ACCOUNT = "6543210987654321"
MANY = 10_000  # a quota that is never reached
DOC = '{"Statement":[{"Action":"oss:GetObject","Effect":"Allow","Resource":"*"}],"Version":"1"}'
TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",'
    '"Principal":{"RAM":["acs:ram::1234567890123456:root"]}}],"Version":"1"}'
)


def account(account_id: str = ACCOUNT) -> Account:
    return Account(account_id, T0)


def root_key(account_id: str = ACCOUNT, key_id: str | None = None) -> AccessKey:
    return AccessKey(
        account_id=account_id,
        access_key_id=key_id or f"LTAIroot{account_id}",
        user_id=None,
        user_name=None,
        status=AccessKeyStatus.ACTIVE,
        secret_ciphertext="cipher-root",
        created_at=T0,
    )


def user(name: str, account_id: str = ACCOUNT, **fields: str) -> User:
    return User(
        account_id=account_id,
        user_id=f"uid-{account_id}-{name}",
        user_name=name,
        created_at=T0,
        updated_at=T0,
        **fields,
    )


def key(owner: User, key_id: str, created_at: str = T0) -> AccessKey:
    return AccessKey(
        account_id=owner.account_id,
        access_key_id=key_id,
        user_id=owner.user_id,
        user_name=owner.user_name,
        status=AccessKeyStatus.ACTIVE,
        secret_ciphertext=f"cipher-{key_id}",
        created_at=created_at,
    )


def group(name: str, account_id: str = ACCOUNT, comments: str | None = None) -> Group:
    return Group(
        account_id=account_id,
        group_id=f"g-{account_id}-{name}",
        group_name=name,
        created_at=T0,
        updated_at=T0,
        comments=comments,
    )


def role(name: str, account_id: str = ACCOUNT, tags: tuple[Tag, ...] = ()) -> Role:
    return Role(
        account_id=account_id,
        role_id=f"rid-{account_id}-{name}",
        role_name=name,
        arn=f"acs:ram::{account_id}:role/{name}",
        trust_policy=TRUST,
        max_session_duration=3600,
        created_at=T0,
        updated_at=T0,
        description="a role",
        tags=tags,
    )


def custom_policy(
    name: str, account_id: str = ACCOUNT, tags: tuple[Tag, ...] = (), description: str = "d"
) -> Policy:
    return Policy(
        account_id=account_id,
        name=name,
        policy_type=PolicyType.CUSTOM,
        default_version="v1",
        created_at=T0,
        updated_at=T0,
        description=description,
        tags=tags,
    )


def system_policy(name: str, description: str = "system") -> Policy:
    return Policy(
        account_id=None,
        name=name,
        policy_type=PolicyType.SYSTEM,
        default_version="v1",
        created_at=T0,
        updated_at=T0,
        description=description,
    )


@contextmanager
def fails(error: type[TesseraError], kind: str | None = None) -> Iterator[None]:
    """Expect ``error``; with ``kind``, also its ``kind`` field (``User.AccessKey``…)."""
    with pytest.raises(error) as caught:
        yield
    if kind is not None:
        assert caught.value.fields.get("kind") == kind
