"""What the evaluator is asked: who (:class:`PrincipalRef`), what, on what, in which context.

Owns: the request value objects, the names a principal is known by (derived on first use and
memoised), and normalising a request once (action case, resource segments, condition-key case) so
that evaluation does no parsing.
Must not: read a clock, a socket or a store; the caller fills in ``acs:CurrentTime``,
``acs:SourceIp`` and the other context keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from .actions import normalize_action
from .resources import ResourceName, resource_name

__all__ = ["RAM_KINDS", "AuthzRequest", "ContextKey", "PrincipalRef"]

#: Principal kinds that are identities inside an account (``acs:ram::<acct>:root`` covers them).
RAM_KINDS: Final = frozenset({"Account", "RAMUser", "AssumedRoleUser"})


class ContextKey:
    """Well-known condition keys (spec sts-ram.md 4.3, oss.md 11). Lookup is case-insensitive."""

    SOURCE_IP: Final = "acs:SourceIp"
    CURRENT_TIME: Final = "acs:CurrentTime"
    SECURE_TRANSPORT: Final = "acs:SecureTransport"
    MFA_PRESENT: Final = "acs:MFAPresent"
    SOURCE_VPC: Final = "acs:SourceVpc"
    ACCESS_ID: Final = "acs:AccessId"
    USER_AGENT: Final = "acs:UserAgent"
    REFERER: Final = "acs:Referer"
    OSS_PREFIX: Final = "oss:Prefix"
    OSS_DELIMITER: Final = "oss:Delimiter"
    EXTERNAL_ID: Final = "sts:ExternalId"


@dataclass(frozen=True, slots=True)
class PrincipalRef:
    """Who is asking, as far as Principal blocks in trust and bucket policies care.

    ``arns`` are the ARNs the caller is known by; ``kind`` is one of ``Account``, ``RAMUser``,
    ``AssumedRoleUser``, ``Service``, ``Federated`` or ``Anonymous``. For an assumed-role session
    ``principal_id`` is ``<RoleId>:<RoleSessionName>`` (spec sts-ram.md 1.5).
    """

    account_id: str
    arns: tuple[str, ...] = ()
    kind: str = "RAMUser"
    user_id: str | None = None
    principal_id: str | None = None
    service: str | None = None

    @property
    def trust_names(self) -> tuple[ResourceName, ...]:
        """The ARNs trust-policy ``Principal.RAM`` values are matched against: ``arns``, the role
        ARN of a session, and ``acs:ram::<account>:root`` for identities inside an account."""
        return _trust_names(self)

    @property
    def bucket_names(self) -> tuple[str, ...]:
        """The names bucket-policy Principal values are matched against (spec oss.md 11)."""
        return _bucket_names(self)

    @classmethod
    def account(cls, account_id: str) -> PrincipalRef:
        return cls(account_id, (f"acs:ram::{account_id}:root",), "Account", principal_id=account_id)

    @classmethod
    def ram_user(cls, account_id: str, user_name: str, user_id: str) -> PrincipalRef:
        arn = f"acs:ram::{account_id}:user/{user_name}"
        return cls(account_id, (arn,), "RAMUser", user_id=user_id, principal_id=user_id)

    @classmethod
    def assumed_role(
        cls, account_id: str, role_name: str, role_id: str, session_name: str
    ) -> PrincipalRef:
        arns = (
            f"acs:ram::{account_id}:role/{role_name}",
            f"acs:ram::{account_id}:assumed-role/{role_name}/{session_name}",
        )
        return cls(account_id, arns, "AssumedRoleUser", principal_id=f"{role_id}:{session_name}")

    @classmethod
    def service_principal(cls, service: str) -> PrincipalRef:
        return cls("", (), "Service", service=service)

    @classmethod
    def anonymous(cls) -> PrincipalRef:
        return cls("", (), "Anonymous")


def _role_arn_of_session(arn: str) -> str | None:
    """``acs:ram::<a>:role/<r>`` for a session ARN: ``assumed-role/<r>/<s>`` or ``role/<r>/<s>``."""
    head, sep, relative = arn.rpartition(":")
    kind, _, rest = relative.partition("/")
    role, slash, _session = rest.partition("/")
    if sep and slash and role and kind in ("role", "assumed-role"):
        return f"{head}:role/{role}"
    return None


@lru_cache(maxsize=4096)
def _trust_names(principal: PrincipalRef) -> tuple[ResourceName, ...]:
    names: dict[str, None] = {}
    for arn in principal.arns:
        names[arn] = None
        role_arn = _role_arn_of_session(arn)
        if role_arn is not None:
            names[role_arn] = None
    if principal.kind in RAM_KINDS and principal.account_id:
        names[f"acs:ram::{principal.account_id}:root"] = None
    return tuple(resource_name(name) for name in names)


@lru_cache(maxsize=4096)
def _bucket_names(principal: PrincipalRef) -> tuple[str, ...]:
    if principal.kind == "Account":
        return (principal.account_id,)
    if principal.kind == "RAMUser" and principal.user_id:
        return (principal.user_id,)
    if principal.kind == "AssumedRoleUser" and principal.principal_id:
        role_id, _, session = principal.principal_id.partition(":")
        return (f"arn:sts::{principal.account_id}:assumed-role/{role_id}/{session}",)
    return ()


def _context_lookup(context: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    lookup: dict[str, tuple[str, ...]] = {}
    for key, values in context.items():
        lookup[key.lower()] = (values,) if isinstance(values, str) else tuple(values)
    return lookup


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class AuthzRequest:
    """One authorization question. ``context`` maps condition keys to their values."""

    principal: PrincipalRef | None
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    action_key: str = field(init=False, repr=False, compare=False)
    resource_key: ResourceName = field(init=False, repr=False, compare=False)
    context_lookup: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.action_key = normalize_action(self.action)
        self.resource_key = resource_name(self.resource)
        self.context_lookup = _context_lookup(self.context)
