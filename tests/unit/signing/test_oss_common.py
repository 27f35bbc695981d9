"""oss_common: classification, token placement, date parsing, skew and expiry boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.errors import (
    IncompleteSignature,
    PresignedExpiresInvalid,
    PresignedUrlExpired,
    RequestTimeTooSkewed,
    SigningRegionMismatch,
    TimestampInvalid,
)
from tessera.signing.oss_common import (
    SUBRESOURCES,
    AuthScheme,
    check_presigned_expiry,
    check_presigned_v4_expiry,
    check_region,
    check_skew,
    classify,
    parse_http_date,
    parse_iso8601_basic,
    parse_oss_date,
    security_token,
    uri_encode,
    uri_encode_path,
    v1_request_time,
)

V4_AUTH = "OSS4-HMAC-SHA256 Credential=ak/20261204/cn-hangzhou/oss/aliyun_v4_request,Signature=x"


@pytest.mark.parametrize(
    ("method", "query", "headers", "scheme"),
    [
        ("GET", [], {}, AuthScheme.ANONYMOUS),
        ("GET", [("acl", "")], {}, AuthScheme.ANONYMOUS),
        ("PUT", [], {"authorization": "OSS ak:sig"}, AuthScheme.V1_HEADER),
        ("PUT", [], {"authorization": "OSS2 AccessKeyId:ak,Signature:s"}, AuthScheme.V2_HEADER),
        ("PUT", [], {"authorization": V4_AUTH}, AuthScheme.V4_HEADER),
        (
            "GET",
            [("OSSAccessKeyId", "ak"), ("Expires", "1"), ("Signature", "s")],
            {},
            AuthScheme.V1_QUERY,
        ),
        ("GET", [("x-oss-signature-version", "OSS2")], {}, AuthScheme.V2_QUERY),
        ("GET", [("x-oss-signature-version", "OSS4-HMAC-SHA256")], {}, AuthScheme.V4_QUERY),
        ("POST", [], {"content-type": "multipart/form-data; boundary=x"}, AuthScheme.POST_FORM),
        ("PUT", [], {"content-type": "multipart/form-data; boundary=x"}, AuthScheme.ANONYMOUS),
    ],
)
def test_classify(
    method: str, query: list[tuple[str, str]], headers: dict[str, str], scheme: AuthScheme
) -> None:
    assert classify(method, query, headers) is scheme


@pytest.mark.parametrize(
    ("query", "headers", "detail"),
    [
        ([], {"authorization": "Bearer abc"}, "unsupported Authorization scheme"),
        ([], {"authorization": "AWS4-HMAC-SHA256 Credential=x"}, "unsupported Authorization"),
        ([("x-oss-signature-version", "OSS3")], {}, "unsupported x-oss-signature-version"),
        ([("x-oss-signature", "abc")], {}, "without x-oss-signature-version"),
        ([("Signature", "s")], {"authorization": "OSS ak:s"}, "both"),
        ([("x-oss-signature-version", "OSS2")], {"authorization": V4_AUTH}, "both"),
    ],
)
def test_classify_refuses_ambiguous_or_unknown(
    query: list[tuple[str, str]], headers: dict[str, str], detail: str
) -> None:
    with pytest.raises(IncompleteSignature, match=detail):
        classify("GET", query, headers)


TOKEN = "CAIS/Fake+Token=="


@pytest.mark.parametrize(
    ("scheme", "query", "headers", "expected"),
    [
        (AuthScheme.V1_HEADER, [], {"x-oss-security-token": TOKEN}, TOKEN),
        (AuthScheme.V1_HEADER, [], {"security-token": TOKEN}, TOKEN),  # v2 SDK, V1 mode
        (AuthScheme.V1_HEADER, [], {"x-oss-security-token": TOKEN, "security-token": "x"}, TOKEN),
        (AuthScheme.V1_HEADER, [("security-token", TOKEN)], {}, None),  # query is not header auth
        (AuthScheme.V4_HEADER, [], {"x-oss-security-token": TOKEN}, TOKEN),
        (AuthScheme.V4_HEADER, [], {"security-token": TOKEN}, None),
        (AuthScheme.V2_HEADER, [], {"x-oss-security-token": TOKEN}, TOKEN),
        (AuthScheme.V1_QUERY, [("security-token", TOKEN)], {}, TOKEN),
        (AuthScheme.V1_QUERY, [("x-oss-security-token", TOKEN)], {}, None),
        (AuthScheme.V2_QUERY, [("security-token", TOKEN)], {}, TOKEN),
        (AuthScheme.V4_QUERY, [("x-oss-security-token", TOKEN)], {}, TOKEN),
        (AuthScheme.V4_QUERY, [("security-token", TOKEN)], {}, None),
        (AuthScheme.V4_QUERY, [("x-oss-security-token", "")], {}, None),
        (AuthScheme.ANONYMOUS, [("security-token", TOKEN)], {"x-oss-security-token": TOKEN}, None),
    ],
)
def test_security_token_placement(
    scheme: AuthScheme,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    expected: str | None,
) -> None:
    assert security_token(scheme, query, headers) == expected


def test_subresources_cover_the_spec_list_and_exclude_listing_parameters() -> None:
    for name in ("acl", "uploads", "uploadId", "partNumber", "append", "position", "delete"):
        assert name in SUBRESOURCES
    assert {"security-token", "x-oss-process", "response-content-type"} <= SUBRESOURCES
    for name in ("prefix", "marker", "max-keys", "delimiter", "encoding-type", "list-type"):
        assert name not in SUBRESOURCES
    assert not {"OSSAccessKeyId", "Expires", "Signature"} & SUBRESOURCES


def test_uri_encoders() -> None:
    assert uri_encode("a+b/c d~*") == "a%2Bb%2Fc%20d~%2A"
    assert uri_encode_path("/b/a+b/ü ~") == "/b/a%2Bb/%C3%BC%20~"
    assert uri_encode_path("/b/dir/put-00000001.bin") == "/b/dir/put-00000001.bin"


@given(st.one_of(st.text(alphabet="aZ09-_.~/"), st.text(alphabet="aZ09-_.~/+ %*ü"), st.text()))
def test_uri_encode_path_encodes_each_segment(path: str) -> None:
    """Its shortcut for a path with nothing to encode changes nothing it would answer."""
    assert uri_encode_path(path) == "/".join(uri_encode(part) for part in path.split("/"))


def test_parse_http_date() -> None:
    assert parse_http_date("Fri, 04 Dec 2026 20:19:41 GMT") == 1796415581
    assert parse_http_date("Fri, 4 Dec 2026 20:19:41 GMT") == 1796415581
    assert parse_oss_date("Fri, 04 Dec 2026 20:19:41 GMT") == 1796415581


def test_parse_iso8601_basic() -> None:
    assert parse_iso8601_basic("20261204T201941Z") == 1796415581
    assert parse_oss_date("20261204T201941Z") == 1796415581


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1796415581",
        "Fri, 04 Dec 2026 20:19:41",
        "Fri, 04 Foo 2026 20:19:41 GMT",
        "Fri, 31 Feb 2026 20:19:41 GMT",
        "Fri, 04 Dec 2026 24:19:41 GMT",
        "2026-12-04T20:19:41Z",
        "20261304T201941Z",
        "20261204T201961Z",
        "20261204T2019Z",
    ],
)
def test_bad_dates_raise_timestamp_invalid(text: str) -> None:
    with pytest.raises(TimestampInvalid):
        parse_oss_date(text)


def test_skew_boundaries() -> None:
    check_skew(1000, 1900)  # exactly 15 minutes behind: accepted
    check_skew(1900, 1000)  # exactly 15 minutes ahead: accepted
    with pytest.raises(RequestTimeTooSkewed) as info:
        check_skew(1000, 1900.5)
    assert info.value.max_skew_seconds == 900 and info.value.request_time == 1000
    with pytest.raises(RequestTimeTooSkewed):
        check_skew(1901, 1000)
    check_skew(1000, 1060, limit=60)
    with pytest.raises(RequestTimeTooSkewed):
        check_skew(1000, 1061, limit=60)


def test_presigned_expiry_is_absolute_and_inclusive() -> None:
    assert check_presigned_expiry("2000", 2000) == 2000
    with pytest.raises(PresignedUrlExpired) as info:
        check_presigned_expiry("2000", 2000.001)
    assert info.value.expires_at == 2000


@pytest.mark.parametrize("text", ["", "-1", "12a", "1e9", "\uff11\uff12", "9" * 13])
def test_presigned_expires_must_be_a_number(text: str) -> None:
    with pytest.raises(PresignedExpiresInvalid):
        check_presigned_expiry(text, 0)
    with pytest.raises(PresignedExpiresInvalid):
        check_presigned_v4_expiry(0, text, 0)


def test_v4_presigned_expiry_is_a_duration_of_at_most_seven_days() -> None:
    assert check_presigned_v4_expiry(1000, "3600", 4600) == 4600
    with pytest.raises(PresignedUrlExpired):
        check_presigned_v4_expiry(1000, "3600", 4601)
    assert check_presigned_v4_expiry(1000, "604800", 1000) == 605800
    with pytest.raises(PresignedExpiresInvalid, match="exceeds"):
        check_presigned_v4_expiry(1000, "604801", 1000)


def test_v4_presigned_signing_time_may_not_lie_in_the_future() -> None:
    assert check_presigned_v4_expiry(1900, "60", 1000) == 1960  # 15 minutes ahead: accepted
    with pytest.raises(PresignedExpiresInvalid, match="future"):
        check_presigned_v4_expiry(1901, "60", 1000)


def test_v1_request_time_prefers_x_oss_date() -> None:
    both = {"date": "Thu, 01 Jan 1970 00:00:10 GMT", "x-oss-date": "20261204T201941Z"}
    assert v1_request_time(both) == 1796415581
    assert v1_request_time({"date": "Thu, 01 Jan 1970 00:00:10 GMT"}) == 10
    with pytest.raises(TimestampInvalid, match="neither"):
        v1_request_time({"host": "h"})


def test_check_region() -> None:
    check_region("cn-hangzhou", "cn-hangzhou")
    with pytest.raises(SigningRegionMismatch) as info:
        check_region("oss-cn-hangzhou", "cn-hangzhou")
    assert (info.value.region, info.value.expected) == ("oss-cn-hangzhou", "cn-hangzhou")
