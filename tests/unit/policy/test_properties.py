"""Property tests: a session policy never widens what the role grants; a matching Deny always
wins; the wildcard matcher agrees with a plain regex translation; IP conditions agree with the
``ipaddress`` module; strict and lenient parsing agree on valid documents."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, ip_address, ip_network
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.policy import (
    AuthzRequest,
    Effect,
    NamedPolicy,
    PrincipalRef,
    StatementRef,
    all_of,
    evaluate,
    parse_policy,
)
from tessera.policy.wildcard import compile_any, compile_wildcard

ACCT = "1234567890123456"
USER = PrincipalRef.assumed_role(ACCT, "app", "3901", "s")

SERVICES = ["oss", "ram"]
NAMES = ["GetObject", "PutObject", "DeleteObject", "ListObjects", "CreateUser"]
BUCKETS = ["a", "b"]
KEYS = ["x.jpg", "y/z.png", "y/x.jpg", "Y/x.jpg"]

concrete_actions = st.builds(
    lambda s, n: f"{s}:{n}", st.sampled_from(SERVICES), st.sampled_from(NAMES)
)
object_names = st.builds(
    lambda b, k: f"acs:oss:*:{ACCT}:{b}/{k}", st.sampled_from(BUCKETS), st.sampled_from(KEYS)
)
bucket_names = st.sampled_from(BUCKETS).map(lambda b: f"acs:oss:*:{ACCT}:{b}")
concrete_resources = st.one_of(object_names, bucket_names)


def _recase(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def any_case(draw: st.DrawFn, strategy: st.SearchStrategy[str]) -> str:
    return _recase(draw, draw(strategy))


action_patterns = st.one_of(
    any_case(concrete_actions),
    st.just("*"),
    st.sampled_from(SERVICES).map(lambda s: f"{s}:*"),
    st.sampled_from(["oss:Get*", "oss:?utObject", "*:List*", "oss:*Object"]),
)
resource_patterns = st.one_of(
    st.just("*"),
    concrete_resources,
    st.sampled_from(
        [
            "acs:oss:*:*:a/*",
            "acs:oss:*:*:*/*.jpg",
            "acs:oss:*:*:b",
            f"acs:oss:*:{ACCT}:?/y/*",
            "acs:oss:*:9:*",
        ]
    ),
)
conditions = st.sampled_from(
    [
        {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
        {"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
        {"StringEquals": {"acs:SourceVpc": "vpc-1"}},
        {"StringEqualsIfExists": {"acs:SourceVpc": "vpc-1"}},
        {"Bool": {"acs:SecureTransport": "true"}},
        {"Null": {"acs:SourceVpc": "true"}},
    ]
)


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "Action", "NotAction"])): draw(
            st.lists(action_patterns, min_size=1, max_size=3)
        ),
        draw(st.sampled_from(["Resource", "Resource", "NotResource"])): draw(
            st.lists(resource_patterns, min_size=1, max_size=2)
        ),
    }
    if draw(st.booleans()):
        statement["Condition"] = draw(conditions)
    return statement


documents = st.lists(statements(), min_size=1, max_size=4).map(
    lambda s: {"Version": "1", "Statement": s}
)


@st.composite
def policy_sets(draw: st.DrawFn, kind: str, min_size: int = 0) -> list[NamedPolicy]:
    docs = draw(st.lists(documents, min_size=min_size, max_size=3))
    return [
        NamedPolicy(f"{kind}-{i}", "v1", parse_policy(d, kind=kind), kind)
        for i, d in enumerate(docs)
    ]


contexts = st.fixed_dictionaries(
    {},
    optional={
        "acs:SourceIp": st.sampled_from([("10.1.1.1",), ("8.8.8.8",)]),
        "acs:SourceVpc": st.sampled_from([("vpc-1",), ("vpc-2",)]),
        "acs:SecureTransport": st.sampled_from([("true",), ("false",)]),
    },
)
requests = st.builds(
    lambda action, resource, context: AuthzRequest(USER, action, resource, context),
    any_case(concrete_actions),
    concrete_resources,
    contexts,
)


@settings(max_examples=300)
@given(role=policy_sets("identity"), session=policy_sets("session"), request=requests)
def test_session_policy_never_widens_the_role(
    role: list[NamedPolicy], session: list[NamedPolicy], request: AuthzRequest
) -> None:
    alone = evaluate(role, request)
    combined = all_of(alone, evaluate(session, request))
    if combined.allowed:
        assert alone.allowed
        assert set(alone.matched) <= set(combined.matched)
    if not alone.allowed:
        assert not combined.allowed
    if alone.effect is Effect.EXPLICIT_DENY:
        assert combined.effect is Effect.EXPLICIT_DENY


@settings(max_examples=300)
@given(
    policies=policy_sets("identity"),
    request=requests,
    where=st.integers(min_value=0),
    data=st.data(),
)
def test_a_matching_deny_always_wins(
    policies: list[NamedPolicy], request: AuthzRequest, where: int, data: st.DataObject
) -> None:
    service = request.action.split(":")[0]
    action = data.draw(
        st.sampled_from([request.action, request.action.upper(), "*", f"{service}:*"])
    )
    resource = data.draw(st.sampled_from([request.resource, "*", "acs:oss:*:*:*"]))
    deny = {"Sid": "added", "Effect": "Deny", "Action": action, "Resource": resource}

    slot = where % (len(policies) + 1)
    if slot == len(policies):
        document: dict[str, Any] = {"Version": "1", "Statement": [deny]}
        name = "added-policy"
    else:
        original = policies[slot]
        document = {"Version": "1", "Statement": [*_statements_of(original), deny]}
        name = original.name
    widened = list(policies)
    added = NamedPolicy(name, "v1", parse_policy(document), "Custom")
    widened[slot : slot + 1] = [added]

    decision = evaluate(widened, request)
    assert decision.effect is Effect.EXPLICIT_DENY
    index = len(document["Statement"]) - 1
    assert StatementRef(name, "v1", index, "Deny", "added") in decision.matched


def _statements_of(named: NamedPolicy) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in named.policy.statements:
        statement: dict[str, Any] = {
            "Effect": s.effect,
            ("NotAction" if s.not_action else "Action"): list(s.actions),
        }
        assert s.resources is not None
        statement["NotResource" if s.not_resource else "Resource"] = list(s.resources)
        out.append(statement)
    return out


def _reference_wildcard(pattern: str, subject: str) -> bool:
    source = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(source, subject, re.DOTALL) is not None


patterns = st.text(alphabet="ab*?/.", max_size=10)
subjects = st.text(alphabet="ab/.*?\n", max_size=12)


@settings(max_examples=1000)
@given(pattern=patterns, subject=subjects)
def test_wildcard_agrees_with_a_regex_translation(pattern: str, subject: str) -> None:
    assert compile_wildcard(pattern)(subject) is _reference_wildcard(pattern, subject)


@settings(max_examples=500)
@given(pattern_list=st.lists(patterns, max_size=4), subject=subjects)
def test_compile_any_agrees_with_the_reference(pattern_list: list[str], subject: str) -> None:
    expected = any(_reference_wildcard(p, subject) for p in pattern_list)
    assert compile_any(pattern_list)(subject) is expected


@settings(max_examples=500)
@given(
    network=st.integers(min_value=0, max_value=2**32 - 1),
    prefix=st.integers(min_value=0, max_value=32),
    address=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_ip_address_condition_agrees_with_ipaddress(
    network: int, prefix: int, address: int
) -> None:
    cidr = f"{IPv4Address(network)}/{prefix}"
    ip = str(IPv4Address(address))
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"IpAddress": {"acs:SourceIp": cidr}},
            }
        ],
    }
    policy = [NamedPolicy("p", "v1", parse_policy(document), "Custom")]
    allowed = evaluate(
        policy, AuthzRequest(USER, "oss:GetObject", "*", {"acs:SourceIp": (ip,)})
    ).allowed
    assert allowed is (ip_address(ip) in ip_network(cidr, strict=False))


@settings(max_examples=200)
@given(document=documents, request=requests)
def test_strict_and_lenient_agree_on_valid_documents(
    document: dict[str, Any], request: AuthzRequest
) -> None:
    text = json.dumps(document)
    strict = [NamedPolicy("p", "v1", parse_policy(text), "Custom")]
    lenient = [NamedPolicy("p", "v1", parse_policy(text, strict=False), "Custom")]
    assert evaluate(strict, request) == evaluate(lenient, request)
