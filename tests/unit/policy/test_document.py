"""Document grammar: strict parsing names the place of every error; lenient loading tolerates
what it can and fails closed on the rest (spec sts-ram.md 4.1, oss.md 11)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.errors import MalformedPolicy
from tessera.policy import (
    AuthzRequest,
    Decision,
    Effect,
    NamedPolicy,
    PrincipalRef,
    evaluate,
    load_policy,
    parse_policy,
)

ACCT = "1234567890123456"
GOOD: dict[str, Any] = {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "*"}


def doc(*statements: Any, **top: Any) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements), **top})


def detail(document: str, kind: str = "identity") -> str:
    with pytest.raises(MalformedPolicy) as raised:
        parse_policy(document, kind=kind)
    return raised.value.detail


RESOURCE_WHAT = '"*" or an ACS resource name (acs:<service>:<region>:<account>:<relative-id>)'
ACTION_WHAT = "an action (service:ActionName, or *)"
TRUST_SHAPE = (
    'Statement[0].Principal: must be "*" or an object with RAM, Service or Federated principals'
)

STRICT_ERRORS = [
    ("[]", "identity", "Policy: the document must be a JSON object"),
    ('"text"', "identity", "Policy: the document must be a JSON object"),
    (json.dumps({"Statement": [GOOD]}), "identity", "Version: is required"),
    (json.dumps({"Version": "2", "Statement": [GOOD]}), "identity", 'Version: must be "1"'),
    (json.dumps({"Version": 1, "Statement": [GOOD]}), "identity", 'Version: must be "1"'),
    (json.dumps({"Version": "1"}), "identity", "Statement: is required"),
    (
        json.dumps({"Version": "1", "Statement": GOOD}),
        "identity",
        "Statement: must be a non-empty list of statements",
    ),
    (
        json.dumps({"Version": "1", "Statement": []}),
        "identity",
        "Statement: must be a non-empty list of statements",
    ),
    (doc(GOOD, Id="x"), "identity", 'Policy: unknown element "Id"'),
    (doc("x"), "identity", "Statement[0]: must be an object"),
    (
        doc(GOOD, {**GOOD, "Actions": "oss:*"}),
        "identity",
        'Statement[1]: unknown element "Actions"',
    ),
    (
        doc({"effect": "Allow", "Action": "oss:*", "Resource": "*"}),
        "identity",
        'Statement[0]: unknown element "effect"',
    ),
    (doc({"Action": "oss:*", "Resource": "*"}), "identity", "Statement[0].Effect: is required"),
    (
        doc({**GOOD, "Effect": "Permit"}),
        "identity",
        'Statement[0].Effect: must be "Allow" or "Deny"',
    ),
    (
        doc({**GOOD, "Effect": " Allow"}),
        "identity",
        'Statement[0].Effect: must be "Allow" or "Deny"',
    ),
    (doc({**GOOD, "Effect": True}), "identity", 'Statement[0].Effect: must be "Allow" or "Deny"'),
    (
        doc({"Effect": "Allow", "Resource": "*"}),
        "identity",
        "Statement[0]: Action or NotAction is required",
    ),
    (
        doc({**GOOD, "NotAction": "ram:*"}),
        "identity",
        "Statement[0]: Action and NotAction are mutually exclusive",
    ),
    (
        doc({**GOOD, "Action": []}),
        "identity",
        "Statement[0].Action: must be a string or a non-empty list of strings",
    ),
    (
        doc({**GOOD, "Action": 5}),
        "identity",
        "Statement[0].Action: must be a string or a non-empty list of strings",
    ),
    (
        doc({**GOOD, "Action": ["oss:GetObject", 5]}),
        "identity",
        "Statement[0].Action[1]: must be a string",
    ),
    (
        doc({**GOOD, "Action": ["oss:GetObject", "oss GetObject"]}),
        "identity",
        f'Statement[0].Action[1]: "oss GetObject" is not {ACTION_WHAT}',
    ),
    (
        doc({**GOOD, "Action": "GetObject"}),
        "identity",
        f'Statement[0].Action: "GetObject" is not {ACTION_WHAT}',
    ),
    (
        doc({"Effect": "Deny", "NotAction": "oss:"}),
        "identity",
        f'Statement[0].NotAction: "oss:" is not {ACTION_WHAT}',
    ),
    (
        doc({"Effect": "Allow", "Action": "oss:*"}),
        "identity",
        "Statement[0]: Resource or NotResource is required",
    ),
    (
        doc({"Effect": "Allow", "Action": "oss:*"}),
        "session",
        "Statement[0]: Resource or NotResource is required",
    ),
    (
        doc({**GOOD, "NotResource": "acs:oss:*:*:b"}),
        "identity",
        "Statement[0]: Resource and NotResource are mutually exclusive",
    ),
    (
        doc({**GOOD, "Resource": "bucket/key"}),
        "identity",
        f'Statement[0].Resource: "bucket/key" is not {RESOURCE_WHAT}',
    ),
    (
        doc({**GOOD, "Resource": ["*", "arn:aws:s3:::b"]}),
        "identity",
        f'Statement[0].Resource[1]: "arn:aws:s3:::b" is not {RESOURCE_WHAT}',
    ),
    (
        doc({**GOOD, "Principal": "*"}),
        "identity",
        "Statement[0].Principal: not allowed in identity policies",
    ),
    (
        doc({**GOOD, "Principal": "*"}),
        "session",
        "Statement[0].Principal: not allowed in session policies",
    ),
    (doc({**GOOD, "Sid": 5}), "identity", "Statement[0].Sid: must be a string"),
    (
        '{"Version":"1","Statement":[{"Effect":"Allow","Effect":"Deny","Action":"a:b","Resource":"*"}]}',
        "identity",
        'Statement[0]: duplicate element "Effect"',
    ),
    (
        '{"Version":"1","Version":"1","Statement":[]}',
        "identity",
        'Policy: duplicate element "Version"',
    ),
    (
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":'
        '{"StringEquals":{"k":"1"},"StringEquals":{"k":"2"}}}]}',
        "identity",
        'Statement[0].Condition: duplicate element "StringEquals"',
    ),
    (
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":'
        '{"IpAddress":{"acs:SourceIp":"10.0.0.0/8","acs:SourceIp":"0.0.0.0/0"}}}]}',
        "identity",
        'Statement[0].Condition.IpAddress: duplicate element "acs:SourceIp"',
    ),
    (
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
        '"Principal":{"RAM":"acs:ram::1:root","RAM":"*"}}]}',
        "trust",
        'Statement[0].Principal: duplicate element "RAM"',
    ),
    (
        doc(GOOD, {**GOOD, "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.300"]}}}),
        "identity",
        # the example from the brief, verbatim
        'Statement[1].Condition.IpAddress["acs:SourceIp"][0]: '
        '"10.0.0.300" is not an IP address or CIDR',
    ),
    (
        doc(GOOD, GOOD, {**GOOD, "Condition": {"StringEquals": {"k": "v"}, "Foo": {}}}),
        "identity",
        'Statement[2].Condition: unknown condition operator "Foo"',
    ),
    (
        doc({**GOOD, "Condition": []}),
        "identity",
        "Statement[0].Condition: must be an object of condition operators",
    ),
    # trust policies (spec 4.6)
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "trust",
        "Statement[0]: Principal is required in trust policies",
    ),
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {}}),
        "trust",
        TRUST_SHAPE,
    ),
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": ["*"]}),
        "trust",
        TRUST_SHAPE,
    ),
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}),
        "trust",
        'Statement[0].Principal: unknown principal type "AWS" (use RAM, Service or Federated)',
    ),
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"ram": ["*"]}}),
        "trust",
        'Statement[0].Principal: unknown principal type "ram" (use RAM, Service or Federated)',
    ),
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": []}}),
        "trust",
        "Statement[0].Principal.RAM: must hold at least one principal",
    ),
    (
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": "alice"}}),
        "trust",
        'Statement[0].Principal.RAM: "alice" is not "*" or a RAM ARN '
        "(acs:ram::<account>:root, :user/<name> or :role/<name>)",
    ),
    (
        doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": [f"acs:ram::{ACCT}:group/dev"]},
            }
        ),
        "trust",
        f'Statement[0].Principal.RAM[0]: "acs:ram::{ACCT}:group/dev" is not "*" or a RAM ARN '
        "(acs:ram::<account>:root, :user/<name> or :role/<name>)",
    ),
    (
        doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["ecs.aliyuncs.com", 3]},
            }
        ),
        "trust",
        "Statement[0].Principal.Service[1]: must be a string",
    ),
    (
        doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Federated": f"acs:ram::{ACCT}:user/x"},
            }
        ),
        "trust",
        f'Statement[0].Principal.Federated: "acs:ram::{ACCT}:user/x" '
        "is not an identity provider ARN "
        "(acs:ram::<account>:saml-provider/<name>)",
    ),
    # bucket policies (spec oss.md 11)
    (
        doc({"Effect": "Allow", "Action": "oss:GetObject", "Principal": "*"}),
        "resource",
        "Statement[0]: Resource or NotResource is required",
    ),
    (
        doc({"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:b/*"}),
        "resource",
        "Statement[0]: Principal is required in resource policies",
    ),
    (
        doc(
            {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "*", "Principal": ["alice"]}
        ),
        "resource",
        'Statement[0].Principal[0]: "alice" is not "*", an account or RAM user id, '
        "or arn:sts::<uid>:assumed-role/<role-id>/<session>",
    ),
    (
        doc(
            {
                "Effect": "Allow",
                "Action": "oss:GetObject",
                "Resource": "*",
                "Principal": {"RAM": ["1"]},
            }
        ),
        "resource",
        "Statement[0].Principal: must be a string or a list of strings",
    ),
]


@pytest.mark.parametrize(("document", "kind", "expected"), STRICT_ERRORS)
def test_strict_errors_name_their_place(document: str, kind: str, expected: str) -> None:
    assert detail(document, kind) == expected


@pytest.mark.parametrize("text", ["", "{", '{"Version": "1",}', "nope", "[1, 2"])
def test_invalid_json_is_malformed_in_both_modes(text: str) -> None:
    for strict in (True, False):
        with pytest.raises(MalformedPolicy) as raised:
            parse_policy(text, strict=strict)
        assert raised.value.detail.startswith("Policy: not valid JSON (")


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedPolicy):
        parse_policy("[" * 100_000 + "]" * 100_000)


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown policy kind"):
        parse_policy(doc(GOOD), kind="bucket")


def test_a_decoded_mapping_is_accepted() -> None:
    policy = parse_policy({"Version": "1", "Statement": [GOOD]})
    assert [s.actions for s in policy.statements] == [("oss:GetObject",)]


def test_compiled_statement_keeps_what_it_was_written_with() -> None:
    policy = parse_policy(
        doc(
            {
                "Sid": "read",
                "Effect": "allow",
                "Action": ["oss:Get*"],
                "Resource": "acs:oss:*:*:b/*",
            },
            {"Effect": "Deny", "NotAction": "oss:*", "NotResource": ["acs:oss:*:*:b"]},
        )
    )
    first, second = policy.statements
    assert (first.sid, first.effect, first.actions, first.not_action) == (
        "read",
        "Allow",
        ("oss:Get*",),
        False,
    )
    assert (first.resources, first.not_resource, first.deny) == (("acs:oss:*:*:b/*",), False, False)
    assert (second.effect, second.not_action, second.resources, second.not_resource) == (
        "Deny",
        True,
        ("acs:oss:*:*:b",),
        True,
    )
    assert policy.kind == "identity"
    assert policy.version == "1"


def test_effect_is_case_insensitive_in_strict_mode() -> None:
    assert parse_policy(doc({**GOOD, "Effect": "deny"})).statements[0].effect == "Deny"


def test_trust_statements_may_omit_resource() -> None:
    policy = parse_policy(
        doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": f"acs:ram::{ACCT}:root"},
            }
        ),
        kind="trust",
    )
    assert policy.statements[0].resources is None


# --- lenient loading --------------------------------------------------------------------------

USER = PrincipalRef.ram_user(ACCT, "alice", "2001")


def decide(
    text: str,
    action: str = "oss:GetObject",
    resource: str = f"acs:oss:*:{ACCT}:b/k",
    **context: str,
) -> Decision:
    named = NamedPolicy("stored", "v1", load_policy(text), "Custom")
    ctx = {key.replace("_", ":"): (value,) for key, value in context.items()}
    return evaluate([named], AuthzRequest(USER, action, resource, ctx))


LENIENT_ALLOWS = [
    # unknown elements are ignored
    json.dumps({"Version": "1", "Id": "x", "Statement": [{**GOOD, "Foo": 1}]}),
    # element names and Effect are case-insensitive; Effect may carry spaces
    json.dumps(
        {
            "version": "1",
            "statement": [{"effect": " allow ", "action": "oss:GetObject", "resource": "*"}],
        }
    ),
    # Version is not checked
    json.dumps({"Statement": [GOOD]}),
    json.dumps({"Version": "2", "Statement": [GOOD]}),
    # a lone statement object
    json.dumps({"Version": "1", "Statement": GOOD}),
    # a Principal in an identity policy is ignored
    doc({**GOOD, "Principal": {"RAM": "acs:ram::9:root"}}),
    # operator names are case-insensitive
    doc({**GOOD, "Condition": {"stringequals": {"acs:SourceVpc": "vpc-1"}}}),
    # Action wins over NotAction when both are present
    doc({**GOOD, "NotAction": "oss:GetObject"}),
    # a malformed action is kept as a pattern (it simply matches nothing)
    doc({**GOOD, "Action": ["oss GetObject", "oss:GetObject", 5]}),
]


@pytest.mark.parametrize("text", LENIENT_ALLOWS)
def test_lenient_loading_tolerates(text: str) -> None:
    with pytest.raises(MalformedPolicy):
        parse_policy(text)
    assert decide(text, acs_SourceVpc="vpc-1").effect is Effect.ALLOW


LENIENT_SKIPS = [
    doc({**GOOD, "Effect": "Permit"}),
    doc({"Action": "oss:GetObject", "Resource": "*"}),
    doc({"Effect": "Allow", "Resource": "*"}),
    doc({**GOOD, "Action": 5}),
    doc({"Effect": "Allow", "NotAction": [5], "Resource": "*"}),
    doc("not a statement"),
    json.dumps({"Version": "1"}),
]


@pytest.mark.parametrize("text", LENIENT_SKIPS)
def test_lenient_loading_skips_statements_without_effect_or_action(text: str) -> None:
    assert decide(text).effect is Effect.IMPLICIT_DENY


FAIL_CLOSED = [
    ({"Condition": {"StringEqualz": {"k": "v"}}}),
    ({"Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.300"}}}),
    ({"Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.300", "10.0.0.0/8"]}}}),
    ({"Condition": "oops"}),
    ({"Resource": 7}),
    ({"Resource": []}),
    ({"Resource": [None]}),
    ({"Resource": None}),
]


@pytest.mark.parametrize("broken", FAIL_CLOSED)
def test_lenient_loading_fails_closed(broken: dict[str, Any]) -> None:
    allow = {**GOOD, **broken}
    deny = {**allow, "Effect": "Deny"}
    if broken.get("Resource", "") is None:
        del allow["Resource"], deny["Resource"]
    # a broken Allow never grants; a broken Deny still denies
    assert decide(doc(allow), acs_SourceIp="8.8.8.8").effect is Effect.IMPLICIT_DENY
    assert decide(doc(GOOD, deny), acs_SourceIp="8.8.8.8").effect is Effect.EXPLICIT_DENY


def test_lenient_loading_takes_odd_patterns_literally() -> None:
    # a pattern is always meaningful as a wildcard string: it is kept, not failed closed
    text = doc({**GOOD, "Effect": "Deny", "Resource": "bucket/*"}, GOOD)
    assert decide(text).effect is Effect.ALLOW
    assert decide(text, resource="bucket/k").effect is Effect.EXPLICIT_DENY


def test_lenient_refs_keep_document_indexes_when_statements_are_skipped() -> None:
    text = doc({**GOOD, "Effect": "Permit"}, {**GOOD, "Sid": "second"})
    decision = decide(text)
    assert [(ref.index, ref.sid) for ref in decision.matched] == [(1, "second")]


def test_lenient_trust_policy_without_principal_fails_closed() -> None:
    allow = doc({"Effect": "Allow", "Action": "sts:AssumeRole"})
    deny = doc({"Effect": "Deny", "Action": "sts:AssumeRole"})
    assert load_policy(allow, "trust").statements[0].principal is not None
    assert load_policy(allow, "trust").statements[0].principal.matches(USER) is False  # type: ignore[union-attr]
    assert load_policy(deny, "trust").statements[0].principal.matches(USER) is True  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["[]", json.dumps({"Version": "1", "Statement": "x"})])
def test_lenient_loading_still_rejects_what_cannot_be_a_policy(text: str) -> None:
    with pytest.raises(MalformedPolicy):
        load_policy(text)


def test_load_policy_compiles_each_text_once_per_kind() -> None:
    text = doc(GOOD)
    assert load_policy(text) is load_policy(text)
    assert load_policy(text, "session") is not load_policy(text)
    assert load_policy(text, "session").kind == "session"
