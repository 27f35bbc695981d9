"""The OSS REST API driven by the official SDKs: oss2 2.19.1 (V1 and V4) and
alibabacloud-oss-v2 1.4.1 (V4), against a real server.

Expected values come from spec/oss.md: CRC-64 of ``hello world`` (7.3), ETag = upper-case MD5
(1), ``Location`` ``oss-<region>`` (8.3), error codes and statuses (4-6), ranges and conditions
(7.2).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import alibabacloud_oss_v2 as ossv2
import oss2
import pytest

from tests.api.clients import ROOT, Identities, session_creds, sts_api, unique
from tests.api.rawrpc import Credentials, RawRpc
from tests.server import TesseraServer

REGION = "cn-hangzhou"
HELLO = b"hello world"
HELLO_CRC = 5981764153023615706  # spec 7.3
HELLO_MD5 = hashlib.md5(HELLO).hexdigest().upper()
REQUEST_ID = re.compile(r"^[0-9A-F]{24}$")  # spec 1
AWKWARD_KEYS = [
    "a+b",
    "with space/and more",
    "100%/done",
    "ünïcödé/ключ",
    "emoji/😀🚀",
    "q?x=1&y=#frag",
    "k" * 1023,
]

BucketFactory = Callable[..., oss2.Bucket]


def oss2_auth(creds: Credentials, v4: bool) -> Any:
    if creds.security_token:
        version = "v4" if v4 else "v1"
        return oss2.StsAuth(
            creds.access_key_id, creds.access_key_secret, creds.security_token, version
        )
    if v4:
        return oss2.AuthV4(creds.access_key_id, creds.access_key_secret)
    return oss2.Auth(creds.access_key_id, creds.access_key_secret)


def oss2_bucket(server: TesseraServer, creds: Credentials, name: str, v4: bool) -> oss2.Bucket:
    return oss2.Bucket(oss2_auth(creds, v4), server.url, name, region=REGION)


def v2_client(server: TesseraServer, creds: Credentials = ROOT) -> ossv2.Client:
    cfg = ossv2.config.load_default()
    cfg.credentials_provider = ossv2.credentials.StaticCredentialsProvider(
        creds.access_key_id, creds.access_key_secret, creds.security_token
    )
    cfg.region = REGION
    cfg.endpoint = server.url
    cfg.use_path_style = True
    return ossv2.Client(cfg)


def oss2_error(call: Callable[[], Any]) -> oss2.exceptions.OssError:
    with pytest.raises(oss2.exceptions.OssError) as caught:
        call()
    return caught.value


def v2_error(call: Callable[[], Any]) -> Any:
    with pytest.raises(ossv2.exceptions.OperationError) as caught:
        call()
    return caught.value.unwrap()


def _empty(bucket: oss2.Bucket) -> None:
    for obj in oss2.ObjectIterator(bucket):
        bucket.delete_object(obj.key)
    bucket.delete_bucket()


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, server: TesseraServer) -> Iterator[oss2.Bucket]:
    """A fresh bucket of the root account, driven by oss2 with V1 or V4 signatures."""
    made = oss2_bucket(server, ROOT, unique("b"), request.param == "v4")
    made.create_bucket()
    yield made
    _empty(made)


# ---- buckets ---------------------------------------------------------------------------------


def test_bucket_lifecycle_with_oss2(server: TesseraServer) -> None:
    name = unique("life")
    bucket = oss2_bucket(server, ROOT, name, v4=False)
    bucket.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    service = oss2.Service(oss2.Auth(ROOT.access_key_id, ROOT.access_key_secret), server.url)
    listed = {b.name: b for b in oss2.BucketIterator(service)}
    assert listed[name].location == f"oss-{REGION}"
    assert listed[name].extranet_endpoint == server.url
    info = bucket.get_bucket_info()
    assert (info.name, info.acl.grant, info.location) == (name, "public-read", f"oss-{REGION}")
    assert bucket.get_bucket_location().location == f"oss-{REGION}"
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    assert bucket.get_bucket_acl().acl == "private"
    bucket.put_object("keep", b"x")
    error = oss2_error(bucket.delete_bucket)
    assert (error.status, error.code) == (409, "BucketNotEmpty")
    bucket.delete_object("keep")
    bucket.delete_bucket()
    error = oss2_error(bucket.get_bucket_info)
    assert (error.status, error.code) == (404, "NoSuchBucket")


def test_create_bucket_with_storage_class_and_v4(server: TesseraServer) -> None:
    bucket = oss2_bucket(server, ROOT, unique("ia"), v4=True)
    bucket.create_bucket(input=oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA))
    assert bucket.get_bucket_info().storage_class == "IA"
    bucket.delete_bucket()


# ---- objects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=range(len(AWKWARD_KEYS)))
def test_put_get_head_delete_awkward_keys(bucket: oss2.Bucket, key: str) -> None:
    put = bucket.put_object(key, HELLO, headers={"x-oss-meta-Author": "me"})
    assert (put.etag, put.crc) == (HELLO_MD5, HELLO_CRC)
    got = bucket.get_object(key)
    assert got.read() == HELLO
    assert got.headers["x-oss-meta-author"] == "me"
    assert got.headers["x-oss-object-type"] == "Normal"
    assert int(got.headers["x-oss-hash-crc64ecma"]) == HELLO_CRC
    head = bucket.head_object(key)
    assert (head.content_length, head.etag) == (len(HELLO), HELLO_MD5)
    assert [o.key for o in bucket.list_objects(prefix=key).object_list] == [key]
    assert bucket.object_exists(key)
    bucket.delete_object(key)
    assert not bucket.object_exists(key)


def test_content_type_overwrite_and_forbid_overwrite(bucket: oss2.Bucket) -> None:
    bucket.put_object("page.html", b"<p>1</p>")
    assert bucket.head_object("page.html").content_type == "text/html"
    bucket.put_object("page.html", b"<p>two</p>", headers={"Content-Type": "text/plain"})
    got = bucket.get_object("page.html")
    assert (got.read(), got.content_type) == (b"<p>two</p>", "text/plain")
    error = oss2_error(
        lambda: bucket.put_object("page.html", b"x", headers={"x-oss-forbid-overwrite": "true"})
    )
    assert (error.status, error.code) == (409, "FileAlreadyExists")
    md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    error = oss2_error(lambda: bucket.put_object("d", b"body", headers={"Content-MD5": md5}))
    assert (error.status, error.code) == (400, "InvalidDigest")
    assert not bucket.object_exists("d")


def test_missing_objects(bucket: oss2.Bucket) -> None:
    error = oss2_error(lambda: bucket.get_object("nope"))
    assert (error.status, error.code, error.details.get("Key")) == (404, "NoSuchKey", "nope")
    error = oss2_error(lambda: bucket.head_object("nope"))
    assert (error.status, error.code) == (404, "NoSuchKey")  # decoded from x-oss-err
    bucket.delete_object("nope")  # 204 either way


def test_ranges(bucket: oss2.Bucket) -> None:
    bucket.put_object("r", HELLO)
    part = bucket.get_object("r", byte_range=(0, 4))
    assert (part.status, part.read()) == (206, b"hello")
    assert part.headers["Content-Range"] == "bytes 0-4/11"
    assert bucket.get_object("r", byte_range=(None, 5)).read() == b"world"
    assert bucket.get_object("r", byte_range=(6, None)).read() == b"world"
    whole = bucket.get_object("r", byte_range=(5, 100))  # unsatisfiable: ignored
    assert (whole.status, whole.read()) == (200, HELLO)
    standard = {"x-oss-range-behavior": "standard"}
    cut = bucket.get_object("r", byte_range=(5, 100), headers=standard)
    assert (cut.status, cut.read()) == (206, b" world")
    error = oss2_error(lambda: bucket.get_object("r", byte_range=(50, 60), headers=standard))
    assert (error.status, error.code) == (416, "InvalidRange")


def test_conditional_get(bucket: oss2.Bucket) -> None:
    bucket.put_object("c", HELLO)
    etag = f'"{HELLO_MD5}"'
    assert bucket.get_object("c", headers={"If-Match": etag}).read() == HELLO
    error = oss2_error(lambda: bucket.get_object("c", headers={"If-Match": '"0000"'}))
    assert (error.status, error.code) == (412, "PreconditionFailed")
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", headers={"If-None-Match": etag})
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("c", byte_range=(0, 1), headers={"If-Modified-Since": future})
    past = "Mon, 01 Jan 2001 00:00:00 GMT"
    error = oss2_error(lambda: bucket.get_object("c", headers={"If-Unmodified-Since": past}))
    assert (error.status, error.code) == (412, "PreconditionFailed")
    assert bucket.get_object("c", headers={"If-Modified-Since": past}).read() == HELLO


def test_response_overrides(bucket: oss2.Bucket) -> None:
    bucket.put_object("o.txt", HELLO)
    params = {"response-content-type": "text/html", "response-cache-control": "no-cache"}
    got = bucket.get_object("o.txt", params=params)
    assert got.headers["Content-Type"] == "text/html"
    assert got.headers["Cache-Control"] == "no-cache"


# ---- listing ---------------------------------------------------------------------------------

LIST_KEYS = ["a/1", "a/2", "a/b/3", "b/4", "c", "d+e", "ü/5"]


def test_list_objects_with_delimiter_and_pages(bucket: oss2.Bucket) -> None:
    for key in LIST_KEYS:
        bucket.put_object(key, b"x")
    top = bucket.list_objects(delimiter="/")
    assert [o.key for o in top.object_list] == ["c", "d+e"]
    assert top.prefix_list == ["a/", "b/", "ü/"]
    under_a = bucket.list_objects(prefix="a/", delimiter="/")
    assert ([o.key for o in under_a.object_list], under_a.prefix_list) == (["a/1", "a/2"], ["a/b/"])
    assert [o.key for o in oss2.ObjectIterator(bucket, max_keys=2)] == LIST_KEYS
    page = bucket.list_objects(max_keys=3)
    assert (page.is_truncated, page.next_marker) == (True, "a/b/3")
    after = bucket.list_objects(marker=page.next_marker, max_keys=3)
    assert [o.key for o in after.object_list] == ["b/4", "c", "d+e"]


def test_list_objects_v2(bucket: oss2.Bucket) -> None:
    for key in LIST_KEYS:
        bucket.put_object(key, b"x")
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, max_keys=2)] == LIST_KEYS
    top = bucket.list_objects_v2(delimiter="/", fetch_owner=True)
    assert top.prefix_list == ["a/", "b/", "ü/"]
    assert top.object_list[0].owner.id == bucket.get_bucket_info().owner.id
    assert [o.key for o in bucket.list_objects_v2(start_after="c").object_list] == ["d+e", "ü/5"]
    error = oss2_error(lambda: bucket.list_objects_v2(continuation_token="%%%"))
    assert (error.status, error.code) == (400, "InvalidArgument")


# ---- alibabacloud-oss-v2 ---------------------------------------------------------------------


def test_v2_sdk_round_trip(server: TesseraServer) -> None:
    client = v2_client(server)
    name = unique("v2")
    client.put_bucket(ossv2.PutBucketRequest(bucket=name))
    assert name in [b.name for b in client.list_buckets(ossv2.ListBucketsRequest()).buckets]
    key = "dir/😀 a+b%.txt"
    put = client.put_object(
        ossv2.PutObjectRequest(bucket=name, key=key, body=HELLO, metadata={"k": "v"})
    )
    assert (put.etag, put.hash_crc64) == (f'"{HELLO_MD5}"', str(HELLO_CRC))
    assert len(put.request_id) == 24
    got = client.get_object(ossv2.GetObjectRequest(bucket=name, key=key, range_header="bytes=0-4"))
    assert (got.status_code, got.body.read(), got.content_range) == (206, b"hello", "bytes 0-4/11")
    head = client.head_object(ossv2.HeadObjectRequest(bucket=name, key=key))
    assert (head.content_length, head.metadata) == (len(HELLO), {"k": "v"})
    for extra in ("dir/x", "top"):
        client.put_object(ossv2.PutObjectRequest(bucket=name, key=extra, body=b"1"))
    pages = client.list_objects_v2_paginator(limit=2).iter_page(
        ossv2.ListObjectsV2Request(bucket=name)
    )
    assert [o.key for p in pages for o in p.contents] == ["dir/x", key, "top"]
    error = v2_error(lambda: client.head_object(ossv2.HeadObjectRequest(bucket=name, key="no")))
    assert (error.status_code, error.code) == (404, "NoSuchKey")
    error = v2_error(lambda: client.delete_bucket(ossv2.DeleteBucketRequest(bucket=name)))
    assert (error.status_code, error.code) == (409, "BucketNotEmpty")
    for gone in (key, "dir/x", "top"):
        client.delete_object(ossv2.DeleteObjectRequest(bucket=name, key=gone))
    client.delete_bucket(ossv2.DeleteBucketRequest(bucket=name))
    error = v2_error(lambda: client.get_bucket_info(ossv2.GetBucketInfoRequest(bucket=name)))
    assert (error.status_code, error.code) == (404, "NoSuchBucket")


# ---- authentication and authorization --------------------------------------------------------


def test_bad_signature_and_unknown_key(server: TesseraServer, bucket: oss2.Bucket) -> None:
    wrong = Credentials(ROOT.access_key_id, "not-the-secret")
    forged = oss2_bucket(server, wrong, bucket.bucket_name, v4=False)
    error = oss2_error(lambda: forged.get_object("k"))
    assert (error.status, error.code) == (403, "SignatureDoesNotMatch")
    assert error.details["StringToSign"].startswith("GET\n")
    forged4 = oss2_bucket(server, wrong, bucket.bucket_name, v4=True)
    error = oss2_error(lambda: forged4.get_object("k"))
    assert (error.status, error.code) == (403, "SignatureDoesNotMatch")
    stranger = oss2_bucket(server, Credentials("LTAInobody", "x"), "no-such-bucket-x", v4=False)
    error = oss2_error(lambda: stranger.get_object("k"))  # authentication precedes the lookup
    assert (error.status, error.code) == (403, "InvalidAccessKeyId")


def test_ram_users_full_access_and_read_only(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("shared", HELLO)
    full = ids.user("ossfull", system=("AliyunOSSFullAccess",))
    reader = ids.user("ossread", system=("AliyunOSSReadOnlyAccess",))
    nobody = ids.user("ossnone")
    as_full = oss2_bucket(server, full.creds, bucket.bucket_name, v4=True)
    as_full.put_object("by-full", b"1")
    as_reader = oss2_bucket(server, reader.creds, bucket.bucket_name, v4=False)
    assert as_reader.get_object("shared").read() == HELLO
    assert "by-full" in [o.key for o in as_reader.list_objects().object_list]
    error = oss2_error(lambda: as_reader.put_object("nope", b"1"))
    assert (error.status, error.code) == (403, "AccessDenied")
    error = oss2_error(lambda: as_reader.delete_object("shared"))
    assert (error.status, error.code) == (403, "AccessDenied")
    as_nobody = oss2_bucket(server, nobody.creds, bucket.bucket_name, v4=False)
    error = oss2_error(lambda: as_nobody.get_object("shared"))
    assert (error.status, error.code) == (403, "AccessDenied")


def _assume(server: TesseraServer, ids: Identities, bucket_name: str, prefix: str) -> Credentials:

    role = ids.role("ossrole", system=("AliyunOSSFullAccess",))
    broker = ids.user("broker", system=("AliyunSTSAssumeRoleAccess",))
    session_policy = (
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject",'
        f'"Resource":"acs:oss:*:*:{bucket_name}/{prefix}*"}}]}}'
    )
    assumed = sts_api(server, broker.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="reader", policy=session_policy
    )
    return session_creds(assumed)


def test_sts_session_policy_limits_to_one_prefix(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("open/a", HELLO)
    bucket.put_object("closed/b", HELLO)
    creds = _assume(server, ids, bucket.bucket_name, "open/")
    for v4 in (False, True):
        session = oss2_bucket(server, creds, bucket.bucket_name, v4=v4)
        assert session.get_object("open/a").read() == HELLO
        for call in (
            lambda s=session: s.get_object("closed/b"),
            lambda s=session: s.put_object("open/n", b"1"),
        ):
            error = oss2_error(call)
            assert (error.status, error.code) == (403, "AccessDenied")
    client = v2_client(server, creds)
    got = client.get_object(ossv2.GetObjectRequest(bucket=bucket.bucket_name, key="open/a"))
    assert got.body.read() == HELLO
    token = creds.security_token or ""
    tampered = Credentials(creds.access_key_id, creds.access_key_secret, token[:-8] + "AAAAAAAA")
    error = oss2_error(
        lambda: oss2_bucket(server, tampered, bucket.bucket_name, v4=True).get_object("open/a")
    )
    assert (error.status, error.code) == (403, "InvalidSecurityToken")
    tokenless = Credentials(creds.access_key_id, creds.access_key_secret)
    error = oss2_error(
        lambda: oss2_bucket(server, tokenless, bucket.bucket_name, v4=False).get_object("open/a")
    )
    assert (error.status, error.code) == (403, "InvalidAccessKeyId")


def test_anonymous_access_follows_the_acl(server: TesseraServer, bucket: oss2.Bucket) -> None:
    bucket.put_object("pub", HELLO)
    anonymous = oss2.Bucket(oss2.AnonymousAuth(), server.url, bucket.bucket_name)
    error = oss2_error(lambda: anonymous.get_object("pub"))
    assert (error.status, error.code) == (403, "AccessDenied")
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert anonymous.get_object("pub").read() == HELLO
    error = oss2_error(lambda: anonymous.put_object("pub", b"x"))
    assert (error.status, error.code) == (403, "AccessDenied")
    bucket.put_object("priv", HELLO, headers={"x-oss-object-acl": "private"})
    error = oss2_error(lambda: anonymous.get_object("priv"))
    assert (error.status, error.code) == (403, "AccessDenied")


# ---- the wire --------------------------------------------------------------------------------


def test_common_headers_and_malformed_requests(server: TesseraServer) -> None:
    raw = RawRpc(server.endpoint)
    cases = [
        ("GET", "/no-such-bucket-zz/k", {}, 404, "NoSuchBucket"),
        ("GET", "/Bad_Bucket/k", {}, 400, "InvalidBucketName"),
        ("PATCH", "/somebucket/k", {}, 405, "MethodNotAllowed"),
        ("GET", "/somebucket?lifecycle", {}, 501, "NotImplemented"),
        (
            "GET",
            "/somebucket/k",
            {"authorization": "OSS4-HMAC-SHA256 junk"},
            400,
            "InvalidArgument",
        ),
        ("GET", "/somebucket/k", {"authorization": "OSS a"}, 400, "InvalidArgument"),
        ("GET", "/somebucket/k?x-oss-signature-version=OSS9", {}, 400, "InvalidArgument"),
        (
            "GET",
            "/somebucket/k?OSSAccessKeyId=a&Expires=x&Signature=AAAA",
            {},
            400,
            "InvalidArgument",
        ),
        ("GET", "/", {}, 403, "AccessDenied"),
        ("GET", "/somebucket/%ff", {}, 400, "InvalidObjectName"),
    ]
    for method, target, headers, status, code in cases:
        reply = raw.request(method, target, headers=headers)
        assert (reply.status, reply.code) == (status, code), (target, reply.body)
        assert REQUEST_ID.match(reply.headers["x-oss-request-id"])
        assert reply.headers["date"].endswith(" GMT")
        assert reply.xml().findtext("RequestId") == reply.headers["x-oss-request-id"]
    head = raw.request("HEAD", "/no-such-bucket-zz/k")
    assert (head.status, head.body) == (404, b"")
    decoded = base64.b64decode(head.headers["x-oss-err"])
    assert b"<Code>NoSuchBucket</Code>" in decoded


def test_form_encoded_object_posts_and_bad_query_bytes_reach_oss(server: TesseraServer) -> None:
    """Only a form POST to "/" can be RPC; an object POST (append) with a form content type,
    larger than any RPC body, and a query with invalid UTF-8 both get OSS XML answers."""
    raw = RawRpc(server.endpoint)
    big = b"a=" + b"x" * (70 * 1024)
    reply = raw.request(
        "POST",
        "/somebucket/k?append&position=0",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=big,
    )
    assert reply.headers["content-type"].startswith("application/xml"), reply.body[:300]
    assert reply.code != "InvalidParameter.RequestSize"
    assert REQUEST_ID.match(reply.headers["x-oss-request-id"])
    bad = raw.request("GET", "/somebucket?prefix=%ff")
    assert bad.status < 500 and REQUEST_ID.match(bad.headers["x-oss-request-id"]), bad.body
