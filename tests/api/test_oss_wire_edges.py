"""OSS wire edge cases no official SDK produces, sent as raw HTTP with httpx.

Owns: PutObject, AppendObject and UploadPart requests that announce neither ``Content-Length``
nor ``Transfer-Encoding: chunked`` (real OSS: 411 MissingContentLength, "HTTP status code 411"
page of the OSS docs; an explicit ``Content-Length: 0`` or a chunked body is fine) and malformed
``OSS2`` (signature V2, spec oss.md 3.3) Authorization headers (real OSS: 400 InvalidArgument
"Authorization header is invalid.", EC family 0002-000001xx; captured real replies in
aliyun/alibabacloud-jindodata#127 and orzogc/fake115uploader#61).
Requests are signed here with a few lines of V1 (spec 2.1), deliberately not
``tessera.signing``: the server's verification is what is under test.
Must not: change server state beyond its own buckets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from email.utils import formatdate
from xml.etree import ElementTree

import httpx
import oss2
import pytest

from tests.api.clients import ROOT, unique
from tests.api.test_oss_sdk import oss2_bucket, oss2_error
from tests.server import TesseraServer


def v1_authorization(method: str, resource: str, date: str, content_type: str = "") -> str:
    """``OSS AK:base64(HMAC-SHA1(secret, VERB\\nMD5\\nType\\nDate\\nResource))`` (spec 2.1)."""
    string_to_sign = f"{method}\n\n{content_type}\n{date}\n{resource}"
    digest = hmac.new(
        ROOT.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha1
    ).digest()
    return f"OSS {ROOT.access_key_id}:{base64.b64encode(digest).decode()}"


def error_code(reply: httpx.Response) -> str | None:
    return ElementTree.fromstring(reply.content).findtext("Code")


@pytest.fixture
def bucket(server: TesseraServer) -> Iterator[oss2.Bucket]:
    made = oss2_bucket(server, ROOT, unique("wire"), v4=False)
    made.create_bucket()
    yield made
    for obj in oss2.ObjectIterator(made):
        made.delete_object(obj.key)
    made.delete_bucket()


@pytest.fixture
def http(server: TesseraServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _signed(
    http: httpx.Client,
    method: str,
    bucket: str,
    key: str,
    subresource: str = "",
    *,
    content: bytes | Iterator[bytes] | None = None,
) -> httpx.Request:
    """A V1-signed request; ``subresource`` is the query, already in canonical order."""
    date = formatdate(usegmt=True)
    resource = f"/{bucket}/{key}" + (f"?{subresource}" if subresource else "")
    headers = {"Date": date, "Authorization": v1_authorization(method, resource, date)}
    return http.build_request(method, resource, headers=headers, content=content)


def _signed_put(
    http: httpx.Client, bucket: str, key: str, *, content: bytes | Iterator[bytes] | None = None
) -> httpx.Request:
    return _signed(http, "PUT", bucket, key, content=content)


# ---- PutObject framing -----------------------------------------------------------------------


def test_put_with_explicit_zero_length_stores_an_empty_object(
    http: httpx.Client, bucket: oss2.Bucket
) -> None:
    request = _signed_put(http, bucket.bucket_name, "zero")
    assert request.headers["Content-Length"] == "0"
    reply = http.send(request)
    assert reply.status_code == 200, reply.text
    assert reply.headers["ETag"] == f'"{hashlib.md5(b"").hexdigest().upper()}"'
    assert bucket.get_object("zero").read() == b""


def test_put_with_chunked_body_and_no_length_stores_the_body(
    http: httpx.Client, bucket: oss2.Bucket
) -> None:
    pieces = [b"chunk one;", b"chunk two;", b"last"]
    request = _signed_put(http, bucket.bucket_name, "chunked", content=iter(pieces))
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in request.headers
    reply = http.send(request)
    assert reply.status_code == 200, reply.text
    assert bucket.get_object("chunked").read() == b"".join(pieces)


@pytest.mark.parametrize("operation", ["PutObject", "AppendObject", "UploadPart"])
def test_body_without_length_or_chunked_is_411_missing_content_length(
    http: httpx.Client, bucket: oss2.Bucket, operation: str
) -> None:
    upload_id = bucket.init_multipart_upload("part").upload_id
    method, key, subresource = {
        "PutObject": ("PUT", "nolength", ""),
        "AppendObject": ("POST", "nolength", "append&position=0"),
        "UploadPart": ("PUT", "part", f"partNumber=1&uploadId={upload_id}"),
    }[operation]
    request = _signed(http, method, bucket.bucket_name, key, subresource)
    request.headers.pop("Content-Length", None)  # on the wire: neither Content-Length nor TE
    assert "Transfer-Encoding" not in request.headers
    reply = http.send(request)
    assert (reply.status_code, error_code(reply)) == (411, "MissingContentLength"), reply.text
    error = oss2_error(lambda: bucket.head_object("nolength"))
    assert (error.status, error.code) == (404, "NoSuchKey")
    assert bucket.list_parts("part", upload_id).parts == []
    bucket.abort_multipart_upload("part", upload_id)


# ---- malformed V2 Authorization headers ------------------------------------------------------

MALFORMED_V2 = [
    "OSS2 junk",  # no key:value pairs at all
    f"OSS2 AccessKeyId:{ROOT.access_key_id},",  # Signature missing (EC 0002-00000102)
    f"OSS2 AccessKeyId:{ROOT.access_key_id}",
    "OSS2 Signature:AAAA",  # AccessKeyId missing
    f"OSS2 AccessKeyId:{ROOT.access_key_id},Signature:AAAA,UnknownKey:ABC",  # 0002-00000104
    "OSS2",  # the scheme alone
]


@pytest.mark.parametrize("authorization", MALFORMED_V2, ids=range(len(MALFORMED_V2)))
def test_malformed_v2_authorization_is_400_invalid_argument(
    http: httpx.Client, bucket: oss2.Bucket, authorization: str
) -> None:
    date = formatdate(usegmt=True)
    headers = {"Date": date, "Authorization": authorization}
    for target in (f"/{bucket.bucket_name}/k", f"/{unique('nobucket')}/k"):
        reply = http.get(target, headers=headers)
        assert (reply.status_code, error_code(reply)) == (400, "InvalidArgument"), reply.text
    stored = http.put(f"/{bucket.bucket_name}/written", headers=headers, content=b"x")
    assert (stored.status_code, error_code(stored)) == (400, "InvalidArgument"), stored.text
    assert not bucket.object_exists("written")


def test_malformed_v2_authorization_message_is_that_of_oss(
    http: httpx.Client, bucket: oss2.Bucket
) -> None:
    date = formatdate(usegmt=True)
    reply = http.get(
        f"/{bucket.bucket_name}/k",
        headers={"Date": date, "Authorization": f"OSS2 AccessKeyId:{ROOT.access_key_id},"},
    )
    message = ElementTree.fromstring(reply.content).findtext("Message")
    assert message == "Authorization header is invalid."


def test_malformed_presigned_query_keeps_its_detail(
    http: httpx.Client, bucket: oss2.Bucket
) -> None:
    # only a malformed *header* gets OSS's fixed text; a broken query says what is missing
    reply = http.get(
        f"/{bucket.bucket_name}/k",
        params={"x-oss-signature-version": "OSS2", "x-oss-access-key-id": ROOT.access_key_id},
    )
    assert (reply.status_code, error_code(reply)) == (400, "InvalidArgument"), reply.text
    message = ElementTree.fromstring(reply.content).findtext("Message") or ""
    assert "presigned URL is missing" in message, message
