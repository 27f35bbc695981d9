"""Bad input to the OSS API (issue 3 §5; spec oss.md 6, 7.2, 7.8, 9): malformed or hostile XML,
wrong Content-MD5, truncated bodies, huge headers, invalid names, bad ranges and part numbers.

Expected codes are those of spec 6: MalformedXML / InvalidDigest / InvalidBucketName /
InvalidObjectName / InvalidArgument (400), InvalidRange (416, only with
``x-oss-range-behavior: standard``, spec 7.2; otherwise a bad range is ignored → 200 full).
Never a 5xx, never a hang, and in every case the bucket's listing (objects and uploads) is
unchanged afterwards. Signed requests go through oss2's own signer (``Bucket._do``) so custom
bodies can be sent; raw socket requests are anonymous against a public-read-write bucket.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import oss2
import pytest

from tests.api.clients import ROOT, unique
from tests.api.rawrpc import RawRpc, raw_exchange
from tests.api.test_oss_sdk import HELLO, REGION, oss2_auth, oss2_error
from tests.server import TesseraServer


@pytest.fixture
def bucket(server: TesseraServer) -> Iterator[oss2.Bucket]:
    session = oss2.Session()
    made = oss2.Bucket(
        oss2_auth(ROOT, False), server.url, unique("bad"), session=session, region=REGION
    )
    made.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    made.put_object("existing", HELLO)
    yield made
    for upload in oss2.MultipartUploadIterator(made):
        made.abort_multipart_upload(upload.key, upload.upload_id)
    for obj in oss2.ObjectIterator(made):
        made.delete_object(obj.key)
    made.delete_bucket()
    session.session.close()


def _state(bucket: oss2.Bucket) -> tuple[list[tuple[str, str, int]], list[tuple[str, str]]]:
    objects = [(o.key, o.etag, o.size) for o in oss2.ObjectIterator(bucket)]
    uploads = [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket)]
    return objects, uploads


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _fails(call: object, status: int, code: str) -> oss2.exceptions.OssError:
    error = oss2_error(call)  # type: ignore[arg-type]
    assert (error.status, error.code) == (status, code), error.details
    return error


MALFORMED = [
    b"",
    b"<CompleteMultipartUpload><Part>",
    b"not xml at all",
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
    b"\xff\xfe<\x00",
]
DOCTYPE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "existing">]>'
    b"<Delete><Object><Key>&e;</Key></Object></Delete>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b"<CreateBucketConfiguration><StorageClass>&c;</StorageClass></CreateBucketConfiguration>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&x;</ETag></Part>"
    b"</CompleteMultipartUpload>"
)


def test_malformed_and_hostile_xml(bucket: oss2.Bucket) -> None:
    before = _state(bucket)
    upload_id = bucket.init_multipart_upload("mp").upload_id
    before_uploads = _state(bucket)
    name = bucket.bucket_name
    for body in MALFORMED[1:]:
        _fails(
            lambda: bucket._do("POST", name, "mp", params={"uploadId": upload_id}, data=body),  # noqa: B023 (called at once)
            400,
            "MalformedXML",
        )
        _fails(
            lambda: bucket._do(
                "POST",
                name,
                "",
                params={"delete": ""},
                data=body,  # noqa: B023 (called at once)
                headers={"Content-MD5": _md5_b64(body)},  # noqa: B023 (called at once)
            ),
            400,
            "MalformedXML",
        )
        other = unique("badcfg")
        _fails(lambda: bucket._do("PUT", other, "", data=body), 400, "MalformedXML")  # noqa: B023 (called at once)
        assert not any(
            b.name == other for b in oss2.BucketIterator(oss2.Service(bucket.auth, bucket.endpoint))
        )
    # an empty Complete body is malformed too (no x-oss-complete-all)
    _fails(
        lambda: bucket._do("POST", name, "mp", params={"uploadId": upload_id}, data=b""),
        400,
        "MalformedXML",
    )
    for body in (DOCTYPE, BILLION_LAUGHS, EXTERNAL):
        for call in (
            lambda: bucket._do(
                "POST",
                name,
                "",
                params={"delete": ""},
                data=body,  # noqa: B023 (called at once)
                headers={"Content-MD5": _md5_b64(body)},  # noqa: B023 (called at once)
            ),
            lambda: bucket._do("POST", name, "mp", params={"uploadId": upload_id}, data=body),  # noqa: B023 (called at once)
            lambda: bucket._do("PUT", unique("badent"), "", data=body),  # noqa: B023 (called at once)
        ):
            error = oss2_error(call)
            assert error.status == 400 and error.code == "MalformedXML", error.details
    assert _state(bucket) == before_uploads
    assert before[0] == before_uploads[0]


def test_wrong_content_md5_stores_nothing(bucket: oss2.Bucket) -> None:
    before = _state(bucket)
    wrong = {"Content-MD5": _md5_b64(b"something else")}
    _fails(lambda: bucket.put_object("fresh", b"payload", headers=wrong), 400, "InvalidDigest")
    _fails(
        lambda: bucket.put_object("existing", b"replacement", headers=wrong), 400, "InvalidDigest"
    )
    _fails(
        lambda: bucket.put_object("fresh", b"payload", headers={"Content-MD5": "not base64!"}),
        400,
        "InvalidDigest",
    )
    assert not bucket.object_exists("fresh")
    assert bucket.get_object("existing").read() == HELLO
    _fails(lambda: bucket.append_object("app", 0, b"abc", headers=wrong), 400, "InvalidDigest")
    assert _state(bucket) == before
    upload_id = bucket.init_multipart_upload("mp").upload_id
    _fails(
        lambda: bucket.upload_part("mp", upload_id, 1, b"part", headers=wrong), 400, "InvalidDigest"
    )
    assert bucket.list_parts("mp", upload_id).parts == []
    body = b"<Delete><Object><Key>existing</Key></Object></Delete>"
    _fails(
        lambda: bucket._do(
            "POST", bucket.bucket_name, "", params={"delete": ""}, data=body, headers=wrong
        ),
        400,
        "InvalidDigest",
    )
    assert bucket.get_object("existing").read() == HELLO
    bucket.abort_multipart_upload("mp", upload_id)
    assert _state(bucket) == before


def test_short_body_stores_nothing(server: TesseraServer, bucket: oss2.Bucket) -> None:
    before = _state(bucket)
    name = bucket.bucket_name
    for key in ("short", "existing"):
        request = (
            f"PUT /{name}/{key} HTTP/1.1\r\nHost: {server.endpoint}\r\n"
            "Content-Length: 1000\r\nContent-Type: text/plain\r\n\r\n"
        ).encode() + b"only ten b"
        answer = raw_exchange(server.port, request)
        assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    upload_id = bucket.init_multipart_upload("mp").upload_id
    request = (
        f"PUT /{name}/mp?partNumber=1&uploadId={upload_id} HTTP/1.1\r\n"
        f"Host: {server.endpoint}\r\nContent-Length: 500\r\n\r\n"
    ).encode() + b"x" * 20
    answer = raw_exchange(server.port, request)
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert bucket.list_parts("mp", upload_id).parts == []
    bucket.abort_multipart_upload("mp", upload_id)
    assert not bucket.object_exists("short")
    assert bucket.get_object("existing").read() == HELLO
    assert _state(bucket) == before
    # the server is still serving
    assert bucket.get_object("existing").read() == HELLO


def test_huge_headers_rejected_without_hang(server: TesseraServer, bucket: oss2.Bucket) -> None:
    before = _state(bucket)
    filler = "a" * (64 * 1024)
    for method, extra in (("GET", ""), ("PUT", "Content-Length: 3\r\n")):
        request = (
            f"{method} /{bucket.bucket_name}/huge HTTP/1.1\r\nHost: {server.endpoint}\r\n"
            f"x-oss-meta-big: {filler}\r\n{extra}\r\n"
        ).encode() + (b"abc" if method == "PUT" else b"")
        answer = raw_exchange(server.port, request)
        status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/") else b""
        # a 4xx answer or a plain close, never a 5xx or a hang
        assert status == b"" or status.startswith(b"4"), answer[:200]
    assert _state(bucket) == before
    assert bucket.get_object("existing").read() == HELLO


def test_invalid_bucket_and_object_names(server: TesseraServer, bucket: oss2.Bucket) -> None:
    before = _state(bucket)
    raw = RawRpc(server.endpoint)
    for name in ("ab", "-abc", "abc-", "Upper", "a_b", "x" * 64, "a..b"):
        reply = raw.request("PUT", f"/{name}")
        assert (reply.status, reply.code) == (400, "InvalidBucketName"), (name, reply.body)
        reply = raw.request("GET", f"/{name}/key")
        assert (reply.status, reply.code) == (400, "InvalidBucketName"), (name, reply.body)
    long_key = "k" * 1024
    _fails(lambda: bucket.put_object(long_key, b"x"), 400, "InvalidObjectName")
    _fails(lambda: bucket.put_object("\\invalid-object-name", b"x"), 400, "InvalidObjectName")
    bucket.put_object("k" * 1023, b"max")  # 1023 bytes is still valid (spec 7.8)
    bucket.delete_object("k" * 1023)
    name = bucket.bucket_name
    # unsigned, through the public-read-write ACL: the name is checked, nothing stored
    reply = raw.request("PUT", f"/{name}/{long_key}", body=b"x")
    assert (reply.status, reply.code) == (400, "InvalidObjectName")
    reply = raw.request("PUT", f"/{name}/%5Cx", body=b"x")
    assert (reply.status, reply.code) == (400, "InvalidObjectName")
    # an "empty key" PUT addresses the bucket itself (PutBucket), never an object named ""
    reply = raw.request("PUT", f"/{name}/", body=b"")
    assert reply.status < 500
    assert _state(bucket) == before


def test_bad_ranges(bucket: oss2.Bucket) -> None:
    before = _state(bucket)
    odd = ("bytes=9-2", "bytes=x", "bytes=", "items=0-1", "bytes=100-200", "bytes=--1")
    superscripts = ("bytes=\u00b2-", "bytes=0-\u00b3", "bytes=-\u00b9")  # isdigit, not int
    for value in odd + superscripts:
        got = bucket.get_object("existing", headers={"Range": value})
        assert (got.status, got.read()) == (200, HELLO), value
    for value in superscripts:  # no number at all, even where a bad start is a 416
        got = bucket.get_object(
            "existing", headers={"Range": value, "x-oss-range-behavior": "standard"}
        )
        assert (got.status, got.read()) == (200, HELLO), value
    got = bucket.get_object("existing", headers={"Range": "bytes=0-4,6-7"})
    assert (got.status, got.read()) == (206, b"hello")  # multi-range: the first one only
    standard = {"x-oss-range-behavior": "standard"}
    got = bucket.get_object("existing", headers={"Range": "bytes=6-100", **standard})
    assert (got.status, got.read()) == (206, b"world")
    _fails(
        lambda: bucket.get_object("existing", headers={"Range": "bytes=100-", **standard}),
        416,
        "InvalidRange",
    )
    assert _state(bucket) == before


def test_bad_part_numbers(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("mp").upload_id
    before = _state(bucket)
    name = bucket.bucket_name
    for number in ("0", "10001", "abc", "", "-1", "1.5", "٣"):
        error = _fails(
            lambda: bucket._do(
                "PUT",
                name,
                "mp",
                params={"uploadId": upload_id, "partNumber": number},  # noqa: B023
                data=b"x",
            ),
            400,
            "InvalidArgument",
        )
        assert "between 1 and 10000" in error.message
    for number in (0, 10001):
        _fails(
            lambda: bucket.upload_part_copy(name, "existing", None, "mp", upload_id, number),  # noqa: B023
            400,
            "InvalidArgument",
        )
    assert bucket.list_parts("mp", upload_id).parts == []
    assert _state(bucket) == before


def _meta_of(total: int) -> dict[str, str]:
    """One ``x-oss-meta-*`` header whose name and value are ``total`` bytes together."""
    name = "x-oss-meta-note"
    return {name: "m" * (total - len(name))}


def test_user_metadata_over_8_kb_is_refused_everywhere_it_is_accepted(
    bucket: oss2.Bucket,
) -> None:
    """OSS: all ``x-oss-meta-*`` names and values together cannot exceed 8 KB (EC
    0011-00000002); at the limit they are stored and read back."""
    before = _state(bucket)
    over = _meta_of(8 * 1024 + 1)
    calls = {
        "PutObject": lambda: bucket.put_object("meta", b"x", headers=over),
        "InitiateMultipartUpload": lambda: bucket.init_multipart_upload("meta", headers=over),
        "CopyObject": lambda: bucket.copy_object(
            bucket.bucket_name,
            "existing",
            "meta",
            headers={**over, "x-oss-metadata-directive": "REPLACE"},
        ),
        "AppendObject": lambda: bucket.append_object("meta", 0, b"x", headers=over),
    }
    for operation, call in calls.items():
        error = _fails(call, 400, "InvalidArgument")
        assert error.details.get("EC") == "0011-00000002", (operation, error.details)
    assert _state(bucket) == before
    at_limit = _meta_of(8 * 1024)
    bucket.put_object("meta", b"x", headers=at_limit)
    assert bucket.head_object("meta").headers["x-oss-meta-note"] == at_limit["x-oss-meta-note"]
    bucket.delete_object("meta")
