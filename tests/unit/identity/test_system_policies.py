"""The shipped System policies: the documents of spec §3.11 and the brief, valid, installable."""

from __future__ import annotations

import json

import pytest

from tessera.identity.system_policies import (
    SYSTEM_POLICIES,
    SYSTEM_POLICY_DATE,
    install_system_policies,
)
from tessera.policy import parse_policy
from tessera.store import MemoryIdentityStore, PolicyType

EXPECTED_ACTIONS = {
    "AdministratorAccess": "*",
    "AliyunRAMFullAccess": "ram:*",
    "AliyunRAMReadOnlyAccess": ["ram:Get*", "ram:List*"],
    "AliyunSTSAssumeRoleAccess": "sts:AssumeRole",
    "AliyunOSSFullAccess": "oss:*",
    "AliyunOSSReadOnlyAccess": ["oss:Get*", "oss:List*"],
}


def test_the_documents_are_those_published() -> None:
    assert {p.name: json.loads(p.document)["Statement"][0]["Action"] for p in SYSTEM_POLICIES} == (
        EXPECTED_ACTIONS
    )
    admin = next(p for p in SYSTEM_POLICIES if p.name == "AdministratorAccess")
    assert admin.document == (
        '{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}],"Version":"1"}'
    )
    assert all(p.description for p in SYSTEM_POLICIES)


@pytest.mark.parametrize("policy", SYSTEM_POLICIES, ids=lambda p: p.name)
def test_each_document_passes_the_strict_grammar(policy: object) -> None:
    parse_policy(policy.document, strict=True, kind="identity")  # type: ignore[attr-defined]


def test_install_is_idempotent() -> None:
    store = MemoryIdentityStore()
    install_system_policies(store)
    install_system_policies(store)
    page = store.list_policies(
        "1234567890123456", policy_type=PolicyType.SYSTEM, marker=None, limit=100
    )
    assert [p.name for p in page.items] == sorted(EXPECTED_ACTIONS)
    assert {(p.default_version, p.created_at) for p in page.items} == {("v1", SYSTEM_POLICY_DATE)}
