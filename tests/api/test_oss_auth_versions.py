"""The signature versions test_oss_sdk.py leaves out: oss2 with V2 (``AuthV2``, ``StsAuth`` with
``auth_version=v2``) and alibabacloud-oss-v2 with ``signature_version='v1'`` (root key and STS,
whose token travels in an unsigned ``security-token`` header, spec 0.3).

Expected values come from the test's own data and spec/oss.md (ETag = upper-case MD5 (1),
error codes and statuses (4-6), V2 signing (3.3), SDK matrix (13)).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import alibabacloud_oss_v2 as ossv2
import oss2
import pytest
import requests

from tests.api.clients import ROOT, Identities, session_creds, sts_api, unique
from tests.api.rawrpc import Credentials
from tests.server import TesseraServer

REGION = "cn-hangzhou"
BODY = b"version two"
BODY_MD5 = hashlib.md5(BODY).hexdigest().upper()
AWKWARD_KEYS = ["a+b", "with space", "100%/done", "ünïcödé/ключ", "dir/sub/leaf"]


def auth_v2(creds: Credentials) -> Any:
    if creds.security_token:
        return oss2.StsAuth(
            creds.access_key_id,
            creds.access_key_secret,
            creds.security_token,
            auth_version=oss2.AUTH_VERSION_2,
        )
    return oss2.AuthV2(creds.access_key_id, creds.access_key_secret)


def bucket_v2(server: TesseraServer, creds: Credentials, name: str) -> oss2.Bucket:
    return oss2.Bucket(auth_v2(creds), server.url, name)


def client_v1(server: TesseraServer, creds: Credentials = ROOT) -> ossv2.Client:
    cfg = ossv2.config.load_default()
    cfg.credentials_provider = ossv2.credentials.StaticCredentialsProvider(
        creds.access_key_id, creds.access_key_secret, creds.security_token
    )
    cfg.region = REGION
    cfg.endpoint = server.url
    cfg.use_path_style = True
    cfg.signature_version = "v1"
    return ossv2.Client(cfg)


def oss2_error(call: Callable[[], Any]) -> oss2.exceptions.OssError:
    with pytest.raises(oss2.exceptions.OssError) as caught:
        call()
    return caught.value


def v2_error(call: Callable[[], Any]) -> Any:
    with pytest.raises(ossv2.exceptions.OperationError) as caught:
        call()
    return caught.value.unwrap()


def assume(server: TesseraServer, ids: Identities, bucket_name: str, prefix: str) -> Credentials:
    """Session credentials allowed only GetObject/PutObject under ``prefix`` and ListObjects."""
    role = ids.role("ossrole", system=("AliyunOSSFullAccess",))
    broker = ids.user("broker", system=("AliyunSTSAssumeRoleAccess",))
    session_policy = (
        '{"Version":"1","Statement":['
        '{"Effect":"Allow","Action":["oss:GetObject","oss:PutObject"],'
        f'"Resource":"acs:oss:*:*:{bucket_name}/{prefix}*"}},'
        '{"Effect":"Allow","Action":"oss:ListObjects",'
        f'"Resource":"acs:oss:*:*:{bucket_name}"}}]}}'
    )
    assumed = sts_api(server, broker.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="versions", policy=session_policy
    )
    return session_creds(assumed)


@pytest.fixture
def bucket(server: TesseraServer) -> Iterator[oss2.Bucket]:
    """A fresh bucket of the root account, created and driven by oss2 with V2 signatures."""
    made = bucket_v2(server, ROOT, unique("v2"))
    made.create_bucket()
    yield made
    for obj in oss2.ObjectIterator(made):
        made.delete_object(obj.key)
    made.delete_bucket()


# ---- oss2 with V2 ----------------------------------------------------------------------------


def test_oss2_v2_bucket_info(bucket: oss2.Bucket) -> None:
    info = bucket.get_bucket_info()
    assert info.name == bucket.bucket_name
    assert bucket.get_bucket_location().location == f"oss-{REGION}"


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=range(len(AWKWARD_KEYS)))
def test_oss2_v2_put_get_head_delete_awkward_keys(bucket: oss2.Bucket, key: str) -> None:
    put = bucket.put_object(key, BODY, headers={"x-oss-meta-Author": "me"})
    assert put.etag == BODY_MD5
    got = bucket.get_object(key)
    assert got.read() == BODY
    assert got.headers["x-oss-meta-author"] == "me"
    head = bucket.head_object(key)
    assert (head.etag, head.content_length) == (BODY_MD5, len(BODY))
    assert [o.key for o in oss2.ObjectIterator(bucket)] == [key]
    bucket.delete_object(key)
    error = oss2_error(lambda: bucket.get_object(key))
    assert (error.status, error.code) == (404, "NoSuchKey")


def test_oss2_v2_listing(bucket: oss2.Bucket) -> None:
    keys = ["a/1", "a/2", "b/1", "top"]
    for key in keys:
        bucket.put_object(key, BODY)
    assert sorted(o.key for o in oss2.ObjectIterator(bucket)) == keys
    listed = bucket.list_objects(delimiter="/")
    assert sorted(listed.prefix_list) == ["a/", "b/"]
    assert [o.key for o in listed.object_list] == ["top"]
    v2listed = bucket.list_objects_v2(prefix="a/", max_keys=1)
    assert [o.key for o in v2listed.object_list] == ["a/1"]
    assert v2listed.is_truncated


def _tamper_signature(url: str, name: str) -> str:
    """The URL with one character of the decoded signature changed (same length, still
    base64), re-encoded: swapping the case of a percent-escape would change nothing."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    changed = []
    for key, value in query:
        if key == name:
            index = next(i for i, ch in enumerate(value) if ch.isalnum())
            value = value[:index] + ("B" if value[index] != "B" else "C") + value[index + 1 :]
        changed.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(changed)))


