"""AuthzRequests and ACL rules (spec oss.md 7.7, 11), decided by the real policy evaluator."""

from __future__ import annotations

import json

import pytest

from tessera.errors import InvalidArgument
from tessera.oss.authz import (
    Acl,
    ObjectRef,
    RequestFacts,
    acl_allows,
    authz_requests,
    condition_context,
    effective_acl,
    parse_acl,
    resource_arn,
)
from tessera.oss.routing import route
from tessera.policy import (
    NamedPolicy,
    PrincipalRef,
    evaluate,
    evaluate_resource_policy,
    parse_policy,
)

OWNER = "1234567890123456"
FACTS = RequestFacts("10.0.0.7", False, 1798000000.0, "aliyun-sdk-python/2.19.1", None, "STS.X")
USER = PrincipalRef.ram_user(OWNER, "alice", "200000000000000001")


def test_resource_arns() -> None:
    assert resource_arn(OWNER) == f"acs:oss:*:{OWNER}:*"
    assert resource_arn(OWNER, "bkt") == f"acs:oss:*:{OWNER}:bkt"
    assert resource_arn(OWNER, "bkt", "a/b c") == f"acs:oss:*:{OWNER}:bkt/a/b c"


def test_condition_context() -> None:
    context = condition_context(FACTS, {"prefix": "a/", "delimiter": "/", "marker": "x"})
    assert context == {
        "acs:SourceIp": ("10.0.0.7",),
        "acs:SecureTransport": ("false",),
        "acs:CurrentTime": ("2026-12-23T04:26:40Z",),
        "acs:UserAgent": ("aliyun-sdk-python/2.19.1",),
        "acs:AccessId": ("STS.X",),
        "oss:Prefix": ("a/",),
        "oss:Delimiter": ("/",),
    }
    assert "oss:Prefix" not in condition_context(FACTS, {})
    assert condition_context(FACTS, {"prefix": ""})["oss:Prefix"] == ("",)


def test_copy_checks_source_read_and_destination_write() -> None:
    requests = authz_requests(
        route("PUT", "object", (), copy_source=True),
        USER,
        ObjectRef(OWNER, "dst", "d/k"),
        {},
        source=ObjectRef("9999", "src", "s/k"),
    )
    assert [(r.action, r.resource) for r in requests] == [
        ("oss:GetObject", "acs:oss:*:9999:src/s/k"),
        ("oss:PutObject", f"acs:oss:*:{OWNER}:dst/d/k"),
    ]


def test_copy_without_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="copy source"):
        authz_requests(
            route("PUT", "object", (), copy_source=True), USER, ObjectRef(OWNER, "b", "k"), {}
        )


def test_delete_multiple_asks_once_per_key() -> None:
    requests = authz_requests(
        route("POST", "bucket", ("delete",)), USER, ObjectRef(OWNER, "bkt"), {}, keys=["a", "b/c"]
    )
    assert [(r.action, r.resource) for r in requests] == [
        ("oss:DeleteObject", f"acs:oss:*:{OWNER}:bkt/a"),
        ("oss:DeleteObject", f"acs:oss:*:{OWNER}:bkt/b/c"),
    ]


def test_preflight_asks_nothing() -> None:
    assert (
        authz_requests(route("OPTIONS", "object", ()), None, ObjectRef(OWNER, "b", "k"), {}) == ()
    )


def _identity(document: dict[str, object]) -> NamedPolicy:
    return NamedPolicy("p", "1", parse_policy(json.dumps(document)), "Custom")


def test_prefix_condition_decides_listing() -> None:
    policy = _identity(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "oss:ListObjects",
                    "Resource": "acs:oss:*:*:bkt",
                    "Condition": {"StringLike": {"oss:Prefix": "home/alice/*"}},
                }
            ],
        }
    )
    listing = route("GET", "bucket", ("prefix",))

    def allowed(prefix: str) -> bool:
        context = condition_context(FACTS, {"prefix": prefix})
        (request,) = authz_requests(listing, USER, ObjectRef(OWNER, "bkt"), context)
        return evaluate([policy], request).allowed

    assert allowed("home/alice/photos/")
    assert not allowed("home/bob/")


