"""Decisions within a policy set and across sets (spec sts-ram.md 4.4, 4.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.policy import (
    AuthzRequest,
    Decision,
    Effect,
    NamedPolicy,
    PrincipalRef,
    StatementRef,
    all_of,
    any_of,
    evaluate,
    parse_policy,
)

ACCT = "1234567890123456"
USER = PrincipalRef.ram_user(ACCT, "alice", "2001")
OBJ = f"acs:oss:*:{ACCT}:b/k.txt"


def named(
    name: str, *statements: dict[str, Any], kind: str = "identity", policy_type: str = "Custom"
) -> NamedPolicy:
    document = json.dumps({"Version": "1", "Statement": list(statements)})
    return NamedPolicy(name, "v1", parse_policy(document, kind=kind), policy_type)


def allow(action: Any = "oss:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "oss:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def request(action: str = "oss:GetObject", resource: str = OBJ, **context: str) -> AuthzRequest:
    ctx = {key.replace("_", ":"): (value,) for key, value in context.items()}
    return AuthzRequest(USER, action, resource, ctx)


def ref(policy: str, index: int, effect: str, sid: str | None = None) -> StatementRef:
    return StatementRef(policy, "v1", index, effect, sid)


def test_no_policies_is_an_implicit_deny() -> None:
    assert evaluate([], request()) == Decision(Effect.IMPLICIT_DENY, ())


def test_a_matching_allow_allows_and_is_reported() -> None:
    decision = evaluate([named("p", allow(Sid="read"))], request())
    assert decision == Decision(Effect.ALLOW, (ref("p", 0, "Allow", "read"),))
    assert decision.allowed


def test_every_matching_allow_is_reported_in_policy_order() -> None:
    policies = [
        named("a", allow("oss:PutObject"), allow("oss:Get*")),
        named(
            "b",
            allow("oss:*", f"acs:oss:*:{ACCT}:b/*"),
            allow("oss:GetObject", "acs:oss:*:*:other/*"),
        ),
    ]
    assert evaluate(policies, request()).matched == (ref("a", 1, "Allow"), ref("b", 0, "Allow"))


def test_deny_wins_and_only_denies_are_reported() -> None:
    policies = [
        named("a", allow(), deny("oss:Get*")),
        named("b", allow("*")),
        named("c", deny("*", f"acs:oss:*:{ACCT}:b/*")),
    ]
    decision = evaluate(policies, request())
    assert decision == Decision(Effect.EXPLICIT_DENY, (ref("a", 1, "Deny"), ref("c", 0, "Deny")))
    assert not decision.allowed


def test_nothing_matching_is_an_implicit_deny() -> None:
    policies = [
        named(
            "p",
            allow("oss:PutObject"),
            allow("oss:GetObject", "acs:oss:*:*:other/*"),
            deny("ram:*"),
        )
    ]
    assert evaluate(policies, request()).effect is Effect.IMPLICIT_DENY


def test_not_action_and_not_resource() -> None:
    policies = [
        named(
            "p",
            {"Effect": "Allow", "NotAction": "ram:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "oss:*", "NotResource": f"acs:oss:*:{ACCT}:b/*"},
        )
    ]
    assert evaluate(policies, request()).effect is Effect.ALLOW
    assert (
        evaluate(policies, request("ram:CreateUser", f"acs:ram:*:{ACCT}:user/x")).effect
        is Effect.IMPLICIT_DENY
    )
    assert (
        evaluate(policies, request(resource=f"acs:oss:*:{ACCT}:c/k")).effect is Effect.EXPLICIT_DENY
    )


def test_conditions_gate_statements() -> None:
    policies = [
        named("p", allow(Condition={"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}})),
        named("guard", deny("*", Condition={"Bool": {"acs:SecureTransport": "false"}})),
    ]
    assert (
        evaluate(policies, request(acs_SourceIp="10.0.0.1", acs_SecureTransport="true")).effect
        is Effect.ALLOW
    )
    assert (
        evaluate(policies, request(acs_SourceIp="8.8.8.8", acs_SecureTransport="true")).effect
        is Effect.IMPLICIT_DENY
    )
    assert (
        evaluate(policies, request(acs_SourceIp="10.0.0.1", acs_SecureTransport="false")).effect
        is Effect.EXPLICIT_DENY
    )


def test_context_keys_are_case_insensitive_in_the_request() -> None:
    policies = [named("p", allow(Condition={"StringEquals": {"acs:SourceVpc": "vpc-1"}}))]
    assert evaluate(
        policies, AuthzRequest(USER, "oss:GetObject", OBJ, {"ACS:SOURCEVPC": ("vpc-1",)})
    ).allowed


def test_statements_with_a_principal_match_it_even_in_evaluate() -> None:
    bucket = named("bp", allow(Principal=["2001"]), kind="resource", policy_type="Bucket")
    assert evaluate([bucket], request()).effect is Effect.ALLOW
    stranger = AuthzRequest(PrincipalRef.ram_user(ACCT, "bob", "2002"), "oss:GetObject", OBJ, {})
    assert evaluate([bucket], stranger).effect is Effect.IMPLICIT_DENY


def test_the_action_index_only_returns_statements_that_can_match() -> None:
    policy = named("p", allow("oss:GetObject"), allow("ram:*"), deny("oss:Get*"), allow("*")).policy
    first = policy.statements_for("oss:getobject")
    assert [s.index for s in first] == [0, 2, 3]
    assert policy.statements_for("oss:getobject") is first  # computed once
    assert [s.index for s in policy.statements_for("ram:createuser")] == [1, 3]


A = Decision(Effect.ALLOW, (ref("a", 0, "Allow"),))
B = Decision(Effect.ALLOW, (ref("b", 2, "Allow"),))
IMPLICIT = Decision(Effect.IMPLICIT_DENY)
D = Decision(Effect.EXPLICIT_DENY, (ref("d", 1, "Deny"),))
E = Decision(Effect.EXPLICIT_DENY, (ref("e", 0, "Deny"),))


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ((A, B), Decision(Effect.ALLOW, A.matched + B.matched)),
        ((A, IMPLICIT), IMPLICIT),
        ((IMPLICIT, A), IMPLICIT),
        ((A, D), D),
        ((D, IMPLICIT, E), Decision(Effect.EXPLICIT_DENY, D.matched + E.matched)),
        ((), IMPLICIT),
    ],
)
def test_all_of(decisions: tuple[Decision, ...], expected: Decision) -> None:
    assert all_of(*decisions) == expected


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ((IMPLICIT, A), A),
        ((A, B), Decision(Effect.ALLOW, A.matched + B.matched)),
        ((A, D), D),
        ((IMPLICIT, IMPLICIT), IMPLICIT),
        ((), IMPLICIT),
    ],
)
def test_any_of(decisions: tuple[Decision, ...], expected: Decision) -> None:
    assert any_of(*decisions) == expected


def test_explain() -> None:
    assert IMPLICIT.explain() == "implicitly denied: no statement allows this request"
    assert (
        Decision(Effect.ALLOW, (ref("a", 0, "Allow", "read"),)).explain()
        == "allowed by a:v1 Statement[0] (read)"
    )
    both = Decision(Effect.EXPLICIT_DENY, D.matched + E.matched)
    assert both.explain() == "explicitly denied by d:v1 Statement[1], e:v1 Statement[0]"


def test_named_policy_refs_follow_statement_slots() -> None:
    policy = named("p", allow(Sid="x"), deny())
    assert policy.refs == (ref("p", 0, "Allow", "x"), ref("p", 1, "Deny"))
