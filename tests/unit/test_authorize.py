"""Combining decisions for a caller (spec/sts-ram.md §4.4): root, RAM user, session ∩ role."""

from __future__ import annotations

import json

from tessera.identity.authorize import authorize
from tessera.identity.model import Caller, IdentityType
from tessera.policy import AuthzRequest, NamedPolicy, parse_policy

ACCT = "1234567890123456"


def named(name: str, statements: list[dict[str, object]], kind: str = "identity") -> NamedPolicy:
    doc = json.dumps({"Version": "1", "Statement": statements})
    return NamedPolicy(name, "v1", parse_policy(doc, kind=kind), "Custom")


OSS_FULL = named("AliyunOSSFullAccess", [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}])
DENY_DELETE = named("NoDelete", [{"Effect": "Deny", "Action": "oss:DeleteObject", "Resource": "*"}])
SESSION = named(
    "SessionPolicy",
    [
        {
            "Effect": "Allow",
            "Action": "oss:GetObject",
            "Resource": "acs:oss:*:*:sample-bucket/2015/01/01/*.jpg",
        }
    ],
    kind="session",
)
USER = Caller(IdentityType.RAM_USER, ACCT, "LTAIx", user_id="1", user_name="alice")
SESSION_CALLER = Caller(
    IdentityType.ASSUMED_ROLE,
    ACCT,
    "STS.x",
    role_id="2",
    role_name="oss-objectmanager",
    session_name="c",
)
ROOT = Caller(IdentityType.ACCOUNT, ACCT, "LTAIroot")


def req(action: str, resource: str) -> AuthzRequest:
    return AuthzRequest(None, action, resource, {})


def test_root_owns_its_account_only() -> None:
    assert authorize(ROOT, req("ram:CreateUser", "*"), (), resource_account=ACCT).allowed
    other = authorize(ROOT, req("ram:CreateUser", "*"), (), resource_account="6543210987654321")
    assert not other.allowed


def test_user_allowed_by_policy_and_denied_implicitly_otherwise() -> None:
    allowed = authorize(USER, req("oss:GetObject", "acs:oss:*:*:b/k"), (OSS_FULL,))
    assert allowed.allowed and allowed.matched[0].policy_name == "AliyunOSSFullAccess"
    denied = authorize(USER, req("ram:CreateUser", "acs:ram:*:1:user/x"), (OSS_FULL,))
    assert not denied.allowed and not denied.explicit
    assert denied.detail(USER, "ram:CreateUser")["NoPermissionType"] == "ImplicitDeny"


def test_an_allow_names_the_statements_that_allowed_it() -> None:
    verdict = authorize(USER, req("oss:GetObject", "acs:oss:*:*:b/k"), (OSS_FULL,))
    ref = verdict.matched[0]
    assert (
        verdict.explanation == f"Allowed by {ref.policy_name} {ref.version} statement {ref.index}."
    )
    root = authorize(ROOT, req("ram:CreateUser", "*"), (), resource_account=ACCT)
    assert root.explanation == "The account owner may do everything in its account."


def test_explicit_deny_wins_and_is_named() -> None:
    verdict = authorize(USER, req("oss:DeleteObject", "acs:oss:*:*:b/k"), (OSS_FULL, DENY_DELETE))
    assert not verdict.allowed and verdict.explicit
    assert [m.policy_name for m in verdict.matched] == ["NoDelete"]
    assert "NoDelete" in verdict.explanation


def test_session_policy_narrows_the_role() -> None:
    jpg = "acs:oss:*:*:sample-bucket/2015/01/01/grass.jpg"
    ok = authorize(SESSION_CALLER, req("oss:GetObject", jpg), (OSS_FULL,), SESSION)
    assert ok.allowed
    put = authorize(SESSION_CALLER, req("oss:PutObject", jpg), (OSS_FULL,), SESSION)
    assert not put.allowed and put.policy_kind == "SessionPolicy"
    assert put.detail(SESSION_CALLER, "oss:PutObject")["PolicyType"] == "SessionPolicy"


def test_session_policy_cannot_widen_the_role() -> None:
    wide = named("SessionPolicy", [{"Effect": "Allow", "Action": "*", "Resource": "*"}], "session")
    verdict = authorize(
        SESSION_CALLER, req("ram:CreateUser", "acs:ram:*:1:user/x"), (OSS_FULL,), wide
    )
    assert not verdict.allowed and verdict.policy_kind == "IdentityPolicy"
