"""The OSS wire table and the <Error> document (spec oss.md 4-6), read back by oss2's and
alibabacloud-oss-v2's own error parsers."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from oss2 import exceptions as oss2_exceptions

from tessera import errors as e
from tessera.oss.errors import (
    _TABLE,
    INTERNAL,
    error_header,
    error_xml,
    string_to_sign_bytes,
    to_oss,
)

REQUEST_ID = "5C3D9175B6FC201293AD0000"
HOST_ID = "bkt.oss-cn-hangzhou.aliyuncs.com"

TABLE = [
    (e.NotFound("Bucket", "bkt"), "NoSuchBucket", 404),
    (e.NotFound("Object", "k"), "NoSuchKey", 404),
    (e.NotFound("Upload", "U"), "NoSuchUpload", 404),
    (e.NotFound("BucketPolicy"), "NoSuchBucketPolicy", 404),
    (e.NotFound("BucketCors"), "NoSuchCORSConfiguration", 404),
    (e.AlreadyExists("Bucket", "bkt"), "BucketAlreadyExists", 409),
    (e.AlreadyExists("Object", "k"), "FileAlreadyExists", 409),
    (e.DeleteConflict("Bucket"), "BucketNotEmpty", 409),
    (e.InvalidName("Bucket", "B"), "InvalidBucketName", 400),
    (e.InvalidName("Object", "/k"), "InvalidObjectName", 400),
    (e.InvalidArgument("PartNumber"), "InvalidArgument", 400),
    (e.MissingArgument("Content-Length"), "MissingContentLength", 411),
    (e.MissingArgument("Content-MD5"), "MissingArgument", 400),
    (e.MalformedXML("x"), "MalformedXML", 400),
    (e.DigestMismatch(), "InvalidDigest", 400),
    (e.PreconditionFailed("If-Match"), "PreconditionFailed", 412),
    (e.NotModified(), "NotModified", 304),
    (e.InvalidRange("bytes=10-", 5), "InvalidRange", 416),
    (e.MethodNotAllowed("POST", "Object"), "MethodNotAllowed", 405),
    (e.NotSupported("lifecycle"), "NotImplemented", 501),
    (e.InvalidPart(2), "InvalidPart", 400),
    (e.InvalidPartOrder(2), "InvalidPartOrder", 400),
    (e.EntityTooSmall(1, 10, 102400), "EntityTooSmall", 400),
    (e.RequestTooLarge(5), "EntityTooLarge", 400),
    (e.NotAppendable(), "ObjectNotAppendable", 409),
    (e.AppendPositionMismatch(7), "PositionNotEqualToLength", 409),
    (e.AccessDenied("oss:GetObject", "acs:oss:*:1:b/k"), "AccessDenied", 403),
    (e.AccessKeyNotFound(), "InvalidAccessKeyId", 403),
    (e.AccessKeyInactive(), "InvalidAccessKeyId", 403),
    (e.SecurityTokenMissing(), "InvalidAccessKeyId", 403),
    (e.SignatureMismatch("GET\n"), "SignatureDoesNotMatch", 403),
    (e.RequestTimeTooSkewed(0, 1000, 900), "RequestTimeTooSkewed", 403),
    (e.PresignedUrlExpired(0, 1), "AccessDenied", 403),
    (e.SecurityTokenMalformed(), "InvalidSecurityToken", 403),
    (e.SecurityTokenExpired(), "SecurityTokenExpired", 403),
    (e.SecurityTokenMismatch(), "AccessKeyIdAndSecurityTokenNotMatch", 403),
    (e.SigningRegionMismatch("us-east-1", "cn-hangzhou"), "InvalidArgument", 400),
    (e.InternalError(), "InternalError", 500),
]


@pytest.mark.parametrize(
    ("exc", "code", "status"), TABLE, ids=[row[1] + "-" + type(row[0]).__name__ for row in TABLE]
)
def test_table(exc: e.TesseraError, code: str, status: int) -> None:
    wire = to_oss(exc)
    assert (wire.code, wire.status) == (code, status)


def test_subclass_inherits_parent_row() -> None:
    class Special(e.DigestMismatch):
        pass

    assert to_oss(Special()).code == "InvalidDigest"


def test_foreign_exceptions_are_internal_errors_without_details() -> None:
    assert to_oss(RuntimeError("secret path /var/x")) is INTERNAL
    assert "secret" not in INTERNAL.message


def _subclasses(cls: type[e.TesseraError]) -> list[type[e.TesseraError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


@pytest.mark.parametrize("base", [e.ClientError, e.AuthenticationError])
def test_every_client_and_authentication_error_has_a_4xx_row(base: type[e.TesseraError]) -> None:
    for cls in _subclasses(base):
        row = next(_TABLE[k] for k in cls.__mro__ if k in _TABLE)
        assert 400 <= row[1] < 500 or row[0] in (
            "NotImplemented",
            "RequestLimitExceeded",
            "NotModified",
        ), cls
        assert row[0] != "InternalError", cls


def test_messages_are_oss_wording() -> None:
    assert to_oss(e.NotFound("Bucket")).message == "The specified bucket does not exist."
    assert to_oss(e.NotFound("Object")).message == "The specified key does not exist."
    assert to_oss(e.AccessKeyNotFound()).message == (
        "The OSS Access Key Id you provided does not exist in our records."
    )
    assert to_oss(e.InvalidName("Object", "", "The Object name can not be empty")).message == (
        "The Object name can not be empty"
    )
    denied = e.AccessDenied(explanation="Access denied by bucket policy (explicit deny).")
    assert to_oss(denied).message == "Access denied by bucket policy (explicit deny)."


def test_ec_codes_from_the_spec() -> None:
    assert to_oss(e.NotFound("Object")).ec == "0026-00000001"
    assert to_oss(e.MalformedXML()).ec == "0031-00000001"
    assert to_oss(e.SecurityTokenExpired()).ec == "0002-00000007"
    assert to_oss(e.SigningRegionMismatch("x", "y")).ec == "0002-00000226"
    assert to_oss(e.NotModified()).ec == ""


def test_user_metadata_too_large() -> None:
    error = to_oss(e.UserMetadataTooLarge(9000, 8192))
    assert (error.code, error.status, error.ec) == ("InvalidArgument", 400, "0011-00000002")
    assert error.message == "Your metadata headers exceed the maximum allowed metadata size."
    assert ("ArgumentName", "x-oss-meta-*") in error.extras


def test_string_to_sign_bytes_as_oss_prints_them() -> None:
    # the documented sample (Troubleshoot signature errors): uppercase, each byte + a space
    assert string_to_sign_bytes("PUT\n\n\n") == "50 55 54 0A 0A 0A "
    assert string_to_sign_bytes("ö") == "C3 B6 "
    assert string_to_sign_bytes("") == ""


def test_no_such_key_document_matches_spec_sample() -> None:
    body = error_xml(to_oss(e.NotFound("Object", "k")), REQUEST_ID, HOST_ID, bucket="bkt", key="k")
    root = ElementTree.fromstring(body)
    assert [c.tag for c in root] == [
        "Code",
        "Message",
        "RequestId",
        "HostId",
        "Key",
        "EC",
        "RecommendDoc",
    ]
    assert root.findtext("RecommendDoc") == "https://api.aliyun.com/troubleshoot?q=0026-00000001"


def test_bucket_errors_name_the_bucket() -> None:
    body = error_xml(to_oss(e.NotFound("Bucket")), REQUEST_ID, HOST_ID, bucket="bkt", key="k")
    root = ElementTree.fromstring(body)
    assert root.findtext("BucketName") == "bkt" and root.find("Key") is None


def test_signature_mismatch_extras() -> None:
    sts = "GET\n\n\nFri, 04 Dec 2026 19:19:41 GMT\n/bkt/k"
    body = error_xml(to_oss(e.SignatureMismatch(sts)), REQUEST_ID, HOST_ID)
    root = ElementTree.fromstring(body)
    assert root.findtext("StringToSign") == sts
    assert bytes.fromhex(root.findtext("StringToSignBytes") or "").decode() == sts
    assert root.findtext("EC") == "0002-00000040"


@pytest.mark.parametrize(
    ("exc", "extras"),
    [
        (e.PreconditionFailed("If-Match"), {"Condition": "If-Match"}),
        (e.InvalidArgument("PartNumber"), {"ArgumentName": "PartNumber", "ArgumentValue": ""}),
        (e.MethodNotAllowed("POST", "Object"), {"Method": "POST", "ResourceType": "Object"}),
        (e.RequestTimeTooSkewed(0, 1000, 900), {"MaxAllowedSkewMilliseconds": "900000"}),
    ],
)
def test_operation_extras(exc: e.TesseraError, extras: dict[str, str]) -> None:
    root = ElementTree.fromstring(error_xml(to_oss(exc), REQUEST_ID, HOST_ID))
    assert {tag: root.findtext(tag) for tag in extras} == extras


def test_append_position_mismatch_carries_the_next_position_header() -> None:
    assert to_oss(e.AppendPositionMismatch(42)).headers == {"x-oss-next-append-position": "42"}


def _oss2_exception(status: int, body: bytes, headers: dict[str, str]) -> oss2_exceptions.OssError:
    resp = SimpleNamespace(status=status, headers=headers, read=lambda n: body)
    return oss2_exceptions.make_exception(resp)


def test_oss2_maps_our_errors_to_its_exception_classes() -> None:
    for exc, cls in [
        (e.NotFound("Object", "k"), oss2_exceptions.NoSuchKey),
        (e.NotFound("Bucket", "b"), oss2_exceptions.NoSuchBucket),
        (e.DigestMismatch(), oss2_exceptions.InvalidDigest),
        (e.AppendPositionMismatch(3), oss2_exceptions.PositionNotEqualToLength),
        (e.PreconditionFailed("If-Match"), oss2_exceptions.PreconditionFailed),
        (e.DeleteConflict("Bucket"), oss2_exceptions.BucketNotEmpty),
        (e.SignatureMismatch("x"), oss2_exceptions.SignatureDoesNotMatch),
    ]:
        wire = to_oss(exc)
        body = error_xml(wire, REQUEST_ID, HOST_ID)
        raised = _oss2_exception(
            wire.status, body, {"x-oss-request-id": REQUEST_ID, **wire.headers}
        )
        assert isinstance(raised, cls), (exc, raised)
        assert raised.code == wire.code and raised.request_id == REQUEST_ID


def test_head_errors_travel_in_x_oss_err() -> None:
    wire = to_oss(e.NotFound("Bucket", "bkt"))
    header = error_header(error_xml(wire, REQUEST_ID, HOST_ID, bucket="bkt"))
    assert base64.b64decode(header).startswith(b"<?xml")
    raised = _oss2_exception(404, b"", {"x-oss-err": header, "x-oss-request-id": REQUEST_ID})
    assert isinstance(raised, oss2_exceptions.NoSuchBucket)  # object_exists() relies on this


def test_v2_sdk_reads_code_message_ec_from_body_and_header() -> None:
    from alibabacloud_oss_v2._client import _to_service_error

    wire = to_oss(e.NotFound("Object", "k"))
    body = error_xml(wire, REQUEST_ID, HOST_ID, key="k")
    for content, extra in ((body, {}), (b"", {"x-oss-err": error_header(body)})):
        response = SimpleNamespace(
            headers={"Date": "Fri, 04 Dec 2026 19:19:41 GMT", **extra},
            content=content,
            status_code=404,
            close=lambda: None,
            request=SimpleNamespace(method="HEAD", url="http://x/b/k"),
        )
        err = _to_service_error(response)  # type: ignore[arg-type]
        assert (err.code, err.ec, err.request_id) == ("NoSuchKey", "0026-00000001", REQUEST_ID)
        assert err.message == "The specified key does not exist."
