"""Bucket policies: Principal forms and the bucket-owner rule (spec oss.md 11)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.policy import (
    AuthzRequest,
    Effect,
    NamedPolicy,
    PrincipalRef,
    evaluate_resource_policy,
    parse_policy,
)

OWNER = "1234567890123456"
OTHER = "6543210987654321"
OBJECT = f"acs:oss:*:{OWNER}:photos/2024/cat.jpg"

OWNER_ROOT = PrincipalRef.account(OWNER)
OWNER_USER = PrincipalRef.ram_user(OWNER, "alice", "2001")
OTHER_ROOT = PrincipalRef.account(OTHER)
OTHER_USER = PrincipalRef.ram_user(OTHER, "carol", "3002")
OTHER_SESSION = PrincipalRef.assumed_role(OTHER, "reader", "390001", "app-1")
OTHER_SESSION_2 = PrincipalRef.assumed_role(OTHER, "reader", "390001", "app-2")
ANONYMOUS = PrincipalRef.anonymous()


def bucket_policy(
    principal: Any, *, effect: str = "Allow", condition: dict[str, Any] | None = None
) -> NamedPolicy:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Action": ["oss:GetObject"],
        "Principal": principal,
        "Resource": ["acs:oss:*:*:photos/*"],
    }
    if condition is not None:
        statement["Condition"] = condition
    document = json.dumps({"Version": "1", "Statement": [statement]})
    return NamedPolicy("photos", "1", parse_policy(document, kind="resource"), "Bucket")


def decide(
    policy: NamedPolicy,
    who: PrincipalRef | None,
    *,
    resource: str = OBJECT,
    owner: str | None = None,
    **context: str,
) -> Effect:
    ctx = {key.replace("_", ":"): (value,) for key, value in context.items()}
    request = AuthzRequest(who, "oss:GetObject", resource, ctx)
    return evaluate_resource_policy(policy, request, bucket_owner=owner).effect


ALLOW, IMPLICIT, DENY = Effect.ALLOW, Effect.IMPLICIT_DENY, Effect.EXPLICIT_DENY

CASES = [
    (["*"], ANONYMOUS, ALLOW),
    ("*", None, ALLOW),
    ([], OTHER_USER, ALLOW),  # [] is the same as ["*"]
    ([OTHER], OTHER_ROOT, ALLOW),
    ([OTHER], OTHER_USER, IMPLICIT),  # an account UID names the account itself
    ([OTHER], OWNER_ROOT, IMPLICIT),
    (["3002"], OTHER_USER, ALLOW),  # a RAM user id
    (["3002"], OWNER_USER, IMPLICIT),
    ([f"arn:sts::{OTHER}:assumed-role/390001/app-1"], OTHER_SESSION, ALLOW),
    ([f"arn:sts::{OTHER}:assumed-role/390001/app-1"], OTHER_SESSION_2, IMPLICIT),
    ([f"arn:sts::{OTHER}:assumed-role/390001/*"], OTHER_SESSION_2, ALLOW),
    ([f"arn:sts::{OWNER}:assumed-role/390001/*"], OTHER_SESSION, IMPLICIT),
    ([f"arn:sts::{OTHER}:assumed-role/390001/*"], ANONYMOUS, IMPLICIT),
    ([OTHER, "3002"], OTHER_USER, ALLOW),
    ([OTHER, "*"], ANONYMOUS, ALLOW),
]


@pytest.mark.parametrize(("principal", "who", "expected"), CASES)
def test_principal_forms(principal: Any, who: PrincipalRef | None, expected: Effect) -> None:
    assert decide(bucket_policy(principal), who) is expected


def test_resource_and_action_still_apply() -> None:
    policy = bucket_policy(["*"])
    assert decide(policy, ANONYMOUS, resource=f"acs:oss:*:{OWNER}:photos") is IMPLICIT
    assert decide(policy, ANONYMOUS, resource=f"acs:oss:*:{OWNER}:videos/a.mp4") is IMPLICIT
    request = AuthzRequest(ANONYMOUS, "oss:PutObject", OBJECT, {})
    assert evaluate_resource_policy(policy, request).effect is IMPLICIT


def test_conditions_apply() -> None:
    policy = bucket_policy(["*"], condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}})
    assert decide(policy, ANONYMOUS, acs_SourceIp="203.0.113.9") is ALLOW
    assert decide(policy, ANONYMOUS, acs_SourceIp="198.51.100.1") is IMPLICIT


def test_wildcard_principal_without_condition_skips_the_bucket_owner() -> None:
    lockout = bucket_policy("*", effect="Deny")
    assert decide(lockout, OTHER_USER, owner=OWNER) is DENY
    assert decide(lockout, ANONYMOUS, owner=OWNER) is DENY
    assert decide(lockout, OWNER_ROOT, owner=OWNER) is IMPLICIT
    assert decide(lockout, OWNER_USER, owner=OWNER) is IMPLICIT
    # without the owner given, the statement applies to everyone
    assert decide(lockout, OWNER_ROOT) is DENY


def test_wildcard_principal_with_condition_applies_to_the_owner_too() -> None:
    guarded = bucket_policy(
        "*", effect="Deny", condition={"Bool": {"acs:SecureTransport": "false"}}
    )
    assert decide(guarded, OWNER_ROOT, owner=OWNER, acs_SecureTransport="false") is DENY
    assert decide(guarded, OWNER_ROOT, owner=OWNER, acs_SecureTransport="true") is IMPLICIT


def test_named_principals_apply_to_the_owner_account() -> None:
    policy = bucket_policy([OWNER], effect="Deny")
    assert decide(policy, OWNER_ROOT, owner=OWNER) is DENY


def test_evaluate_resource_policy_needs_a_resource_policy() -> None:
    identity = parse_policy(
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    )
    with pytest.raises(ValueError, match="resource"):
        evaluate_resource_policy(
            NamedPolicy("p", "v1", identity, "Custom"), AuthzRequest(None, "oss:GetObject", OBJECT)
        )