def test_secure_transport_condition() -> None:
    policy = _identity(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": "oss:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "oss:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"acs:SecureTransport": "false"}},
                },
            ],
        }
    )
    get = route("GET", "object", ())
    (plain,) = authz_requests(get, USER, ObjectRef(OWNER, "b", "k"), condition_context(FACTS))
    tls = RequestFacts("10.0.0.7", True, FACTS.now)
    (secure,) = authz_requests(get, USER, ObjectRef(OWNER, "b", "k"), condition_context(tls))
    assert not evaluate([policy], plain).allowed
    assert evaluate([policy], secure).allowed


def test_bucket_policy_with_anonymous_principal() -> None:
    bucket_policy = NamedPolicy(
        "bucket-policy",
        "1",
        parse_policy(
            json.dumps(
                {
                    "Version": "1",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": ["*"],
                            "Action": ["oss:GetObject"],
                            "Resource": ["acs:oss:*:*:bkt/public/*"],
                            "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
                        }
                    ],
                }
            ),
            kind="resource",
        ),
        "Bucket",
    )
    get = route("GET", "object", ())
    context = condition_context(FACTS)
    (inside,) = authz_requests(
        get, PrincipalRef.anonymous(), ObjectRef(OWNER, "bkt", "public/x"), context
    )
    (outside,) = authz_requests(
        get, PrincipalRef.anonymous(), ObjectRef(OWNER, "bkt", "private/x"), context
    )
    assert evaluate_resource_policy(bucket_policy, inside, bucket_owner=OWNER).allowed
    assert not evaluate_resource_policy(bucket_policy, outside, bucket_owner=OWNER).allowed


ACL_CASES = [
    (Acl.PRIVATE, "oss:GetObject", False),
    (Acl.PRIVATE, "oss:PutObject", False),
    (Acl.PUBLIC_READ, "oss:GetObject", True),
    (Acl.PUBLIC_READ, "oss:ListObjects", True),
    (Acl.PUBLIC_READ, "oss:PutObject", False),
    (Acl.PUBLIC_READ, "oss:DeleteObject", False),
    (Acl.PUBLIC_READ_WRITE, "oss:GetObject", True),
    (Acl.PUBLIC_READ_WRITE, "oss:PutObject", True),
    (Acl.PUBLIC_READ_WRITE, "oss:DeleteObject", True),
    (Acl.PUBLIC_READ_WRITE, "oss:AbortMultipartUpload", True),
    (Acl.PUBLIC_READ_WRITE, "oss:PutBucketAcl", False),
    (Acl.PUBLIC_READ_WRITE, "oss:PutObjectAcl", False),
    (Acl.PUBLIC_READ_WRITE, "oss:DeleteBucket", False),
    (Acl.PUBLIC_READ_WRITE, "oss:GetBucketPolicy", False),
    (Acl.DEFAULT, "oss:GetObject", False),
]


@pytest.mark.parametrize(("acl", "action", "allowed"), ACL_CASES)
def test_acl_allows(acl: Acl, action: str, allowed: bool) -> None:
    assert acl_allows(acl, action) is allowed


@pytest.mark.parametrize(
    ("bucket", "obj", "expected"),
    [
        (Acl.PRIVATE, None, Acl.PRIVATE),
        (Acl.PUBLIC_READ, Acl.DEFAULT, Acl.PUBLIC_READ),
        (Acl.PUBLIC_READ, Acl.PRIVATE, Acl.PRIVATE),
        (Acl.PRIVATE, Acl.PUBLIC_READ_WRITE, Acl.PUBLIC_READ_WRITE),
    ],
)
def test_effective_acl(bucket: Acl, obj: Acl | None, expected: Acl) -> None:
    assert effective_acl(bucket, obj) is expected


def test_parse_acl() -> None:
    assert parse_acl("public-read") is Acl.PUBLIC_READ
    assert parse_acl("default", for_object=True) is Acl.DEFAULT
    for bad, for_object in (("default", False), ("public", True), ("", False)):
        with pytest.raises(InvalidArgument):
            parse_acl(bad, for_object=for_object)