@pytest.mark.parametrize("key", ["a+b", "with space", "100%/done", "ünïcödé/ключ"])
def test_oss2_v2_presigned_get(bucket: oss2.Bucket, key: str) -> None:
    bucket.put_object(key, BODY)
    url = bucket.sign_url("GET", key, 300)
    assert "x-oss-signature-version=OSS2" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == BODY
    refused = requests.get(_tamper_signature(url, "x-oss-signature"), timeout=10)
    assert refused.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in refused.text


def test_oss2_v2_sts_session_policy(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket
) -> None:
    bucket.put_object("open/a", BODY)
    bucket.put_object("closed/b", BODY)
    creds = assume(server, ids, bucket.bucket_name, "open/")
    session = bucket_v2(server, creds, bucket.bucket_name)
    assert session.get_object("open/a").read() == BODY
    session.put_object("open/new", b"1")
    assert bucket.get_object("open/new").read() == b"1"
    assert sorted(o.key for o in oss2.ObjectIterator(session)) == [
        "closed/b",
        "open/a",
        "open/new",
    ]
    for call in (
        lambda: session.get_object("closed/b"),
        lambda: session.put_object("closed/n", b"1"),
        lambda: session.delete_object("open/a"),
        session.get_bucket_info,
    ):
        error = oss2_error(call)
        assert (error.status, error.code) == (403, "AccessDenied")
    url = session.sign_url("GET", "open/a", 300)
    assert "security-token=" in url
    assert requests.get(url, timeout=10).content == BODY
    denied = requests.get(session.sign_url("GET", "closed/b", 300), timeout=10)
    assert denied.status_code == 403
    assert "<Code>AccessDenied</Code>" in denied.text


# ---- alibabacloud-oss-v2 with V1 -------------------------------------------------------------


def test_v2_sdk_v1_signature_config() -> None:
    cfg = ossv2.config.load_default()
    cfg.signature_version = "v1"
    assert cfg.signature_version == "v1"


def _v1_roundtrip(client: ossv2.Client, name: str, keys: list[str]) -> None:
    for key in keys:
        put = client.put_object(ossv2.models.PutObjectRequest(bucket=name, key=key, body=BODY))
        assert put.status_code == 200
        assert put.etag == f'"{BODY_MD5}"'
        got = client.get_object(ossv2.models.GetObjectRequest(bucket=name, key=key))
        assert got.body.read() == BODY
    prefix = keys[0].split("/")[0] + "/" if "/" in keys[0] else None
    listed = client.list_objects_v2(ossv2.models.ListObjectsV2Request(bucket=name, prefix=prefix))
    assert sorted(o.key for o in listed.contents or []) == sorted(keys)


def test_v2_sdk_v1_root(server: TesseraServer) -> None:
    client = client_v1(server)
    name = unique("v2v1")
    client.put_bucket(ossv2.models.PutBucketRequest(bucket=name))
    keys = ["a+b", "with space", "ünïcödé/ключ"]
    _v1_roundtrip(client, name, keys)
    for key in keys:
        client.delete_object(ossv2.models.DeleteObjectRequest(bucket=name, key=key))
    error = v2_error(
        lambda: client.get_object(ossv2.models.GetObjectRequest(bucket=name, key=keys[0]))
    )
    assert (error.status_code, error.code) == (404, "NoSuchKey")
    client.delete_bucket(ossv2.models.DeleteBucketRequest(bucket=name))


def test_v2_sdk_v1_sts(server: TesseraServer, ids: Identities, bucket: oss2.Bucket) -> None:
    bucket.put_object("closed/b", BODY)
    creds = assume(server, ids, bucket.bucket_name, "open/")
    client = client_v1(server, creds)
    _v1_roundtrip(client, bucket.bucket_name, ["open/a", "open/with space"])
    for call in (
        lambda: client.get_object(
            ossv2.models.GetObjectRequest(bucket=bucket.bucket_name, key="closed/b")
        ),
        lambda: client.put_object(
            ossv2.models.PutObjectRequest(bucket=bucket.bucket_name, key="closed/n", body=b"1")
        ),
        lambda: client.delete_object(
            ossv2.models.DeleteObjectRequest(bucket=bucket.bucket_name, key="open/a")
        ),
    ):
        error = v2_error(call)
        assert (error.status_code, error.code) == (403, "AccessDenied")
    # A wrong token is refused: the unsigned header is still checked.
    forged = Credentials(creds.access_key_id, creds.access_key_secret, "not-a-token")
    error = v2_error(
        lambda: client_v1(server, forged).get_object(
            ossv2.models.GetObjectRequest(bucket=bucket.bucket_name, key="open/a")
        )
    )
    assert error.status_code in (400, 403)
