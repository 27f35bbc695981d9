"""oss_v4: both Authorization layouts, every malformed piece, region extraction, presigned."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.errors import IncompleteSignature
from tessera.signing import oss_v4

HEX = "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
CRED = "STS.ak/20231216/cn-hangzhou/oss/aliyun_v4_request"


@pytest.mark.parametrize(
    "header",
    [
        f"OSS4-HMAC-SHA256 Credential={CRED}, Signature={HEX}, AdditionalHeaders=host;abc",
        f"OSS4-HMAC-SHA256 Credential={CRED},AdditionalHeaders=abc;host,Signature={HEX}",
        f"OSS4-HMAC-SHA256 Signature={HEX.upper()} ,AdditionalHeaders=Host;ABC,Credential={CRED}",
    ],
)
def test_both_layouts_any_order(header: str) -> None:
    auth = oss_v4.parse_authorization(header)
    assert (auth.access_key_id, auth.date, auth.region) == ("STS.ak", "20231216", "cn-hangzhou")
    assert auth.additional_headers == ("abc", "host")
    assert auth.signature == HEX
    assert (auth.request_time, auth.expires) == ("", "")


def test_additional_headers_are_optional() -> None:
    auth = oss_v4.parse_authorization(f"OSS4-HMAC-SHA256 Credential={CRED},Signature={HEX}")
    assert auth.additional_headers == ()


def test_region_is_returned_for_the_caller_to_check() -> None:
    cred = "ak/20231216/ap-southeast-1/oss/aliyun_v4_request"
    auth = oss_v4.parse_authorization(f"OSS4-HMAC-SHA256 Credential={cred},Signature={HEX}")
    assert auth.region == "ap-southeast-1"
    assert oss_v4.parse_credential(cred) == ("ak", "20231216", "ap-southeast-1")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (f"OSS4-HMAC-SHA1 Credential={CRED},Signature={HEX}", "does not start with"),
        (f"Credential={CRED},Signature={HEX}", "does not start with"),
        (f"OSS4-HMAC-SHA256 Signature={HEX}", "missing Credential"),
        (f"OSS4-HMAC-SHA256 Credential={CRED}", "missing Signature"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},Signature=", "missing Signature"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},Signature={HEX[:-1]}", "64 hexadecimal"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},Signature={HEX[:-1]}g", "64 hexadecimal"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},Signature", "has no '='"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},SignedHeaders=host,Signature={HEX}", "unknown"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},Credential={CRED},Signature={HEX}", "twice"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},AdditionalHeaders=a;;b,Signature={HEX}", "Addit"),
        (f"OSS4-HMAC-SHA256 Credential={CRED},AdditionalHeaders=a b,Signature={HEX}", "Addit"),
        (
            f"OSS4-HMAC-SHA256 Credential=20231216/cn/oss/aliyun_v4_request,Signature={HEX}",
            "is not",
        ),
        (
            f"OSS4-HMAC-SHA256 Credential=/20231216/cn/oss/aliyun_v4_request,Signature={HEX}",
            "AccessKeyId",
        ),
        (
            f"OSS4-HMAC-SHA256 Credential=ak/2023-12-16/cn/oss/aliyun_v4_request,Signature={HEX}",
            "yyyyMMdd",
        ),
        (
            f"OSS4-HMAC-SHA256 Credential=ak/20231216//oss/aliyun_v4_request,Signature={HEX}",
            "region",
        ),
        (
            f"OSS4-HMAC-SHA256 Credential=ak/20231216/cn/s3/aliyun_v4_request,Signature={HEX}",
            "product",
        ),
        (
            f"OSS4-HMAC-SHA256 Credential=ak/20231216/cn/oss/aws4_request,Signature={HEX}",
            "end with",
        ),
    ],
)
def test_malformed_authorization(header: str, detail: str) -> None:
    with pytest.raises(IncompleteSignature, match=detail):
        oss_v4.parse_authorization(header)


def _presigned_query(**override: str) -> list[tuple[str, str]]:
    query = {
        "x-oss-signature-version": "OSS4-HMAC-SHA256",
        "x-oss-credential": CRED,
        "x-oss-date": "20231216T162057Z",
        "x-oss-expires": "3600",
        "x-oss-signature": HEX,
        **override,
    }
    return [(k, v) for k, v in query.items() if v != "DROP"]


def test_parse_presigned() -> None:
    auth = oss_v4.parse_presigned(_presigned_query(**{"x-oss-additional-headers": "host"}))
    assert (auth.region, auth.request_time, auth.expires) == (
        "cn-hangzhou",
        "20231216T162057Z",
        "3600",
    )
    assert auth.additional_headers == ("host",)


@pytest.mark.parametrize(
    ("override", "detail"),
    [
        ({"x-oss-signature-version": "OSS2"}, "signature-version"),
        ({"x-oss-credential": "DROP"}, "missing x-oss-credential"),
        ({"x-oss-date": "DROP"}, "missing x-oss-date"),
        ({"x-oss-date": "20231217T000000Z"}, "date differs"),
        ({"x-oss-expires": "DROP"}, "missing x-oss-expires"),
        ({"x-oss-signature": "DROP"}, "missing x-oss-signature"),
        ({"x-oss-signature": "abc"}, "64 hexadecimal"),
    ],
)
def test_malformed_presigned(override: dict[str, str], detail: str) -> None:
    with pytest.raises(IncompleteSignature, match=detail):
        oss_v4.parse_presigned(_presigned_query(**override))


def test_presigned_parameter_twice() -> None:
    with pytest.raises(IncompleteSignature, match="twice"):
        oss_v4.parse_presigned([*_presigned_query(), ("x-oss-expires", "60")])


def test_canonical_pieces() -> None:
    assert oss_v4.canonical_uri(None, None) == "/"
    assert oss_v4.canonical_uri("b", None) == "/b/"
    assert oss_v4.canonical_uri("b", "a+b/ü c~*") == "/b/a%2Bb/%C3%BC%20c~%2A"
    query = [("uploads", ""), ("x-oss-signature", "s"), ("b", "x/y*"), ("a", "2"), ("a", "1")]
    assert oss_v4.canonical_query(query) == "a=1&a=2&b=x%2Fy%2A&uploads&x-oss-signature=s"
    assert oss_v4.canonical_query(query, presigned=True) == "a=1&a=2&b=x%2Fy%2A&uploads"
    headers = {"content-md5": "m", "host": "h", "x-oss-a": " 1 ", "range": "r", "date": "d"}
    assert oss_v4.canonical_headers(headers, ()) == "content-md5:m\nx-oss-a:1\n"
    assert oss_v4.canonical_headers(headers, ("host", "absent")) == (
        "content-md5:m\nhost:h\nx-oss-a:1\n"
    )
    assert oss_v4.hashed_payload({}) == "UNSIGNED-PAYLOAD"
    assert oss_v4.scope("20231216", "cn-hangzhou") == "20231216/cn-hangzhou/oss/aliyun_v4_request"


def test_verify_requires_a_matching_x_oss_date_header() -> None:
    auth = oss_v4.parse_authorization(f"OSS4-HMAC-SHA256 Credential={CRED},Signature={HEX}")

    def verify(headers: dict[str, str]) -> str | None:
        return oss_v4.verify(
            method="GET",
            bucket="b",
            key="k",
            query_pairs=[],
            headers=headers,
            auth=auth,
            secret="s",
        )

    with pytest.raises(IncompleteSignature, match="x-oss-date header is required"):
        verify({})
    with pytest.raises(IncompleteSignature, match="date differs"):
        verify({"x-oss-date": "20231217T000000Z"})
    sts = verify({"x-oss-date": "20231216T162057Z"})
    assert sts is not None and sts.startswith("OSS4-HMAC-SHA256\n20231216T162057Z\n20231216/")


def test_signing_key_chain() -> None:
    import hashlib
    import hmac

    key = b"aliyun_v4sk"
    for part in (b"20231216", b"cn-hangzhou", b"oss", b"aliyun_v4_request"):
        key = hmac.new(key, part, hashlib.sha256).digest()
    assert oss_v4.signing_key("sk", "20231216", "cn-hangzhou") == key


# ---- the canonical query straight from the query string as sent ---------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "x-oss-credential=STS.a%2F20260101%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20260101T000000Z&x-oss-signature=ab",
        "b=2&a=1&uploads&a=0",
        "a=&b&c=%E4%B8%AD",
        "prefix=photos%2F2024%2F&delimiter=%2F&max-keys=10",
        "a-b=1&a=2&a.b=3",  # a name that prefixes another: sorted as pairs, not as strings
        "=v&k=",
    ],
)
def test_a_canonical_raw_query_is_used_as_sent(raw: str) -> None:
    from tessera.oss.app import parse_oss_query

    decoded = parse_oss_query(raw.encode())
    for presigned in (False, True):
        expected = oss_v4.canonical_query(decoded, presigned=presigned)
        assert oss_v4.canonical_query_raw(raw, presigned=presigned) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "a=b%2fc",  # lower-case hex: re-encoded upper-case
        "a=%41",  # the escape of an unreserved byte: re-encoded as "A"
        "a=b=c",  # "=" inside a value: escaped
        "a=b+c",  # "+" is a space: "%20"
        "a=b%2",  # a broken escape
        "a=%7E",  # "~" is unreserved
        "a=b*",  # "*" is escaped
    ],
)
def test_a_raw_query_not_in_canonical_form_is_left_to_canonical_query(raw: str) -> None:
    assert oss_v4.canonical_query_raw(raw) is None


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6))
def test_the_raw_canonical_query_agrees_with_the_decoded_one(pairs: list[tuple[str, str]]) -> None:
    """Any query the SDKs could send, encoded canonically or not: the raw form, when taken,
    is exactly what decoding and re-encoding gives."""
    from urllib.parse import quote

    from tessera.oss.app import parse_oss_query

    for safe in ("", "/=+*"):  # canonical encoding, then a sloppy one
        raw = "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in pairs)
        try:
            decoded = parse_oss_query(raw.encode())
        except Exception:
            continue
        found = oss_v4.canonical_query_raw(raw, presigned=True)
        if found is not None:
            assert found == oss_v4.canonical_query(decoded, presigned=True), raw
