"""ROUTES against spec oss.md 7-11 and the captured requests of 13."""

from __future__ import annotations

import pytest

from tessera.errors import MethodNotAllowed, NotSupported
from tessera.oss.addressing import Target
from tessera.oss.routing import ROUTES, Route, route, subresource_of

# method, target, query parameter names, copy-source header?, operation, action, source action
CASES: list[tuple[str, Target, tuple[str, ...], bool, str, str | None, str | None]] = [
    (
        "GET",
        "service",
        ("prefix", "marker", "max-keys"),
        False,
        "ListBuckets",
        "oss:ListBuckets",
        None,
    ),
    ("PUT", "bucket", (), False, "PutBucket", "oss:PutBucket", None),
    ("DELETE", "bucket", (), False, "DeleteBucket", "oss:DeleteBucket", None),
    (
        "GET",
        "bucket",
        ("prefix", "delimiter", "marker", "max-keys", "encoding-type"),
        False,
        "ListObjects",
        "oss:ListObjects",
        None,
    ),
    (
        "GET",
        "bucket",
        ("list-type", "continuation-token", "fetch-owner"),
        False,
        "ListObjectsV2",
        "oss:ListObjects",
        None,
    ),
    ("GET", "bucket", ("bucketInfo",), False, "GetBucketInfo", "oss:GetBucketInfo", None),
    ("GET", "bucket", ("location",), False, "GetBucketLocation", "oss:GetBucketLocation", None),
    ("PUT", "bucket", ("acl",), False, "PutBucketAcl", "oss:PutBucketAcl", None),
    ("GET", "bucket", ("acl",), False, "GetBucketAcl", "oss:GetBucketAcl", None),
    ("PUT", "bucket", ("policy",), False, "PutBucketPolicy", "oss:PutBucketPolicy", None),
    ("GET", "bucket", ("policy",), False, "GetBucketPolicy", "oss:GetBucketPolicy", None),
    ("DELETE", "bucket", ("policy",), False, "DeleteBucketPolicy", "oss:DeleteBucketPolicy", None),
    (
        "GET",
        "bucket",
        ("uploads", "prefix"),
        False,
        "ListMultipartUploads",
        "oss:ListMultipartUploads",
        None,
    ),
    ("GET", "bucket", ("live",), False, "ListLiveChannel", "oss:ListLiveChannel", None),
    (
        "POST",
        "bucket",
        ("delete", "encoding-type"),
        False,
        "DeleteMultipleObjects",
        "oss:DeleteObject",
        None,
    ),
    ("POST", "bucket", (), False, "PostObject", "oss:PutObject", None),
    ("OPTIONS", "object", (), False, "PreflightRequest", None, None),
    ("PUT", "object", (), False, "PutObject", "oss:PutObject", None),
    ("PUT", "object", (), True, "CopyObject", "oss:PutObject", "oss:GetObject"),
    ("GET", "object", ("response-content-type",), False, "GetObject", "oss:GetObject", None),
    ("HEAD", "object", (), False, "HeadObject", "oss:GetObject", None),
    ("HEAD", "object", ("objectMeta",), False, "GetObjectMeta", "oss:GetObject", None),
    ("DELETE", "object", (), False, "DeleteObject", "oss:DeleteObject", None),
    ("POST", "object", ("append", "position"), False, "AppendObject", "oss:PutObject", None),
    ("PUT", "object", ("acl",), False, "PutObjectACL", "oss:PutObjectAcl", None),
    ("GET", "object", ("acl",), False, "GetObjectACL", "oss:GetObjectAcl", None),
    ("POST", "object", ("uploads",), False, "InitiateMultipartUpload", "oss:PutObject", None),
    ("PUT", "object", ("partNumber", "uploadId"), False, "UploadPart", "oss:PutObject", None),
    (
        "PUT",
        "object",
        ("uploadId", "partNumber"),
        True,
        "UploadPartCopy",
        "oss:PutObject",
        "oss:GetObject",
    ),
    (
        "POST",
        "object",
        ("uploadId", "encoding-type"),
        False,
        "CompleteMultipartUpload",
        "oss:PutObject",
        None,
    ),
    (
        "DELETE",
        "object",
        ("uploadId",),
        False,
        "AbortMultipartUpload",
        "oss:AbortMultipartUpload",
        None,
    ),
    (
        "GET",
        "object",
        ("uploadId", "part-number-marker", "max-parts"),
        False,
        "ListParts",
        "oss:ListParts",
        None,
    ),
    # presigned URLs carry their signature in the query: not subresources
    (
        "GET",
        "object",
        ("OSSAccessKeyId", "Expires", "Signature", "security-token"),
        False,
        "GetObject",
        "oss:GetObject",
        None,
    ),
    (
        "get",
        "object",
        ("x-oss-signature", "x-oss-credential"),
        False,
        "GetObject",
        "oss:GetObject",
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "target", "query", "copy", "operation", "action", "source"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[4]}" for c in CASES],
)
def test_routes(
    method: str,
    target: Target,
    query: tuple[str, ...],
    copy: bool,
    operation: str,
    action: str | None,
    source: str | None,
) -> None:
    found = route(method, target, query, copy_source=copy)
    assert (found.operation, found.action, found.source_action) == (operation, action, source)


def test_per_key_routes() -> None:
    assert {r.operation for r in ROUTES.values() if r.per_key} == {
        "DeleteMultipleObjects",
        "PostObject",
    }


def test_copy_source_header_only_matters_for_object_puts() -> None:
    assert route("GET", "object", (), copy_source=True).operation == "GetObject"
    assert route("POST", "object", ("uploadId",), copy_source=True).operation == (
        "CompleteMultipartUpload"
    )


@pytest.mark.parametrize(
    ("method", "target", "query"),
    [
        ("POST", "object", ()),
        ("DELETE", "service", ()),
        ("PUT", "service", ()),
        ("PATCH", "object", ()),
        ("PUT", "bucket", ("location",)),
        ("DELETE", "object", ("acl",)),
        ("GET", "service", ("acl",)),
    ],
)
def test_method_not_allowed(method: str, target: Target, query: tuple[str, ...]) -> None:
    with pytest.raises(MethodNotAllowed) as info:
        route(method, target, query)
    assert info.value.resource_type == target.capitalize()


@pytest.mark.parametrize("name", ["lifecycle", "tagging", "symlink", "versioning", "website"])
def test_known_but_unimplemented_features(name: str) -> None:
    with pytest.raises(NotSupported) as info:
        route("GET", "bucket", (name,))
    assert info.value.feature == name


def test_subresource_precedence() -> None:
    assert subresource_of({"uploadId", "partNumber"}) == "uploadId"
    assert subresource_of({"acl", "tagging"}) == "acl"
    assert subresource_of({"prefix"}) is None


def test_every_action_is_an_oss_action() -> None:
    for r in ROUTES.values():
        assert isinstance(r, Route)
        for action in (r.action, r.source_action):
            assert action is None or action.startswith("oss:")
