"""The RAM domain: who callers are and the rules for users, keys, groups, roles and policies.

Owns: ``Caller`` (``model``), ``RamService`` (``service``: every RAM business rule) and the
System policies (``system_policies``). ``resolve`` and ``authorize`` (credentials → caller →
decision) live beside them and are imported from their modules.
Must not: know about HTTP or wire formats; storage goes through ``tessera.store``.
"""

from __future__ import annotations

from tessera.identity.model import Caller, IdentityType
from tessera.identity.service import IssuedAccessKey, RamLimits, RamService
from tessera.identity.system_policies import (
    SYSTEM_POLICIES,
    SystemPolicy,
    install_system_policies,
)

__all__ = [
    "SYSTEM_POLICIES",
    "Caller",
    "IdentityType",
    "IssuedAccessKey",
    "RamLimits",
    "RamService",
    "SystemPolicy",
    "install_system_policies",
]
