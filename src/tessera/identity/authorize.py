"""Combining policy decisions for one caller, and explaining denials.

Owns: the rule of spec §4.4 for a request by a known caller — root owns its account; a RAM
user needs its own or its groups' policies to allow; an assumed-role session needs its session
policy (if any) AND the role's policies to allow; an explicit Deny anywhere wins — and the
human-readable explanation plus ``AccessDeniedDetail`` of every denial.
Must not: read the store or the clock; policies and context are handed in (pure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tessera.identity.model import Caller, IdentityType
from tessera.policy import AuthzRequest, Decision, Effect, NamedPolicy, StatementRef, evaluate

_POLICY_TYPES = {
    "SessionPolicy": "SessionPolicy",
    "TrustPolicy": "AssumeRolePolicy",
}
_PRINCIPAL_TYPES = {
    IdentityType.ACCOUNT: "Account",
    IdentityType.RAM_USER: "SubUser",
    IdentityType.ASSUMED_ROLE: "AssumedRoleUser",
}


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class Verdict:
    """The outcome of authorizing one request, with what decided it."""

    allowed: bool
    policy_kind: str  # "Root", "IdentityPolicy", "SessionPolicy"
    explicit: bool
    matched: tuple[StatementRef, ...]
    text: str = ""  # empty for an allow by ``matched``: ``explanation`` words it when asked

    @property
    def explanation(self) -> str:
        """What decided the request, for people. An allow by statements is written out only
        when asked: nearly every allowed request is served without it."""
        if self.text or not self.allowed:
            return self.text
        return f"Allowed by {_describe(self.matched)}."

    def detail(self, caller: Caller, action: str) -> dict[str, str]:
        """``AccessDeniedDetail`` as newer Alibaba services return it."""
        return {
            "PolicyType": _POLICY_TYPES.get(self.policy_kind, "AccountLevelIdentityBasedPolicy"),
            "NoPermissionType": "ExplicitDeny" if self.explicit else "ImplicitDeny",
            "AuthAction": action,
            "AuthPrincipalType": _PRINCIPAL_TYPES[caller.identity_type],
            "AuthPrincipalOwnerId": caller.account_id,
            "AuthPrincipalDisplayName": caller.display,
        }

    @property
    def decision_label(self) -> str:
        if self.allowed:
            return "allow"
        return "explicit-deny" if self.explicit else "implicit-deny"


def _describe(refs: Sequence[StatementRef]) -> str:
    return ", ".join(f"{r.policy_name} {r.version} statement {r.index}" for r in refs)


def _deny(kind: str, label: str, decision: Decision, request: AuthzRequest) -> Verdict:
    if decision.effect is Effect.EXPLICIT_DENY:
        text = f"Explicitly denied by {label} ({_describe(decision.matched)})."
        return Verdict(False, kind, True, decision.matched, text)
    text = (
        f"Implicitly denied: no statement in the {label} allows "
        f"{request.action} on {request.resource}."
    )
    return Verdict(False, kind, False, (), text)


def authorize(
    caller: Caller,
    request: AuthzRequest,
    identity_policies: Sequence[NamedPolicy],
    session_policy: NamedPolicy | None = None,
    resource_account: str | None = None,
) -> Verdict:
    """Decide ``request`` for ``caller`` given its identity (and session) policies."""
    if caller.is_root:
        if resource_account in (None, "*", caller.account_id):
            return Verdict(
                True, "Root", False, (), "The account owner may do everything in its account."
            )
        return Verdict(
            False, "Root", False, (), "The account owner has no rights in another account."
        )
    identity = evaluate(identity_policies, request)
    label = (
        "role's policies"
        if caller.identity_type is IdentityType.ASSUMED_ROLE
        else "RAM user's policies"
    )
    if session_policy is not None:
        session = evaluate([session_policy], request)
        if session.effect is Effect.EXPLICIT_DENY:
            return _deny("SessionPolicy", "session policy", session, request)
        if identity.effect is Effect.EXPLICIT_DENY:
            return _deny("IdentityPolicy", label, identity, request)
        if session.effect is not Effect.ALLOW:
            return _deny("SessionPolicy", "session policy", session, request)
    if identity.effect is not Effect.ALLOW:
        return _deny("IdentityPolicy", label, identity, request)
    return Verdict(True, "IdentityPolicy", False, identity.matched)
