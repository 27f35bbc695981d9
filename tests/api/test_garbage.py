"""Garbage in, a well-formed error out: hypothesis-driven raw HTTP against the live server.

Whatever arrives — random parameter names and values (unicode, huge, empty, duplicated),
broken signatures, timestamps and signature methods, truncated ``ACS3-HMAC-SHA256``
Authorization headers, random SecurityTokens, Actions and Versions, random form bodies,
oversized bodies, invalid UTF-8 — the server answers in time (every request has a 5 s
timeout), never with a 5xx, always with a JSON body carrying a ``Code`` (XML when the request
asked for ``Format=XML``). And the RAM state is the same afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.clients import (
    ROOT,
    Identities,
    Role,
    TeaApi,
    User,
    session_creds,
    sts_api,
)
from tests.api.rawrpc import (
    RAM_VERSION,
    STS_VERSION,
    Credentials,
    RawRpc,
    Reply,
    encode_pairs,
    nonce,
    timestamp,
    v1_common,
    v1_sign,
)
from tests.server import TesseraServer

pytestmark = [
    pytest.mark.sdk,
    # huge generated values make hypothesis warn about the size of their repr
    pytest.mark.filterwarnings(
        "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
    ),
]

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
FEW = settings(FUZZ, max_examples=60)

FORM = {"content-type": "application/x-www-form-urlencoded"}
BODY_LIMIT = 64 * 1024
RAM_ACTIONS = [
    "CreateUser",
    "GetUser",
    "UpdateUser",
    "DeleteUser",
    "ListUsers",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "ListAccessKeys",
    "CreateGroup",
    "DeleteGroup",
    "AddUserToGroup",
    "CreateRole",
    "UpdateRole",
    "DeleteRole",
    "ListRoles",
    "CreatePolicy",
    "CreatePolicyVersion",
    "DeletePolicy",
    "AttachPolicyToUser",
    "AttachPolicyToRole",
    "ListEntitiesForPolicy",
    "SetDefaultPolicyVersion",
]
STS_ACTIONS = ["AssumeRole", "GetCallerIdentity", "AssumeRoleWithSAML", "AssumeRoleWithOIDC"]
COMMON = [
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "SecurityToken",
    "SignatureType",
    "RegionId",
    "RoleArn",
    "RoleSessionName",
    "Policy",
    "DurationSeconds",
    "ExternalId",
    "UserName",
    "MaxItems",
    "Marker",
    "Tag",
    "Tag.1.Key",
    "PolicyType",
]


# ---- strategies ------------------------------------------------------------------------------

header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
any_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(["", " ", "%", "&", "=", "\x00", "null", "True", "-1", "9" * 40, "é" * 3]),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(500, 3000)),
)
param_name = st.one_of(st.sampled_from(COMMON), st.text(max_size=30))
param_pairs = st.lists(st.tuples(param_name, any_text), max_size=12)
formats = st.sampled_from([None, "JSON", "json", "XML", "xml", "yaml", ""])
actions = st.one_of(st.sampled_from(RAM_ACTIONS + STS_ACTIONS), st.text(max_size=40))
versions = st.one_of(st.sampled_from([STS_VERSION, RAM_VERSION]), st.text(max_size=20))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


statement = st.fixed_dictionaries(
    {},
    optional={
        "Effect": st.sampled_from(["Allow", "Deny", "allow", "Maybe", ""]) | json_values(2),
        "Action": st.sampled_from(["*", "ram:*", "ram:List*", "sts:AssumeRole", "oss:Get?bject"])
        | st.lists(st.text(max_size=20), max_size=3)
        | json_values(2),
        "NotAction": st.sampled_from(["ram:CreateUser", "*"]),
        "Resource": st.sampled_from(["*", "acs:ram:*:*:user/*", "acs:oss:*:*:b/*", ""])
        | st.lists(st.text(max_size=30), max_size=3)
        | json_values(2),
        "Condition": st.dictionaries(
            st.sampled_from(
                [
                    "StringEquals",
                    "StringLike",
                    "IpAddress",
                    "DateLessThan",
                    "Bool",
                    "NumericLessThan",
                    "ForAnyValue:StringEquals",
                    "Nope",
                ]
            )
            | st.text(max_size=20),
            st.dictionaries(
                st.sampled_from(
                    ["acs:SourceIp", "acs:CurrentTime", "acs:SecureTransport", "sts:ExternalId"]
                )
                | st.text(max_size=15),
                json_values(3),
                max_size=2,
            )
            | json_values(2),
            max_size=2,
        ),
        "Sid": st.text(max_size=10),
        "Principal": json_values(3),
    },
)
session_policies = st.one_of(
    st.builds(
        lambda version, statements: json.dumps({"Version": version, "Statement": statements}),
        st.sampled_from(["1", "2", 1]) | json_values(1),
        st.lists(statement, max_size=3) | json_values(3),
    ),
    json_values().map(json.dumps),
    st.text(max_size=300),
)


# ---- checking a reply ------------------------------------------------------------------------


def check(reply: Reply, *, xml: bool | None = None, allow_ok: bool = False) -> None:
    """No 5xx; an error is JSON (or XML) with a Code; ``xml`` says which one is expected."""
    assert reply.status < 500, (reply.status, reply.body[:500])
    content_type = reply.content_type
    if "xml" in content_type:
        assert xml is not False, (reply.status, reply.body[:500])
        root = reply.xml()
        if reply.status != 200:
            assert root.tag == "Error"
            assert root.findtext("Code"), reply.body[:500]
            assert root.findtext("RequestId")
    else:
        assert content_type == "application/json;charset=utf-8", reply.headers
        assert xml is not True, (reply.status, reply.body[:500])
        body = reply.json()
        assert isinstance(body, dict)
        assert body.get("RequestId")
        if reply.status != 200:
            assert isinstance(body.get("Code"), str) and body["Code"], body
        else:
            assert "Code" not in body, body
    if reply.status == 200:
        assert allow_ok, f"garbage was accepted: {reply.body[:500]!r}"
    else:
        assert 400 <= reply.status < 500


def too_long_for_a_url(encoded: str) -> bool:
    """The HTTP layer (granian) refuses request targets over 64 KiB itself, with a bare 414
    (see test_uri_beyond_64k); long garbage therefore travels in a form body."""
    return len(encoded) > 50_000


def wants_xml(pairs: Sequence[tuple[str, str]]) -> bool | None:
    """What ``Format`` asks for, as the server reads it: the last value of the name wins."""
    fmt = None
    for name, value in pairs:
        if name == "Format":
            fmt = value
    if fmt is None or fmt == "":
        return None  # left to the server (JSON, or whatever Accept says)
    return fmt.lower() == "xml"


# ---- fixtures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    nobody: User  # no policies at all: whatever it signs cannot change anything
    broker: User  # may AssumeRole (policy fuzzing)
    role: Role
    token: Credentials


def snapshot(ram: TeaApi) -> dict[str, Any]:
    def everything(action: str, wrapper: str, item: str, **kw: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        marker = None
        while True:
            page = ram(action, marker=marker, max_items=100, **kw)
            found += page[wrapper][item]
            if not page.get("IsTruncated"):
                return sorted(found, key=lambda x: json.dumps(x, sort_keys=True))
            marker = page["Marker"]

    users = everything("ListUsers", "Users", "User")
    return {
        "users": users,
        "keys": {
            u["UserName"]: ram("ListAccessKeys", user_name=u["UserName"])["AccessKeys"]
            for u in users
        },
        "groups": everything("ListGroups", "Groups", "Group"),
        "roles": everything("ListRoles", "Roles", "Role"),
        "policies": everything("ListPolicies", "Policies", "Policy", policy_type="Custom"),
    }


@pytest.fixture(scope="module")
def world(ids: Identities, server: TesseraServer) -> World:
    broker = ids.user("junk-broker", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("junk-role")
    token = session_creds(
        sts_api(server, broker.creds)("AssumeRole", role_arn=role.arn, role_session_name="junk")
    )
    return World(ids.user("junk-nobody"), broker, role, token)


@pytest.fixture(scope="module")
def baseline(ids: Identities, world: World) -> dict[str, Any]:
    """The RAM state after the fixtures above created their identities."""
    return snapshot(ids.ram)


# ---- unsigned garbage ------------------------------------------------------------------------


@FUZZ
@given(pairs=param_pairs, action=actions, post=st.booleans(), fmt=formats)
def test_random_parameters(
    raw: RawRpc,
    baseline: dict[str, Any],
    pairs: list[tuple[str, str]],
    action: str,
    post: bool,
    fmt: str | None,
) -> None:
    pairs = [("Action", action), *pairs]
    if fmt is not None:
        pairs.append(("Format", fmt))
    encoded = encode_pairs(pairs)
    if post or too_long_for_a_url(encoded):
        reply = raw.request("POST", "/", headers=FORM, body=encoded.encode())
        # a body over the limit is never read, so a Format inside it cannot count
        xml = wants_xml(pairs) if len(encoded) <= BODY_LIMIT else None
    else:
        reply = raw.request("GET", "/?" + encoded)
        xml = wants_xml(pairs)
    check(reply, xml=xml)


@FUZZ
@given(data=st.binary(max_size=3000), query_format=formats)
def test_random_form_bodies(
    raw: RawRpc, baseline: dict[str, Any], data: bytes, query_format: str | None
) -> None:
    query = [("Action", "GetCallerIdentity"), ("Version", STS_VERSION)]
    if query_format is not None:
        query.append(("Format", query_format))
    reply = raw.request("POST", "/?" + encode_pairs(query), headers=FORM, body=data)
    check(reply, xml=wants_xml(query) if _form_is_utf8(data) else None)


def _form_is_utf8(data: bytes) -> bool:
    from urllib.parse import parse_qsl

    try:
        parse_qsl(data.decode("latin-1"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


@FEW
@given(raw_bytes=st.binary(min_size=1, max_size=40), where=st.sampled_from(["query", "form"]))
def test_invalid_utf8_percent_escapes(
    raw: RawRpc, baseline: dict[str, Any], raw_bytes: bytes, where: str
) -> None:
    escaped = quote_from_bytes(b"\xff" + raw_bytes + b"\xc3")  # never valid UTF-8
    text = f"Action=GetCallerIdentity&Version={STS_VERSION}&UserName={escaped}"
    if where == "query":
        reply = raw.request("GET", "/?" + text)
    else:
        reply = raw.request("POST", "/", headers=FORM, body=text.encode())
    check(reply)
    assert reply.status == 400


@pytest.mark.parametrize(
    "target",
    [
        "/?Action=GetCallerIdentity&Version=2015-04-01&X=%FF",
        "/?Action=GetCallerIdentity&%C3%28=1",
        "/?Action=%ED%A0%80",  # an encoded UTF-16 surrogate
        "/?Action=Get%",
        "/?Action=Get%zz",
        "/?Action",
        "/?Action=&&&==&",
        "/?Action=GetCallerIdentity&Action=AssumeRole&Action=",
    ],
)
def test_odd_query_strings(raw: RawRpc, baseline: dict[str, Any], target: str) -> None:
    check(raw.request("GET", target))


def test_uri_beyond_64k(raw: RawRpc, world: World) -> None:
    """Request targets over 64 KiB never reach Tessera: the HTTP server answers 414 itself (no
    JSON body) and closes the connection. No hang, no 5xx, and the server keeps serving."""
    reply = raw.request("GET", "/?Action=GetCallerIdentity&X=" + "a" * 70_000)
    assert reply.status == 414
    reply, _ = raw.v1(world.nobody.creds, "GetCallerIdentity")
    assert reply.status == 200


# ---- oversized bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64 * 1024 + 1, 300 * 1024, 2 * 1024 * 1024])
@pytest.mark.parametrize("action_in", ["query", "form"])
def test_oversized_body(raw: RawRpc, baseline: dict[str, Any], size: int, action_in: str) -> None:
    form = f"Action=CreateUser&UserName=big&Comments={'x' * size}".encode()
    target = "/?Action=CreateUser&Version=2015-05-01" if action_in == "query" else "/"
    reply = raw.request("POST", target, headers=FORM, body=form, timeout=10)
    check(reply)
    assert reply.status == 413


@pytest.mark.parametrize("fmt", ["XML", "xml", "JSON"])
def test_unreadable_body_honours_format_in_query(
    raw: RawRpc, baseline: dict[str, Any], fmt: str
) -> None:
    """The body is never parsed (too large, or not UTF-8), but ``Format`` in the query is."""
    target = f"/?Action=CreateUser&Version=2015-05-01&Format={fmt}"
    too_large = raw.request("POST", target, headers=FORM, body=b"x" * (BODY_LIMIT + 1))
    not_utf8 = raw.request("POST", target, headers=FORM, body=b"UserName=%FF%FE")
    for reply, status in ((too_large, 413), (not_utf8, 400)):
        check(reply, xml=fmt.lower() == "xml")
        assert reply.status == status


def test_body_just_under_the_limit(raw: RawRpc, world: World, baseline: dict[str, Any]) -> None:
    pairs = v1_common(world.nobody.creds, "GetCallerIdentity", STS_VERSION)
    pairs.append(("Padding", "p" * 60_000))
    signed, _ = v1_sign("POST", pairs, world.nobody.creds.access_key_secret)
    body = encode_pairs(signed).encode()
    assert len(body) < 64 * 1024
    reply = raw.request("POST", "/", headers=FORM, body=body)
    check(reply, allow_ok=True)
    assert reply.status == 200


# ---- signature fields ------------------------------------------------------------------------


@FUZZ
@given(
    field_values=st.dictionaries(
        st.sampled_from(
            [
                "Signature",
                "Timestamp",
                "SignatureMethod",
                "SignatureVersion",
                "SignatureNonce",
                "AccessKeyId",
                "SignatureType",
                "Format",
            ]
        ),
        header_text | any_text,
        min_size=1,
        max_size=4,
    ),
    method=st.sampled_from(["GET", "POST"]),
)
def test_broken_signature_fields(
    raw: RawRpc,
    world: World,
    baseline: dict[str, Any],
    field_values: dict[str, str],
    method: str,
) -> None:
    creds = world.nobody.creds
    pairs = v1_common(creds, "ListUsers", RAM_VERSION)
    signed, _ = v1_sign(method, pairs, creds.access_key_secret)
    tampered = [(k, field_values.get(k, v)) for k, v in signed]
    for name, value in field_values.items():
        if name not in dict(signed):
            tampered.append((name, value))
    encoded = encode_pairs(tampered)
    if method == "GET" and not too_long_for_a_url(encoded):
        reply = raw.request("GET", "/?" + encoded)
    else:
        reply = raw.request("POST", "/", headers=FORM, body=encoded.encode())
    # nobody has no policies: even an accepted signature ends in NoPermission, never a 200
    check(reply, xml=wants_xml(tampered) if len(encoded) <= BODY_LIMIT else None)


@FUZZ
@given(
    algorithm=st.sampled_from(["ACS3-HMAC-SHA256", "ACS3-HMAC-SM3", "ACS3-", "ACS3-RSA-SHA256"])
    | header_text,
    parts=st.lists(
        st.one_of(
            st.builds(lambda v: f"Credential={v}", header_text),
            st.builds(lambda v: f"SignedHeaders={v}", header_text),
            st.sampled_from(
                [
                    "SignedHeaders=host;x-acs-action;x-acs-date;x-acs-signature-nonce;x-acs-version",
                    "SignedHeaders=",
                    "SignedHeaders=;;",
                    "Signature=" + "a" * 64,
                    "Signature=" + "A" * 63,
                    "Credential=",
                    "Credential=STS.x",
                    "=",
                    ",,",
                ]
            ),
            st.builds(lambda v: f"Signature={v}", header_text),
            header_text,
        ),
        max_size=5,
    ),
    separator=st.sampled_from([",", ", ", " ", ";"]),
    drop=st.sets(st.sampled_from(["x-acs-date", "x-acs-signature-nonce", "x-acs-version"])),
    date=st.one_of(st.just("now"), header_text),
    token=st.none() | header_text,
)
def test_broken_acs3_authorization(
    raw: RawRpc,
    baseline: dict[str, Any],
    algorithm: str,
    parts: list[str],
    separator: str,
    drop: set[str],
    date: str,
    token: str | None,
) -> None:
    headers = {
        "authorization": f"{algorithm} {separator.join(parts)}",
        "x-acs-action": "ListUsers",
        "x-acs-version": RAM_VERSION,
        "x-acs-date": timestamp() if date == "now" else date,
        "x-acs-signature-nonce": nonce(),
    }
    if token is not None:
        headers["x-acs-security-token"] = token
    for name in drop:
        headers.pop(name)
    check(raw.request("POST", "/", headers=headers))


# ---- security tokens, actions and versions (properly signed) ---------------------------------


@FUZZ
@given(
    token=st.one_of(any_text, header_text, st.builds(lambda s: "CAIS" + s, header_text)),
    key_id=st.one_of(st.just("real"), st.builds(lambda s: "STS." + s, header_text)),
    sign_with=st.sampled_from(["real", "random"]),
)
def test_random_security_tokens(
    raw: RawRpc, world: World, baseline: dict[str, Any], token: str, key_id: str, sign_with: str
) -> None:
    real = world.token
    creds = Credentials(real.access_key_id if key_id == "real" else key_id, "", token)
    secret = real.access_key_secret if sign_with == "real" else "random-secret"
    long = too_long_for_a_url(encode_pairs([("SecurityToken", token)]))
    reply, _ = raw.v1(
        creds,
        "GetCallerIdentity",
        sign_with=secret,
        method="POST" if long else "GET",
        in_body=long,
    )
    check(reply)
    code = reply.json()["Code"]
    expected = ("InvalidSecurityToken", "MissingSecurityToken")
    if long:
        expected += ("InvalidParameter.RequestSize",)
    assert code.startswith(expected), code


@FUZZ
@given(action=actions, version=versions, fmt=formats, pairs=param_pairs)
def test_random_actions_and_versions(
    raw: RawRpc,
    world: World,
    baseline: dict[str, Any],
    action: str,
    version: str,
    fmt: str | None,
    pairs: list[tuple[str, str]],
) -> None:
    """Signed by a user without policies: RAM actions are refused, STS ones validated."""
    pairs = [(k, v) for k, v in pairs if k not in set(COMMON[:12])]
    long = too_long_for_a_url(encode_pairs(pairs))
    reply, _ = raw.v1(
        world.nobody.creds,
        action,
        pairs,
        version=version,
        fmt=fmt,
        method="POST" if long else "GET",
        in_body=long,
    )
    ok = action == "GetCallerIdentity" and version == STS_VERSION
    xml = wants_xml([("Format", fmt)] if fmt is not None else [])
    check(reply, xml=None if long else xml, allow_ok=ok)


@FUZZ
@given(
    action=st.sampled_from(
        [
            "ListUsers",
            "ListRoles",
            "ListGroups",
            "ListPolicies",
            "GetUser",
            "GetRole",
            "GetGroup",
            "GetPolicy",
            "GetPolicyVersion",
            "ListPolicyVersions",
            "ListAccessKeys",
            "ListEntitiesForPolicy",
            "ListPoliciesForUser",
            "ListGroupsForUser",
            "ListUsersForGroup",
            "AssumeRole",
            "GetCallerIdentity",
        ]
    ),
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Marker",
                    "MaxItems",
                    "UserName",
                    "RoleName",
                    "GroupName",
                    "PolicyName",
                    "PolicyType",
                    "VersionId",
                    "Tag",
                    "Tag.1.Key",
                    "Tag.1.Value",
                    "Tag.x",
                    "RoleArn",
                    "RoleSessionName",
                    "Policy",
                    "DurationSeconds",
                    "ExternalId",
                ]
            ),
            any_text
            | st.sampled_from(
                [
                    "0",
                    "1001",
                    "-5",
                    "1e3",
                    "[]",
                    "[{}]",
                    '[{"Key":1}]',
                    "System",
                    "Custom",
                    "v1",
                    "v0",
                    "v99999999999",
                ]
            ),
        ),
        max_size=6,
    ),
    signature=st.sampled_from(["v1-get", "v1-post", "v3"]),
)
def test_root_read_actions_with_garbage_parameters(
    raw: RawRpc,
    baseline: dict[str, Any],
    action: str,
    pairs: list[tuple[str, str]],
    signature: str,
) -> None:
    """Correctly signed by the root key: only read actions, so nothing can change, but every
    parameter parser (markers, integers, enums, Tag lists, ARNs) sees garbage."""
    version = STS_VERSION if action in ("AssumeRole", "GetCallerIdentity") else RAM_VERSION
    if too_long_for_a_url(encode_pairs(pairs)):
        signature = "v1-post"
    if signature == "v3":
        reply, _ = raw.v3(ROOT, action, pairs, version=version)
    else:
        reply, _ = raw.v1(
            ROOT,
            action,
            pairs,
            version=version,
            method=signature[3:].upper(),
            in_body=signature == "v1-post",
        )
    check(reply, allow_ok=action != "AssumeRole")


@FUZZ
@given(session_policy=session_policies, duration=st.none() | any_text)
def test_session_policy_fuzz(
    raw: RawRpc,
    world: World,
    baseline: dict[str, Any],
    session_policy: str,
    duration: str | None,
) -> None:
    """Random session policies go through the policy parser; a token may come out (no state
    changes), or a 400 — never a 5xx."""
    params = [
        ("RoleArn", world.role.arn),
        ("RoleSessionName", "fuzz"),
        ("Policy", session_policy),
    ]
    if duration is not None:
        params.append(("DurationSeconds", duration))
    reply, _ = raw.v1(world.broker.creds, "AssumeRole", params, method="POST", in_body=True)
    check(reply, allow_ok=True)
    if reply.status == 200:
        # an accepted policy must also work when the token is used
        token = session_creds(reply.json())
        follow, _ = raw.v1(token, "ListUsers", version=RAM_VERSION)
        check(follow, allow_ok=True)
    else:
        assert reply.json()["Code"].startswith(("InvalidParameter", "Missing")), reply.json()


# ---- nothing changed -------------------------------------------------------------------------


def test_zz_ram_state_unchanged(ids: Identities, baseline: dict[str, Any]) -> None:
    """Runs last in this module (pytest keeps file order): the garbage changed nothing."""
    assert snapshot(ids.ram) == baseline
