"""Trust policies (role AssumeRolePolicyDocument): Action AND Principal AND Condition
(spec sts-ram.md 4.5, 4.6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.policy import (
    AuthzRequest,
    Effect,
    NamedPolicy,
    PrincipalRef,
    StatementRef,
    evaluate_trust,
    parse_policy,
)

ACCT = "1234567890123456"
OTHER = "6543210987654321"
ROLE_ARN = f"acs:ram:*:{ACCT}:role/target"

ALICE = PrincipalRef.ram_user(ACCT, "alice", "2001")
BOB = PrincipalRef.ram_user(ACCT, "bob", "2002")
ALICE_ELSEWHERE = PrincipalRef.ram_user(OTHER, "alice", "3001")
OTHER_USER = PrincipalRef.ram_user(OTHER, "carol", "3002")
BUILDER_SESSION = PrincipalRef.assumed_role(ACCT, "builder", "3901", "ci-42")
DEPLOYER_SESSION = PrincipalRef.assumed_role(ACCT, "deployer", "3902", "ci-43")
OTHER_SESSION = PrincipalRef.assumed_role(OTHER, "builder", "4901", "x")
# the ARN an AssumeRole response reports: acs:ram::<acct>:role/<role>/<session> (spec 1.2)
RESPONSE_FORM = PrincipalRef(ACCT, (f"acs:ram::{ACCT}:role/Builder/s1",), "AssumedRoleUser")
ROOT = PrincipalRef.account(ACCT)
ECS = PrincipalRef.service_principal("ecs.aliyuncs.com")
FC = PrincipalRef.service_principal("fc.aliyuncs.com")
ANONYMOUS = PrincipalRef.anonymous()
SAML = PrincipalRef(ACCT, (f"acs:ram::{ACCT}:saml-provider/corp-idp",), "Federated")


def trust(
    principal: Any, *, condition: dict[str, Any] | None = None, effect: str = "Allow"
) -> NamedPolicy:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Action": "sts:AssumeRole",
        "Principal": principal,
    }
    if condition is not None:
        statement["Condition"] = condition
    document = json.dumps({"Version": "1", "Statement": [statement]})
    return NamedPolicy("target-trust", "v1", parse_policy(document, kind="trust"), "Trust")


def assume(
    policy: NamedPolicy, who: PrincipalRef | None, action: str = "sts:AssumeRole", **context: str
) -> Effect:
    ctx = {key.replace("_", ":"): (value,) for key, value in context.items()}
    return evaluate_trust(policy, AuthzRequest(who, action, ROLE_ARN, ctx)).effect


ALLOW, IMPLICIT = Effect.ALLOW, Effect.IMPLICIT_DENY

PRINCIPAL_CASES = [
    # account root: every identity of that account (user or role session)
    ({"RAM": f"acs:ram::{ACCT}:root"}, ALICE, ALLOW),
    ({"RAM": [f"acs:ram::{ACCT}:root"]}, BUILDER_SESSION, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:root"}, ROOT, ALLOW),  # refusing root callers is the STS layer's job
    ({"RAM": f"acs:ram::{ACCT}:root"}, OTHER_USER, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:root"}, OTHER_SESSION, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:root"}, ECS, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:root"}, ANONYMOUS, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:root"}, None, IMPLICIT),
    # cross-account trust (spec 4.6)
    ({"RAM": f"acs:ram::{OTHER}:root"}, OTHER_USER, ALLOW),
    ({"RAM": f"acs:ram::{OTHER}:root"}, ALICE, IMPLICIT),
    # a user ARN: that user only
    ({"RAM": f"acs:ram::{ACCT}:user/alice"}, ALICE, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:user/alice"}, BOB, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:user/alice"}, ALICE_ELSEWHERE, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:user/alice"}, BUILDER_SESSION, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:user/Alice"}, ALICE, IMPLICIT),  # only role names fold case
    ({"RAM": [f"acs:ram::{ACCT}:user/bob", f"acs:ram::{ACCT}:user/alice"]}, ALICE, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:user/dev-*"}, PrincipalRef.ram_user(ACCT, "dev-1", "9"), ALLOW),
    # a role ARN: sessions of that role (role chaining); role names fold case (spec 3.4)
    ({"RAM": f"acs:ram::{ACCT}:role/builder"}, BUILDER_SESSION, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:role/Builder"}, BUILDER_SESSION, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:role/Builder"}, RESPONSE_FORM, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:role/builder"}, DEPLOYER_SESSION, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:role/builder"}, OTHER_SESSION, IMPLICIT),
    ({"RAM": f"acs:ram::{ACCT}:role/builder"}, ALICE, IMPLICIT),
    # services
    ({"Service": "ecs.aliyuncs.com"}, ECS, ALLOW),
    ({"Service": ["fc.aliyuncs.com", "ecs.aliyuncs.com"]}, ECS, ALLOW),
    ({"Service": "ECS.aliyuncs.com"}, ECS, ALLOW),
    ({"Service": "ecs.aliyuncs.com"}, FC, IMPLICIT),
    ({"Service": "ecs.aliyuncs.com"}, ALICE, IMPLICIT),
    # federation
    ({"Federated": f"acs:ram::{ACCT}:saml-provider/corp-idp"}, SAML, ALLOW),
    ({"Federated": f"acs:ram::{ACCT}:saml-provider/other-idp"}, SAML, IMPLICIT),
    ({"Federated": f"acs:ram::{ACCT}:saml-provider/corp-idp"}, ALICE, IMPLICIT),
    # several principal types in one block: any of them
    ({"RAM": f"acs:ram::{ACCT}:user/alice", "Service": "ecs.aliyuncs.com"}, ECS, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:user/alice", "Service": "ecs.aliyuncs.com"}, ALICE, ALLOW),
    ({"RAM": f"acs:ram::{ACCT}:user/alice", "Service": "ecs.aliyuncs.com"}, BOB, IMPLICIT),
    # wildcards: "*" is everyone; {"RAM": "*"} is every RAM identity of every account
    ("*", ALICE, ALLOW),
    ("*", ECS, ALLOW),
    ("*", ANONYMOUS, ALLOW),
    ("*", None, ALLOW),
    ({"RAM": "*"}, OTHER_USER, ALLOW),
    ({"RAM": ["*"]}, BUILDER_SESSION, ALLOW),
    ({"RAM": "*"}, ECS, IMPLICIT),
    ({"RAM": "*"}, ANONYMOUS, IMPLICIT),
    ({"RAM": "*"}, SAML, IMPLICIT),
]


@pytest.mark.parametrize(("principal", "who", "expected"), PRINCIPAL_CASES)
def test_principal_matching(principal: Any, who: PrincipalRef | None, expected: Effect) -> None:
    assert assume(trust(principal), who) is expected


def test_action_must_match() -> None:
    policy = trust({"RAM": f"acs:ram::{ACCT}:root"})
    assert assume(policy, ALICE, "STS:assumerole") is ALLOW
    assert assume(policy, ALICE, "sts:AssumeRoleWithSAML") is IMPLICIT


EXTERNAL_ID = {"StringEquals": {"sts:ExternalId": "abc-123"}}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"sts_ExternalId": "abc-123"}, ALLOW),
        ({"sts_ExternalId": "ABC-123"}, IMPLICIT),
        ({"sts_ExternalId": "other"}, IMPLICIT),
        ({}, IMPLICIT),
    ],
)
def test_external_id_condition(context: dict[str, str], expected: Effect) -> None:
    policy = trust({"RAM": f"acs:ram::{OTHER}:root"}, condition=EXTERNAL_ID)
    assert assume(policy, OTHER_USER, **context) is expected


def test_saml_recipient_condition() -> None:
    condition = {"StringEquals": {"saml:recipient": "https://signin.aliyun.com/saml-role/sso"}}
    policy = trust({"Federated": f"acs:ram::{ACCT}:saml-provider/corp-idp"}, condition=condition)
    right = {"saml_recipient": "https://signin.aliyun.com/saml-role/sso"}
    assert assume(policy, SAML, "sts:AssumeRole", **right) is ALLOW
    assert assume(policy, SAML, "sts:AssumeRole", saml_recipient="https://evil.example") is IMPLICIT


def test_deny_statement_in_trust_policy_wins() -> None:
    document = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"RAM": f"acs:ram::{ACCT}:root"},
                },
                {
                    "Effect": "Deny",
                    "Action": "sts:AssumeRole",
                    "Principal": {"RAM": f"acs:ram::{ACCT}:user/bob"},
                    "Sid": "no-bob",
                },
            ],
        }
    )
    policy = NamedPolicy("t", "v3", parse_policy(document, kind="trust"), "Trust")
    denied = evaluate_trust(policy, AuthzRequest(BOB, "sts:AssumeRole", ROLE_ARN, {}))
    assert denied.effect is Effect.EXPLICIT_DENY
    assert denied.matched == (StatementRef("t", "v3", 1, "Deny", "no-bob"),)
    allowed = evaluate_trust(policy, AuthzRequest(ALICE, "sts:AssumeRole", ROLE_ARN, {}))
    assert allowed.matched == (StatementRef("t", "v3", 0, "Allow", None),)


def test_resource_in_trust_statement_is_honoured_when_present() -> None:
    document = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": "*",
                    "Resource": "acs:ram:*:*:role/other",
                }
            ],
        }
    )
    policy = NamedPolicy("t", "v1", parse_policy(document, kind="trust"), "Trust")
    assert assume(policy, ALICE) is IMPLICIT


def test_evaluate_trust_needs_a_trust_policy() -> None:
    identity = parse_policy(
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    )
    with pytest.raises(ValueError, match="trust"):
        evaluate_trust(
            NamedPolicy("p", "v1", identity, "Custom"),
            AuthzRequest(ALICE, "sts:AssumeRole", ROLE_ARN),
        )
