"""oss_v2: Authorization and presigned parsing, canonicalisation rules, verify."""

from __future__ import annotations

import base64

import pytest

from tessera.errors import IncompleteSignature
from tessera.signing import oss_v2

SIG = base64.b64encode(bytes(32)).decode()


def test_parse_authorization_with_and_without_additional_headers() -> None:
    auth = oss_v2.parse_authorization(f"OSS2 AccessKeyId:ak,Signature:{SIG}")
    assert auth == oss_v2.V2Authorization("ak", (), SIG)
    auth = oss_v2.parse_authorization(
        f"OSS2 AccessKeyId:ak, AdditionalHeaders:Range;if-modified-since, Signature:{SIG}"
    )
    assert auth.additional_headers == ("if-modified-since", "range")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (f"OSS AccessKeyId:ak,Signature:{SIG}", "does not start with OSS2"),
        (f"OSS2 Signature:{SIG}", "missing AccessKeyId"),
        ("OSS2 AccessKeyId:ak", "missing Signature"),
        (f"OSS2 AccessKeyId=ak,Signature:{SIG}", "has no ':'"),
        (f"OSS2 AccessKeyId:ak,Foo:1,Signature:{SIG}", "unknown Authorization field"),
        (f"OSS2 AccessKeyId:a,AccessKeyId:b,Signature:{SIG}", "twice"),
        (f"OSS2 AccessKeyId:ak,AdditionalHeaders:a;;b,Signature:{SIG}", "AdditionalHeaders"),
        ("OSS2 AccessKeyId:ak,Signature:abc!", "not base64"),
        ("OSS2 AccessKeyId:ak,Signature:kSHKmLxlyEAKtZPkJhG9bZb5k7M=", "HMAC-SHA256"),
    ],
)
def test_malformed_authorization(header: str, detail: str) -> None:
    with pytest.raises(IncompleteSignature, match=detail):
        oss_v2.parse_authorization(header)


def test_parse_presigned() -> None:
    query = [
        ("x-oss-signature-version", "OSS2"),
        ("x-oss-expires", "1796415581"),
        ("x-oss-access-key-id", "ak"),
        ("x-oss-additional-headers", "range"),
        ("x-oss-signature", SIG),
    ]
    assert oss_v2.parse_presigned(query) == oss_v2.V2Authorization(
        "ak", ("range",), SIG, "1796415581"
    )


@pytest.mark.parametrize(
    "drop", ["x-oss-signature-version", "x-oss-expires", "x-oss-access-key-id"]
)
def test_presigned_requires_each_parameter(drop: str) -> None:
    query = [
        ("x-oss-signature-version", "OSS2"),
        ("x-oss-expires", "1"),
        ("x-oss-access-key-id", "ak"),
        ("x-oss-signature", SIG),
    ]
    with pytest.raises(IncompleteSignature):
        oss_v2.parse_presigned([(k, v) for k, v in query if k != drop])


def test_canonical_resource_encodes_slash_and_signs_every_parameter() -> None:
    assert oss_v2.canonical_resource(None, None, []) == "%2F"
    assert oss_v2.canonical_resource("b", "", []) == "%2Fb%2F"
    query = [("prefix", "a/"), ("acl", ""), ("x-oss-signature", "s")]
    assert oss_v2.canonical_resource("b", "a+b c", query) == (
        "%2Fb%2Fa%2Bb%20c?acl&prefix=a%2F&x-oss-signature=s"
    )
    assert oss_v2.canonical_resource("b", "k", query, presigned=True) == "%2Fb%2Fk?acl&prefix=a%2F"


def test_string_to_sign_uses_date_not_x_oss_date_and_lists_additional_headers() -> None:
    headers = {"date": "D", "x-oss-date": "X", "range": "bytes=0-9", "host": "h"}
    sts = oss_v2.string_to_sign("GET", headers, ["range"], "%2F")
    assert sts == "GET\n\n\nD\nrange:bytes=0-9\nx-oss-date:X\nrange\n%2F"
    assert oss_v2.string_to_sign("GET", {}, [], "%2F", date="9") == "GET\n\n\n9\n\n%2F"
