"""The System policies every account sees (PolicyType ``System``).

Owns: the shipped definitions (name, description, document) and ``install_system_policies``,
which puts them into a store idempotently (a changed definition refreshes the stored one).
Must not: hold account data. System policies are attachable in every account, and can never
be created, changed or deleted through the RAM API.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera.store.base import IdentityStore, Policy, PolicyType

# A fixed date, so that every node (and every restart) shows the same CreateDate.
SYSTEM_POLICY_DATE = "2015-05-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class SystemPolicy:
    name: str
    description: str
    document: str


def _allow(action: str) -> str:
    return f'{{"Statement":[{{"Action":{action},"Effect":"Allow","Resource":"*"}}],"Version":"1"}}'


SYSTEM_POLICIES: tuple[SystemPolicy, ...] = (
    SystemPolicy(
        "AdministratorAccess",
        "Provides full access to all services and resources.",
        _allow('"*"'),
    ),
    SystemPolicy(
        "AliyunRAMFullAccess",
        "Provides full access to Resource Access Management (RAM).",
        _allow('"ram:*"'),
    ),
    SystemPolicy(
        "AliyunRAMReadOnlyAccess",
        "Provides read-only access to Resource Access Management (RAM).",
        _allow('["ram:Get*","ram:List*"]'),
    ),
    SystemPolicy(
        "AliyunSTSAssumeRoleAccess",
        "Provides access to call the AssumeRole operation of Security Token Service (STS).",
        _allow('"sts:AssumeRole"'),
    ),
    SystemPolicy(
        "AliyunOSSFullAccess",
        "Provides full access to Object Storage Service (OSS).",
        _allow('"oss:*"'),
    ),
    SystemPolicy(
        "AliyunOSSReadOnlyAccess",
        "Provides read-only access to Object Storage Service (OSS).",
        _allow('["oss:Get*","oss:List*"]'),
    ),
)

SYSTEM_POLICY_NAMES = frozenset(p.name for p in SYSTEM_POLICIES)


def install_system_policies(store: IdentityStore) -> None:
    """Put every shipped System policy into ``store``; a no-op when they are current."""
    for shipped in SYSTEM_POLICIES:
        record = Policy(
            account_id=None,
            name=shipped.name,
            policy_type=PolicyType.SYSTEM,
            default_version="v1",
            created_at=SYSTEM_POLICY_DATE,
            updated_at=SYSTEM_POLICY_DATE,
            description=shipped.description,
        )
        store.put_system_policy(record, shipped.document)
