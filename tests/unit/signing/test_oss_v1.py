"""oss_v1: Authorization and presigned parsing, canonicalisation rules, verify."""

from __future__ import annotations

import pytest

from tessera.errors import IncompleteSignature
from tessera.signing import oss_v1

SIG = "kSHKmLxlyEAKtZPkJhG9bZb5k7M="  # alibabacloud-oss-v2 tests/unit/signer/test_v1.py


def test_parse_authorization() -> None:
    auth = oss_v1.parse_authorization(f"OSS ak:{SIG}")
    assert (auth.access_key_id, auth.signature) == ("ak", SIG)
    assert oss_v1.parse_authorization(f"  OSS STS.a:b:{SIG} ").access_key_id == "STS.a:b"


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (f"OSS4 ak:{SIG}", "does not start with 'OSS '"),
        ("OSS", "does not start with 'OSS '"),
        (f"oss ak:{SIG}", "does not start with 'OSS '"),
        ("OSS ak", "no ':'"),
        (f"OSS :{SIG}", "missing the AccessKeyId"),
        ("OSS ak:", "missing the Signature"),
        ("OSS ak:not base64!", "not base64"),
        ("OSS ak:YWJj", "not a base64 HMAC-SHA1"),
    ],
)
def test_malformed_authorization(header: str, detail: str) -> None:
    with pytest.raises(IncompleteSignature, match=detail):
        oss_v1.parse_authorization(header)


def test_parse_presigned() -> None:
    query = [("OSSAccessKeyId", "ak"), ("Expires", "1796415581"), ("Signature", SIG)]
    assert oss_v1.parse_presigned(query) == oss_v1.V1Presigned("ak", "1796415581", SIG)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ([("Expires", "1"), ("Signature", SIG)], "missing OSSAccessKeyId"),
        ([("OSSAccessKeyId", "ak"), ("Signature", SIG)], "missing Expires"),
        ([("OSSAccessKeyId", "ak"), ("Expires", "1")], "missing Signature"),
        ([("OSSAccessKeyId", ""), ("Expires", "1"), ("Signature", SIG)], "missing OSSAccessKeyId"),
        ([("OSSAccessKeyId", "a"), ("OSSAccessKeyId", "b"), ("Expires", "1")], "twice"),
        ([("OSSAccessKeyId", "a"), ("Expires", "1"), ("Signature", "x")], "not base64"),
    ],
)
def test_malformed_presigned(query: list[tuple[str, str]], detail: str) -> None:
    with pytest.raises(IncompleteSignature, match=detail):
        oss_v1.parse_presigned(query)


@pytest.mark.parametrize(
    ("bucket", "key", "query", "resource"),
    [
        (None, None, [], "/"),
        ("", None, [("acl", "")], "/?acl"),
        ("b", None, [], "/b/"),
        ("b", "", [("prefix", "a/"), ("max-keys", "10")], "/b/"),
        ("b", "a+b/c d%.txt", [], "/b/a+b/c d%.txt"),
        ("b", "k", [("uploads", "")], "/b/k?uploads"),
        ("b", "k", [("uploadId", "X*"), ("partNumber", "2")], "/b/k?partNumber=2&uploadId=X*"),
        ("b", "k", [("position", "0"), ("append", "")], "/b/k?append&position=0"),
        (
            "b",
            "k",
            [("security-token", "a/b+c="), ("response-content-type", "text/html"), ("x", "1")],
            "/b/k?response-content-type=text/html&security-token=a/b+c=",
        ),
        ("b", "k", [("OSSAccessKeyId", "a"), ("Expires", "1"), ("Signature", "s")], "/b/k"),
    ],
)
def test_canonical_resource(
    bucket: str | None, key: str | None, query: list[tuple[str, str]], resource: str
) -> None:
    assert oss_v1.canonical_resource(bucket, key, query) == resource


def test_canonicalized_oss_headers_sorts_trims_and_skips_others() -> None:
    headers = {
        "x-oss-meta-b": " 2 ",
        "x-oss-date": "d",
        "security-token": "unsigned",
        "content-type": "t",
        "x-oss-meta-a": "1",
    }
    assert oss_v1.canonicalized_oss_headers(headers) == (
        "x-oss-date:d\nx-oss-meta-a:1\nx-oss-meta-b:2\n"
    )
    assert oss_v1.canonicalized_oss_headers({"host": "h"}) == ""


def test_date_slot() -> None:
    headers = {"date": "D", "x-oss-date": "X"}
    assert oss_v1.string_to_sign("get", headers, "/").split("\n")[:4] == ["GET", "", "", "X"]
    assert oss_v1.string_to_sign("GET", {"date": "D"}, "/").split("\n")[3] == "D"
    assert oss_v1.string_to_sign("GET", headers, "/", date="99").split("\n")[3] == "99"
    assert oss_v1.string_to_sign("GET", {}, "/") == "GET\n\n\n\n/"


def test_spec_vector_and_verify() -> None:
    headers = {
        "content-md5": "eB5eJF1ptWaXm4bijSPyxw==",
        "content-type": "text/html",
        "x-oss-meta-author": "alice",
        "x-oss-meta-magic": "abracadabra",
        "x-oss-date": "Wed, 28 Dec 2022 10:27:41 GMT",
    }
    resource = oss_v1.canonical_resource("examplebucket", "nelson", [])
    sts = oss_v1.string_to_sign("PUT", headers, resource)
    assert oss_v1.signature("sk", sts) == SIG
    assert oss_v1.verify("PUT", headers, resource, "sk", SIG) is None
    tampered = {**headers, "x-oss-meta-author": "mallory"}
    assert oss_v1.verify("PUT", tampered, resource, "sk", SIG) == oss_v1.string_to_sign(
        "PUT", tampered, resource
    )
    assert oss_v1.verify("PUT", headers, resource, "sk", "ünicode") is not None
