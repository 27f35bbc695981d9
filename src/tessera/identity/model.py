"""Who is calling: the authenticated principal of a request.

Owns: ``Caller`` (root account, RAM user or assumed-role session) and the ARNs and ids that
GetCallerIdentity, access logs and trust-policy matching derive from it.
Must not: touch the store or HTTP; a Caller is built by ``identity.resolve`` and passed down.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IdentityType(StrEnum):
    ACCOUNT = "Account"
    RAM_USER = "RAMUser"
    ASSUMED_ROLE = "AssumedRoleUser"


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal behind a verified request.

    For a RAM user ``user_id``/``user_name`` are set; for an assumed-role session
    ``role_id``/``role_name``/``session_name``/``expires_at`` (and maybe ``session_policy``).
    """

    identity_type: IdentityType
    account_id: str
    access_key_id: str
    user_id: str | None = None
    user_name: str | None = None
    role_id: str | None = None
    role_name: str | None = None
    session_name: str | None = None
    session_policy: str | None = None
    expires_at: float | None = None
    source_identity: str | None = None

    @property
    def is_root(self) -> bool:
        return self.identity_type is IdentityType.ACCOUNT

    @property
    def arn(self) -> str:
        """The ARN GetCallerIdentity reports (spec §1.5)."""
        acct = self.account_id
        if self.identity_type is IdentityType.RAM_USER:
            return f"acs:ram::{acct}:user/{self.user_name}"
        if self.identity_type is IdentityType.ASSUMED_ROLE:
            return f"acs:ram::{acct}:assumed-role/{self.role_name}/{self.session_name}"
        return f"acs:ram::{acct}:root"

    @property
    def principal_id(self) -> str:
        if self.identity_type is IdentityType.RAM_USER:
            return self.user_id or ""
        if self.identity_type is IdentityType.ASSUMED_ROLE:
            return f"{self.role_id}:{self.session_name}"
        return self.account_id

    @property
    def trust_arns(self) -> tuple[str, ...]:
        """Every ARN a trust or bucket policy may name this caller by."""
        acct = self.account_id
        if self.identity_type is IdentityType.RAM_USER:
            return (f"acs:ram::{acct}:user/{self.user_name}",)
        if self.identity_type is IdentityType.ASSUMED_ROLE:
            return (
                f"acs:ram::{acct}:role/{self.role_name}",
                f"acs:ram::{acct}:assumed-role/{self.role_name}/{self.session_name}",
            )
        return (f"acs:ram::{acct}:root",)

    @property
    def display(self) -> str:
        """A short, secret-free name for access logs."""
        if self.identity_type is IdentityType.RAM_USER:
            return f"{self.account_id}:user/{self.user_name}"
        if self.identity_type is IdentityType.ASSUMED_ROLE:
            return f"{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"
        return f"{self.account_id}:root"
