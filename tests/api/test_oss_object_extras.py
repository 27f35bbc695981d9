"""DeleteMultipleObjects, object ACLs, bucket policies, CopyObject and AppendObject driven by
oss2 2.19.1 (V1 and V4) and alibabacloud-oss-v2 1.4.1 against a real server.

Expected values come from spec/oss.md (7.4-7.7, 11, 6) or are computed here independently:
ETags are upper-case MD5s, CRCs come from ``crcmod``'s CRC-64/XZ as oss2 uses it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import alibabacloud_oss_v2 as ossv2
import oss2
import pytest
import requests

from tests.api.clients import ROOT, Identities, unique
from tests.api.test_oss_sdk import (
    AWKWARD_KEYS,
    HELLO,
    HELLO_CRC,
    HELLO_MD5,
    REGION,
    oss2_bucket,
    oss2_error,
    v2_client,
    v2_error,
)
from tests.server import TesseraServer


def _crc64(data: bytes) -> int:
    crc = oss2.utils.Crc64(0)
    crc.update(data)
    return int(crc.crc)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def _copy(bucket: oss2.Bucket, *args: Any, **kwargs: Any) -> Any:
    """oss2 ``copy_object`` leaves the CopyObjectResult body unread (its connection would leak
    until garbage collection); read it here."""
    result = bucket.copy_object(*args, **kwargs)
    assert b"<CopyObjectResult>" in result.resp.read()
    return result


def _empty(bucket: oss2.Bucket) -> None:
    if _has_policy(bucket):
        bucket.delete_bucket_policy()
    keys = [obj.key for obj in oss2.ObjectIterator(bucket)]
    for key in keys:
        bucket.delete_object(key)
    bucket.delete_bucket()


def _has_policy(bucket: oss2.Bucket) -> bool:
    try:
        bucket.get_bucket_policy()
    except oss2.exceptions.NoSuchBucketPolicy:
        return False
    return True


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, server: TesseraServer) -> Iterator[oss2.Bucket]:
    made = oss2_bucket(server, ROOT, unique("x"), request.param == "v4")
    made.create_bucket()
    yield made
    _empty(made)


# ---- DeleteMultipleObjects (spec 7.4) --------------------------------------------------------


def test_batch_delete_awkward_keys_verbose(bucket: oss2.Bucket) -> None:
    keep = "stay/here"
    for key in [*AWKWARD_KEYS, keep]:
        bucket.put_object(key, HELLO)
    wanted = [*AWKWARD_KEYS, "never-existed"]
    result = bucket.batch_delete_objects(wanted)
    assert sorted(result.deleted_keys) == sorted(wanted)
    assert [o.key for o in oss2.ObjectIterator(bucket)] == [keep]


def test_batch_delete_quiet_and_verbose_with_v2_sdk(server: TesseraServer) -> None:
    client = v2_client(server)
    name = unique("xq")
    client.put_bucket(ossv2.PutBucketRequest(bucket=name))
    try:
        for key in ("q1", "q 2", "q+3"):
            client.put_object(ossv2.PutObjectRequest(bucket=name, key=key, body=HELLO))
        quiet = client.delete_multiple_objects(
            ossv2.DeleteMultipleObjectsRequest(
                bucket=name, objects=[ossv2.DeleteObject(key="q1")], quiet=True
            )
        )
        assert not quiet.deleted_objects
        verbose = client.delete_multiple_objects(
            ossv2.DeleteMultipleObjectsRequest(
                bucket=name,
                encoding_type="url",
                objects=[ossv2.DeleteObject(key="q 2"), ossv2.DeleteObject(key="q+3")],
            )
        )
        assert sorted(d.key for d in verbose.deleted_objects or []) == ["q 2", "q+3"]
        listed = client.list_objects(ossv2.ListObjectsRequest(bucket=name))
        assert not listed.contents
    finally:
        client.delete_bucket(ossv2.DeleteBucketRequest(bucket=name))


def test_batch_delete_needs_a_matching_content_md5(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", HELLO)
    body = b"<Delete><Quiet>false</Quiet><Object><Key>k</Key></Object></Delete>"
    for headers, status, code in (
        ({}, 400, "MissingArgument"),
        (
            {"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()},
            400,
            "InvalidDigest",
        ),
    ):
        error = oss2_error(
            lambda h=headers: bucket._Bucket__do_bucket(  # type: ignore[attr-defined]
                "POST", data=body, params={"delete": ""}, headers=h
            )
        )
        assert (error.status, error.code) == (status, code)
    assert bucket.object_exists("k")


def test_batch_delete_is_authorized_per_key(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("open/a", HELLO)
    bucket.put_object("closed/b", HELLO)
    policy = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "oss:DeleteObject",
                    "Resource": f"acs:oss:*:*:{bucket.bucket_name}/open/*",
                }
            ],
        }
    )
    user = ids.user("deleter", custom=policy)
    as_user = oss2_bucket(server, user.creds, bucket.bucket_name, v4=True)
    error = oss2_error(lambda: as_user.batch_delete_objects(["open/a", "closed/b"]))
    assert (error.status, error.code) == (403, "AccessDenied")
    assert bucket.object_exists("open/a") and bucket.object_exists("closed/b")
    assert as_user.batch_delete_objects(["open/a"]).deleted_keys == ["open/a"]
    assert not bucket.object_exists("open/a")


# ---- object ACL (spec 7.7) -------------------------------------------------------------------


def test_object_acl_round_trip_and_anonymous_read(
    server: TesseraServer, bucket: oss2.Bucket
) -> None:
    bucket.put_object("acl-obj", HELLO)
    assert bucket.get_object_acl("acl-obj").acl == "default"
    anonymous = oss2.Bucket(oss2.AnonymousAuth(), server.url, bucket.bucket_name)
    error = oss2_error(lambda: anonymous.get_object("acl-obj"))
    assert (error.status, error.code) == (403, "AccessDenied")
    bucket.put_object_acl("acl-obj", oss2.OBJECT_ACL_PUBLIC_READ)
    assert bucket.get_object_acl("acl-obj").acl == "public-read"
    assert anonymous.get_object("acl-obj").read() == HELLO
    error = oss2_error(lambda: anonymous.put_object("acl-obj", b"x"))
    assert (error.status, error.code) == (403, "AccessDenied")
    for grant in ("private", "public-read-write", "default"):
        bucket.put_object_acl("acl-obj", grant)
        assert bucket.get_object_acl("acl-obj").acl == grant
    error = oss2_error(lambda: bucket.put_object_acl("acl-obj", "everyone"))
    assert (error.status, error.code) == (400, "InvalidArgument")
    error = oss2_error(lambda: bucket.put_object_acl("missing", "private"))
    assert (error.status, error.code) == (404, "NoSuchKey")
    error = oss2_error(lambda: bucket.get_object_acl("missing"))
    assert (error.status, error.code) == (404, "NoSuchKey")


def test_object_acl_with_v2_sdk(server: TesseraServer, bucket: oss2.Bucket) -> None:
    bucket.put_object("v2acl", HELLO)
    client = v2_client(server)
    client.put_object_acl(
        ossv2.PutObjectAclRequest(bucket=bucket.bucket_name, key="v2acl", acl="public-read")
    )
    got = client.get_object_acl(ossv2.GetObjectAclRequest(bucket=bucket.bucket_name, key="v2acl"))
    assert got.acl == "public-read"


# ---- bucket policy (spec 11) -----------------------------------------------------------------


def _policy(bucket: str, principal: str, effect: str, action: str) -> str:
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": effect,
                    "Action": [action],
                    "Principal": [principal],
                    "Resource": [f"acs:oss:*:*:{bucket}/*"],
                }
            ],
        }
    )


def test_bucket_policy_put_get_delete(bucket: oss2.Bucket) -> None:
    error = oss2_error(bucket.get_bucket_policy)
    assert (error.status, error.code) == (404, "NoSuchBucketPolicy")
    error = oss2_error(bucket.delete_bucket_policy)
    assert (error.status, error.code) == (404, "NoSuchBucketPolicy")
    document = _policy(bucket.bucket_name, "*", "Allow", "oss:GetObject")
    bucket.put_bucket_policy(document)
    assert json.loads(bucket.get_bucket_policy().policy) == json.loads(document)
    for bad in ("{not json", '{"Version":"1","Statement":[{"Effect":"Maybe"}]}'):
        error = oss2_error(lambda b=bad: bucket.put_bucket_policy(b))
        assert (error.status, error.code) == (400, "InvalidPolicyDocument")
    assert json.loads(bucket.get_bucket_policy().policy) == json.loads(document)
    bucket.delete_bucket_policy()
    error = oss2_error(bucket.get_bucket_policy)
    assert (error.status, error.code) == (404, "NoSuchBucketPolicy")


def test_bucket_policy_grants_a_user_without_identity_policy(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("shared", HELLO)
    user = ids.user("bpreader")
    as_user = oss2_bucket(server, user.creds, bucket.bucket_name, v4=False)
    error = oss2_error(lambda: as_user.get_object("shared"))
    assert (error.status, error.code) == (403, "AccessDenied")
    bucket.put_bucket_policy(_policy(bucket.bucket_name, user.user_id, "Allow", "oss:GetObject"))
    assert as_user.get_object("shared").read() == HELLO
    error = oss2_error(lambda: as_user.put_object("shared", b"x"))
    assert (error.status, error.code) == (403, "AccessDenied")


def test_bucket_policy_explicit_deny_beats_full_access(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("guarded", HELLO)
    full = ids.user("bpfull", system=("AliyunOSSFullAccess",))
    as_full = oss2_bucket(server, full.creds, bucket.bucket_name, v4=True)
    assert as_full.get_object("guarded").read() == HELLO
    bucket.put_bucket_policy(_policy(bucket.bucket_name, full.user_id, "Deny", "oss:GetObject"))
    error = oss2_error(lambda: as_full.get_object("guarded"))
    assert (error.status, error.code) == (403, "AccessDenied")
    assert "bucket policy" in error.message
    as_full.put_object("still-writes", b"1")
    assert bucket.get_object("guarded").read() == HELLO


def test_bucket_policy_with_v2_sdk(server: TesseraServer, bucket: oss2.Bucket) -> None:
    client = v2_client(server)
    document = _policy(bucket.bucket_name, "*", "Allow", "oss:GetObject")
    client.put_bucket_policy(ossv2.PutBucketPolicyRequest(bucket=bucket.bucket_name, body=document))
    got = client.get_bucket_policy(ossv2.GetBucketPolicyRequest(bucket=bucket.bucket_name))
    assert json.loads(got.body) == json.loads(document)
    client.delete_bucket_policy(ossv2.DeleteBucketPolicyRequest(bucket=bucket.bucket_name))
    error = v2_error(
        lambda: client.get_bucket_policy(ossv2.GetBucketPolicyRequest(bucket=bucket.bucket_name))
    )
    assert (error.status_code, error.code) == (404, "NoSuchBucketPolicy")


# ---- CopyObject (spec 7.5) -------------------------------------------------------------------


def test_copy_object_same_and_cross_bucket(server: TesseraServer, bucket: oss2.Bucket) -> None:
    src = "src/o b+c%.txt"
    bucket.put_object(
        src, HELLO, headers={"Content-Type": "text/x-hello", "x-oss-meta-Color": "blue"}
    )
    copied = _copy(bucket, bucket.bucket_name, src, "dst/copy")
    assert copied.etag == HELLO_MD5
    got = bucket.get_object("dst/copy")
    assert got.read() == HELLO
    assert got.headers["Content-Type"] == "text/x-hello"
    assert got.headers["x-oss-meta-color"] == "blue"
    assert int(got.headers["x-oss-hash-crc64ecma"]) == HELLO_CRC

    other = oss2.Bucket(
        bucket.auth, server.url, unique("xo"), session=bucket.session, region=REGION
    )
    other.create_bucket()
    try:
        _copy(other, bucket.bucket_name, src, "cross")
        assert other.get_object("cross").read() == HELLO
        bucket.delete_object(src)  # the copy owns its own bytes
        assert other.get_object("cross").read() == HELLO
        assert bucket.get_object("dst/copy").read() == HELLO
    finally:
        _empty(other)


def test_copy_object_replace_directive_and_update_meta(bucket: oss2.Bucket) -> None:
    bucket.put_object("m", HELLO, headers={"x-oss-meta-a": "1", "Content-Type": "text/plain"})
    _copy(
        bucket,
        bucket.bucket_name,
        "m",
        "m2",
        headers={
            "x-oss-metadata-directive": "REPLACE",
            "Content-Type": "application/json",
            "x-oss-meta-b": "2",
        },
    )
    head = bucket.head_object("m2")
    assert head.headers["Content-Type"] == "application/json"
    assert head.headers.get("x-oss-meta-b") == "2" and "x-oss-meta-a" not in head.headers
    bucket.update_object_meta("m", {"x-oss-meta-c": "3", "Content-Type": "text/csv"}).resp.read()
    head = bucket.head_object("m")
    assert head.headers["Content-Type"] == "text/csv" and head.headers["x-oss-meta-c"] == "3"
    assert bucket.get_object("m").read() == HELLO
    error = oss2_error(
        lambda: _copy(
            bucket, bucket.bucket_name, "m", "m3", headers={"x-oss-metadata-directive": "MERGE"}
        )
    )
    assert (error.status, error.code) == (400, "InvalidArgument")


def test_copy_object_conditions_and_errors(bucket: oss2.Bucket) -> None:
    bucket.put_object("c", HELLO)
    future = formatdate(2_000_000_000, usegmt=True)
    past = formatdate(1_000_000_000, usegmt=True)
    ok = [
        {"x-oss-copy-source-if-match": f'"{HELLO_MD5}"'},
        {"x-oss-copy-source-if-none-match": '"0123"'},
        {"x-oss-copy-source-if-unmodified-since": future},
        {"x-oss-copy-source-if-modified-since": past},
    ]
    for headers in ok:
        _copy(bucket, bucket.bucket_name, "c", "c-ok", headers=headers)
    failing = [
        ({"x-oss-copy-source-if-match": '"0123"'}, 412, "PreconditionFailed"),
        ({"x-oss-copy-source-if-unmodified-since": past}, 412, "PreconditionFailed"),
        ({"x-oss-copy-source-if-none-match": f'"{HELLO_MD5}"'}, 304, "NotModified"),
        ({"x-oss-copy-source-if-modified-since": future}, 304, "NotModified"),
    ]
    for headers, status, code in failing:
        error = oss2_error(
            lambda h=headers: _copy(bucket, bucket.bucket_name, "c", "c-no", headers=h)
        )
        assert (error.status, type(error).__name__) == (status, code)
    assert not bucket.object_exists("c-no")
    error = oss2_error(lambda: _copy(bucket, bucket.bucket_name, "missing", "x"))
    assert (error.status, error.code) == (404, "NoSuchKey")
    error = oss2_error(lambda: _copy(bucket, unique("nobucket"), "c", "x"))
    assert (error.status, error.code) == (404, "NoSuchBucket")
    error = oss2_error(
        lambda: _copy(
            bucket, bucket.bucket_name, "c", "c-ok", headers={"x-oss-forbid-overwrite": "true"}
        )
    )
    assert (error.status, error.code) == (409, "FileAlreadyExists")


def test_copy_object_checks_source_read_and_destination_write(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("secret", HELLO)
    bucket.put_object("public/src", HELLO)
    policy = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["oss:GetObject", "oss:PutObject"],
                    "Resource": f"acs:oss:*:*:{bucket.bucket_name}/public/*",
                }
            ],
        }
    )
    user = ids.user("copier", custom=policy)
    as_user = oss2_bucket(server, user.creds, bucket.bucket_name, v4=True)
    _copy(as_user, bucket.bucket_name, "public/src", "public/dst")
    for source, target in (("secret", "public/leak"), ("public/src", "private/dst")):
        error = oss2_error(lambda s=source, t=target: _copy(as_user, bucket.bucket_name, s, t))
        assert (error.status, error.code) == (403, "AccessDenied")
    assert not bucket.object_exists("public/leak")


def test_copy_object_with_v2_sdk(server: TesseraServer, bucket: oss2.Bucket) -> None:
    bucket.put_object("v2src", HELLO)
    client = v2_client(server)
    result = client.copy_object(
        ossv2.CopyObjectRequest(
            bucket=bucket.bucket_name,
            key="v2dst",
            source_bucket=bucket.bucket_name,
            source_key="v2src",
        )
    )
    assert (result.etag or "").strip('"') == HELLO_MD5
    error = v2_error(
        lambda: client.copy_object(
            ossv2.CopyObjectRequest(
                bucket=bucket.bucket_name,
                key="v2dst",
                source_bucket=bucket.bucket_name,
                source_key="v2src",
                if_match='"0123"',
            )
        )
    )
    assert (error.status_code, error.code) == (412, "PreconditionFailed")


# ---- AppendObject (spec 7.6) -----------------------------------------------------------------


def test_append_object_twice_with_crc_check(server: TesseraServer, bucket: oss2.Bucket) -> None:
    bucket.enable_crc = True
    first, second = b"hello ", b"world"
    one = bucket.append_object("log", 0, first, init_crc=0)
    assert (one.next_position, one.crc) == (len(first), _crc64(first))
    two = bucket.append_object("log", one.next_position, second, init_crc=one.crc)
    assert two.next_position == len(HELLO)
    assert two.crc == HELLO_CRC == _crc64(HELLO)
    got = bucket.get_object("log")
    assert got.read() == HELLO
    assert got.headers["x-oss-object-type"] == "Appendable"
    assert got.headers["x-oss-next-append-position"] == str(len(HELLO))
    assert int(got.headers["x-oss-hash-crc64ecma"]) == HELLO_CRC
    error = oss2_error(lambda: bucket.append_object("log", 3, b"x"))
    assert isinstance(error, oss2.exceptions.PositionNotEqualToLength)
    assert (error.status, error.code, error.next_position) == (
        409,
        "PositionNotEqualToLength",
        len(HELLO),
    )
    error = oss2_error(lambda: bucket.append_object("fresh", 5, b"x"))
    assert (error.status, error.code, error.next_position) == (409, "PositionNotEqualToLength", 0)
    assert not bucket.object_exists("fresh")


def test_append_to_normal_object_and_bad_position(bucket: oss2.Bucket) -> None:
    bucket.put_object("normal", HELLO)
    error = oss2_error(lambda: bucket.append_object("normal", len(HELLO), b"x"))
    assert (error.status, error.code) == (409, "ObjectNotAppendable")
    error = oss2_error(lambda: bucket.append_object("nums", "-1", b"x"))
    assert (error.status, error.code) == (400, "InvalidArgument")
    error = oss2_error(
        lambda: bucket.append_object(
            "md5", 0, b"abc", headers={"Content-MD5": base64.b64encode(b"0" * 16).decode()}
        )
    )
    assert (error.status, error.code) == (400, "InvalidDigest")
    assert not bucket.object_exists("md5")
    # overwriting an appendable object with PutObject makes it Normal again
    bucket.append_object("flip", 0, b"a")
    bucket.put_object("flip", HELLO)
    assert bucket.head_object("flip").object_type == "Normal"


def test_append_object_with_v2_sdk(server: TesseraServer, bucket: oss2.Bucket) -> None:
    client = v2_client(server)
    one = client.append_object(
        ossv2.AppendObjectRequest(bucket=bucket.bucket_name, key="v2log", position=0, body=b"ab")
    )
    assert one.next_position == 2
    two = client.append_object(
        ossv2.AppendObjectRequest(bucket=bucket.bucket_name, key="v2log", position=2, body=b"cd")
    )
    assert (two.next_position, int(two.hash_crc64)) == (4, _crc64(b"abcd"))
    error = v2_error(
        lambda: client.append_object(
            ossv2.AppendObjectRequest(bucket=bucket.bucket_name, key="v2log", position=1, body=b"x")
        )
    )
    assert (error.status_code, error.code) == (409, "PositionNotEqualToLength")
    assert bucket.get_object("v2log").read() == b"abcd"


def test_raw_append_reports_next_position_header(
    server: TesseraServer, bucket: oss2.Bucket
) -> None:
    bucket.append_object("raw", 0, b"12345")
    url = bucket.sign_url("POST", "raw", 60, params={"append": "", "position": "2"})
    reply = requests.post(url, data=b"x", timeout=10)
    assert reply.status_code == 409
    assert reply.headers["x-oss-next-append-position"] == "5"
    assert "<Code>PositionNotEqualToLength</Code>" in reply.text
