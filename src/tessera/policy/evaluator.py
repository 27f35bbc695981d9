"""Evaluation: compiled policies + one request → a :class:`Decision` with its reasons.

Owns: the decision rule within a policy set (any matching Deny → explicit deny, else any matching
Allow → allow, else implicit deny; spec sts-ram.md 4.4), the trust-policy and bucket-policy entry
points, the two ways of combining decisions across policy sets (``all_of``: session policy AND
identity policies, or AssumeRole's identity AND trust; ``any_of``: identity OR bucket policy), and
explaining a decision in words.
Must not: fetch policies, read a clock, or do I/O; everything arrives in the arguments.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .document import Policy, Statement
from .request import AuthzRequest

__all__ = [
    "Decision",
    "Effect",
    "NamedPolicy",
    "StatementRef",
    "all_of",
    "any_of",
    "evaluate",
    "evaluate_resource_policy",
    "evaluate_trust",
]


class Effect(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Points at one statement: ``index`` is its position in the policy's Statement list and
    ``effect`` is the statement's own ``"Allow"`` or ``"Deny"``."""

    policy_name: str
    version: str
    index: int
    effect: str
    sid: str | None

    def describe(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"{self.policy_name}:{self.version} Statement[{self.index}]{sid}"


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A compiled policy together with where it came from; ``policy_type`` is e.g. ``System``,
    ``Custom``, ``Session``, ``Trust`` or ``Bucket``."""

    name: str
    version: str
    policy: Policy
    policy_type: str
    refs: tuple[StatementRef, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        refs = tuple(
            StatementRef(self.name, self.version, s.index, s.effect, s.sid)
            for s in self.policy.statements
        )
        object.__setattr__(self, "refs", refs)


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class Decision:
    """``matched`` holds every matching Deny statement for an explicit deny, every matching Allow
    statement for an allow, and nothing for an implicit deny."""

    effect: Effect
    matched: tuple[StatementRef, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def explain(self) -> str:
        if self.effect is Effect.IMPLICIT_DENY:
            return "implicitly denied: no statement allows this request"
        verb = "allowed" if self.effect is Effect.ALLOW else "explicitly denied"
        return f"{verb} by " + ", ".join(ref.describe() for ref in self.matched)


IMPLICIT_DENY = Decision(Effect.IMPLICIT_DENY)

_Skip = Callable[[Statement], bool]


def _decide(denies: list[StatementRef], allows: list[StatementRef]) -> Decision:
    if denies:
        return Decision(Effect.EXPLICIT_DENY, tuple(denies))
    if allows:
        return Decision(Effect.ALLOW, tuple(allows))
    return IMPLICIT_DENY


def evaluate(policies: Sequence[NamedPolicy], request: AuthzRequest) -> Decision:
    """Decide ``request`` against one policy set (a principal's identity policies, or the session
    policies of a token). Statements with a Principal element also match it."""
    denies: list[StatementRef] = []
    allows: list[StatementRef] = []
    action = request.action_key
    for named in policies:
        refs = named.refs
        for statement in named.policy.statements_for(action):
            if statement.applies(request):
                (denies if statement.deny else allows).append(refs[statement.slot])
    return _decide(denies, allows)


def _evaluate_one(named: NamedPolicy, request: AuthzRequest, skip: _Skip) -> Decision:
    denies: list[StatementRef] = []
    allows: list[StatementRef] = []
    for statement in named.policy.statements_for(request.action_key):
        if not skip(statement) and statement.applies(request):
            (denies if statement.deny else allows).append(named.refs[statement.slot])
    return _decide(denies, allows)


def _require_kind(named: NamedPolicy, kind: str, caller: str) -> None:
    if named.policy.kind != kind:
        raise ValueError(f"{caller} needs a {kind} policy, got {named.policy.kind!r}")


def _never(statement: Statement) -> bool:
    return False


def evaluate_trust(policy: NamedPolicy, request: AuthzRequest) -> Decision:
    """Decide a role's trust policy: a statement applies when its Action, its Principal (against
    ``request.principal``) and its Condition (e.g. ``sts:ExternalId``) all match."""
    _require_kind(policy, "trust", "evaluate_trust")
    return _evaluate_one(policy, request, _never)


def _owner_skip(request: AuthzRequest, bucket_owner: str | None) -> _Skip:
    principal = request.principal
    if bucket_owner is None or principal is None or principal.account_id != bucket_owner:
        return _never
    return lambda statement: (
        statement.principal is not None and statement.principal.anyone and not statement.conditions
    )


def evaluate_resource_policy(
    policy: NamedPolicy, request: AuthzRequest, *, bucket_owner: str | None = None
) -> Decision:
    """Decide a bucket policy. With ``bucket_owner`` given, statements whose Principal is ``"*"``
    and that have no Condition do not apply to identities of the owner account (spec oss.md 11)."""
    _require_kind(policy, "resource", "evaluate_resource_policy")
    return _evaluate_one(policy, request, _owner_skip(request, bucket_owner))


def _gather(decisions: Sequence[Decision], effect: Effect) -> tuple[StatementRef, ...]:
    return tuple(ref for d in decisions if d.effect is effect for ref in d.matched)


def all_of(*decisions: Decision) -> Decision:
    """Combine decisions that must all allow (session policy AND identity policies; AssumeRole's
    identity AND trust): any explicit deny wins, then any implicit deny, else allow."""
    if any(d.effect is Effect.EXPLICIT_DENY for d in decisions):
        return Decision(Effect.EXPLICIT_DENY, _gather(decisions, Effect.EXPLICIT_DENY))
    if not decisions or any(d.effect is Effect.IMPLICIT_DENY for d in decisions):
        return IMPLICIT_DENY
    return Decision(Effect.ALLOW, _gather(decisions, Effect.ALLOW))


def any_of(*decisions: Decision) -> Decision:
    """Combine decisions of which one allowing is enough (identity OR bucket policy): any explicit
    deny wins, then any allow, else implicit deny."""
    if any(d.effect is Effect.EXPLICIT_DENY for d in decisions):
        return Decision(Effect.EXPLICIT_DENY, _gather(decisions, Effect.EXPLICIT_DENY))
    if any(d.effect is Effect.ALLOW for d in decisions):
        return Decision(Effect.ALLOW, _gather(decisions, Effect.ALLOW))
    return IMPLICIT_DENY
