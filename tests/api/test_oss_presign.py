"""Presigned URLs (spec oss.md 2.2 V1, 3.2 V4, 4 STS, 5 order of checks) made by oss2 2.19.1
``sign_url`` and alibabacloud-oss-v2 1.4.1 ``presign``, fetched with plain ``requests``.

Expected: GET returns the stored bytes, PUT stores the body; a URL whose Expires lies in the past
→ 403 AccessDenied (spec 2.2; the time check precedes the signature check, spec 5); a URL whose
Expires (part of the V1 StringToSign) or signature was altered → 403 SignatureDoesNotMatch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import alibabacloud_oss_v2 as ossv2
import oss2
import pytest
import requests

from tests.api.clients import ROOT, Identities, unique
from tests.api.test_oss_sdk import HELLO, REGION, _assume, oss2_auth, oss2_bucket, v2_client
from tests.server import TesseraServer


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, server: TesseraServer) -> Iterator[oss2.Bucket]:
    session = oss2.Session()
    auth = oss2_auth(ROOT, request.param == "v4")
    made = oss2.Bucket(auth, server.url, unique("ps"), session=session, region=REGION)
    made.create_bucket()
    yield made
    for obj in oss2.ObjectIterator(made):
        made.delete_object(obj.key)
    made.delete_bucket()
    session.session.close()


def _code(response: requests.Response) -> str | None:
    return ElementTree.fromstring(response.content).findtext("Code")


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    pairs = [(k, changes.get(k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def _v4(bucket: oss2.Bucket) -> bool:
    return isinstance(bucket.auth, oss2.AuthV4)


def test_presigned_get_and_put(bucket: oss2.Bucket) -> None:
    bucket.put_object("dir/a b+c.txt", HELLO)
    url = bucket.sign_url("GET", "dir/a b+c.txt", 60)
    assert ("x-oss-signature=" in url) is _v4(bucket)
    got = requests.get(url, timeout=10)
    assert (got.status_code, got.content) == (200, HELLO)
    put_url = bucket.sign_url("PUT", "uploaded.bin", 60)
    stored = requests.put(put_url, data=b"presigned body", timeout=10)
    assert stored.status_code == 200, stored.content
    assert bucket.get_object("uploaded.bin").read() == b"presigned body"
    # the signature covers the method: a GET URL cannot be used to PUT
    wrong = requests.put(url, data=b"x", timeout=10)
    assert (wrong.status_code, _code(wrong)) == (403, "SignatureDoesNotMatch")
    assert bucket.get_object("dir/a b+c.txt").read() == HELLO


def test_expired_and_tampered_urls(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", HELLO)
    if _v4(bucket):
        short = bucket.sign_url("GET", "k", 1)  # x-oss-date + 1 s: expired after the sleep
        time.sleep(2.1)
        reply = requests.get(short, timeout=10)
        assert (reply.status_code, _code(reply)) == (403, "AccessDenied")
        url = bucket.sign_url("GET", "k", 60)
        longer = requests.get(_with_query(url, **{"x-oss-expires": "600"}), timeout=10)
        assert (longer.status_code, _code(longer)) == (403, "SignatureDoesNotMatch")
        signature = dict(parse_qsl(urlsplit(url).query))["x-oss-signature"]
        tampered = _with_query(url, **{"x-oss-signature": "0" * len(signature)})
    else:
        past = bucket.sign_url("GET", "k", -30)  # validly signed, Expires 30 s ago
        reply = requests.get(past, timeout=10)
        assert (reply.status_code, _code(reply)) == (403, "AccessDenied")
        assert "expired" in (ElementTree.fromstring(reply.content).findtext("Message") or "")
        url = bucket.sign_url("GET", "k", 60)
        expires = int(dict(parse_qsl(urlsplit(url).query))["Expires"])
        moved = requests.get(_with_query(url, Expires=str(expires + 100)), timeout=10)
        assert (moved.status_code, _code(moved)) == (403, "SignatureDoesNotMatch")
        signature = dict(parse_qsl(urlsplit(url).query))["Signature"]
        flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
        tampered = _with_query(url, Signature=flipped)
    reply = requests.get(tampered, timeout=10)
    assert (reply.status_code, _code(reply)) == (403, "SignatureDoesNotMatch")
    other_key = url.replace("/k?", "/other?")
    reply = requests.get(other_key, timeout=10)
    assert (reply.status_code, _code(reply)) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("v4", [False, True], ids=["v1", "v4"])
def test_presigned_with_sts_token(server: TesseraServer, ids: Identities, v4: bool) -> None:
    owner = oss2_bucket(server, ROOT, unique("pssts"), v4=False)
    owner.create_bucket()
    try:
        owner.put_object("open/a", HELLO)
        owner.put_object("closed/b", HELLO)
        creds = _assume(server, ids, owner.bucket_name, "open/")
        session = oss2_bucket(server, creds, owner.bucket_name, v4=v4)
        url = session.sign_url("GET", "open/a", 60)
        assert "security-token=" in url
        got = requests.get(url, timeout=10)
        assert (got.status_code, got.content) == (200, HELLO)
        denied = requests.get(session.sign_url("GET", "closed/b", 60), timeout=10)
        assert (denied.status_code, _code(denied)) == (403, "AccessDenied")
    finally:
        for key in ("open/a", "closed/b"):
            owner.delete_object(key)
        owner.delete_bucket()


def test_v2_sdk_presign(server: TesseraServer, bucket: oss2.Bucket) -> None:
    bucket.put_object("v2/obj", HELLO)
    client = v2_client(server)
    signed = client.presign(ossv2.models.GetObjectRequest(bucket=bucket.bucket_name, key="v2/obj"))
    assert signed.method == "GET"
    got = requests.get(signed.url, headers=signed.signed_headers or {}, timeout=10)
    assert (got.status_code, got.content) == (200, HELLO)
    put = client.presign(ossv2.models.PutObjectRequest(bucket=bucket.bucket_name, key="v2/put"))
    stored = requests.put(put.url, data=b"v2 body", headers=put.signed_headers or {}, timeout=10)
    assert stored.status_code == 200, stored.content
    assert bucket.get_object("v2/put").read() == b"v2 body"


def test_reused_url_is_checked_on_every_use(bucket: oss2.Bucket) -> None:
    """An identical presigned request is verified once (``SignatureMemo``), yet its expiry and
    the headers it signs are checked on every use."""
    bucket.put_object("k", HELLO)
    url = bucket.sign_url("GET", "k", 3)  # V1: Expires = now + 3 s; V4: x-oss-expires = 3
    for _ in range(3):
        got = requests.get(url, timeout=10)
        assert (got.status_code, got.content) == (200, HELLO)
    # a signed header (x-oss-*) the URL was not signed with: the memo does not answer for it
    extra = requests.get(url, headers={"x-oss-meta-extra": "1"}, timeout=10)
    assert (extra.status_code, _code(extra)) == (403, "SignatureDoesNotMatch")
    time.sleep(4.1)
    expired = requests.get(url, timeout=10)
    assert (expired.status_code, _code(expired)) == (403, "AccessDenied")
    assert "expired" in (ElementTree.fromstring(expired.content).findtext("Message") or "")


@pytest.mark.parametrize("v4", [False, True], ids=["v1", "v4"])
def test_reused_url_fails_once_its_key_is_disabled(
    server: TesseraServer, ids: Identities, v4: bool
) -> None:
    user = ids.user("psoff", system=("AliyunOSSFullAccess",))
    owned = oss2_bucket(server, user.creds, unique("psoff"), v4=v4)
    owned.create_bucket()
    try:
        owned.put_object("k", HELLO)
        url = owned.sign_url("GET", "k", 600)
        for _ in range(2):
            got = requests.get(url, timeout=10)
            assert (got.status_code, got.content) == (200, HELLO)
        ids.ram(
            "UpdateAccessKey",
            user_name=user.name,
            user_access_key_id=user.creds.access_key_id,
            status="Inactive",
        )
        refused = requests.get(url, timeout=10)
        assert (refused.status_code, _code(refused)) == (403, "InvalidAccessKeyId")
    finally:
        ids.ram(
            "UpdateAccessKey",
            user_name=user.name,
            user_access_key_id=user.creds.access_key_id,
            status="Active",
        )
        owned.delete_object("k")
        owned.delete_bucket()
