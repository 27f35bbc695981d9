"""oss2 2.19.1 against a real server: the matrix cells the other OSS test modules leave out for
this SDK (issue 3 §5).

Covered here: signature V2 (``AuthV2``) for ranges and conditions, listing pages followed by
marker and continuation token, multipart, AppendObject, CopyObject, bucket and object ACLs and
presigned PUT; for V1, V2 and V4 alike: dot-segment keys (``../x``, which oss2 sends as
``..%2Fx``) and the other awkward keys, ``resumable_upload``/``resumable_download`` resumed
after an interruption, RAM users and STS tokens without a session policy.

Expected values come from the test's own data and spec/oss.md: ETag = upper-case MD5 (1),
multipart ETag ``MD5(part MD5s)-N`` (9), CRC-64 from oss2's crcmod (7.3), codes and statuses (6).
Must not: share buckets with other modules (every test makes its own).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
import requests
from oss2.models import PartInfo

from tests.api.clients import ROOT, Identities, session_creds, sts_api, unique
from tests.api.rawrpc import Credentials
from tests.api.test_oss_multipart import MIN_PART, _cleanup, crc64, expected_etag
from tests.api.test_oss_sdk import REGION, oss2_error
from tests.server import TesseraServer

BODY = b"oss2 matrix \xe2\x9c\x93 body"
BODY_MD5 = hashlib.md5(BODY).hexdigest().upper()
KEYS = [
    "../x",
    "a/../b",
    "./y",
    "a+b",
    "with space/and more",
    "100%/done",
    "ünïcödé/ключ",
    "emoji/😀🚀",
    "q?x=1&y=#frag",
    "k" * 1023,
]
LIST_KEYS = ["a/1", "a/2", "a/b/3", "b/4", "c", "d+e", "ü/5"]


def auth_for(creds: Credentials, version: str) -> Any:
    if creds.security_token:
        return oss2.StsAuth(
            creds.access_key_id, creds.access_key_secret, creds.security_token, version
        )
    kinds = {"v1": oss2.Auth, "v2": oss2.AuthV2, "v4": oss2.AuthV4}
    return kinds[version](creds.access_key_id, creds.access_key_secret)


_SESSIONS: list[oss2.Session] = []


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    """Every Bucket of a test gets its own pool, closed when the test ends: no keep-alive
    socket is left for the garbage collector (pytest runs with filterwarnings=error)."""
    yield
    while _SESSIONS:
        _SESSIONS.pop().session.close()


def _session() -> oss2.Session:
    _SESSIONS.append(oss2.Session())
    return _SESSIONS[-1]


def bucket_for(server: TesseraServer, creds: Credentials, name: str, version: str) -> oss2.Bucket:
    auth = auth_for(creds, version)
    return oss2.Bucket(auth, server.url, name, region=REGION, session=_session())


def _complete(bucket: oss2.Bucket, key: str, upload_id: str, parts: list[PartInfo]) -> Any:
    """oss2 leaves the CompleteMultipartUploadResult body unread (its socket would leak until
    garbage collection); read it here."""
    result = bucket.complete_multipart_upload(key, upload_id, parts)
    assert b"<CompleteMultipartUploadResult" in result.resp.read()
    return result


def _copy(bucket: oss2.Bucket, *args: Any, **kwargs: Any) -> Any:
    result = bucket.copy_object(*args, **kwargs)
    assert b"<CopyObjectResult>" in result.resp.read()
    return result


@pytest.fixture(params=["v1", "v2", "v4"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bucket(server: TesseraServer, version: str) -> Iterator[oss2.Bucket]:
    made = bucket_for(server, ROOT, unique("o2m"), version)
    made.create_bucket()
    yield made
    _cleanup(made)


@pytest.fixture
def v2bucket(server: TesseraServer) -> Iterator[oss2.Bucket]:
    made = bucket_for(server, ROOT, unique("o2v2"), "v2")
    made.create_bucket()
    yield made
    _cleanup(made)


# ---- keys, every signature version -----------------------------------------------------------


@pytest.mark.parametrize("key", KEYS, ids=range(len(KEYS)))
def test_awkward_and_dot_segment_keys(bucket: oss2.Bucket, key: str) -> None:
    assert bucket.put_object(key, BODY).etag == BODY_MD5
    assert bucket.get_object(key).read() == BODY
    assert bucket.head_object(key).content_length == len(BODY)
    assert [o.key for o in oss2.ObjectIterator(bucket)] == [key]  # nothing else was written
    _copy(bucket, bucket.bucket_name, key, "copied")
    assert bucket.get_object("copied").read() == BODY
    fetched = requests.get(bucket.sign_url("GET", key, 60), timeout=10)
    assert (fetched.status_code, fetched.content) == (200, BODY)
    bucket.delete_object(key)
    error = oss2_error(lambda: bucket.get_object(key))
    assert (error.status, error.code) == (404, "NoSuchKey")


# ---- signature V2: the features test_oss_auth_versions.py leaves out --------------------------


def test_v2_ranges_and_conditions(v2bucket: oss2.Bucket) -> None:
    v2bucket.put_object("r", b"hello world")
    part = v2bucket.get_object("r", byte_range=(6, None))
    assert (part.status, part.read(), part.headers["Content-Range"]) == (
        206,
        b"world",
        "bytes 6-10/11",
    )
    standard = {"x-oss-range-behavior": "standard"}
    error = oss2_error(lambda: v2bucket.get_object("r", byte_range=(50, 60), headers=standard))
    assert (error.status, error.code) == (416, "InvalidRange")
    etag = f'"{hashlib.md5(b"hello world").hexdigest().upper()}"'
    assert v2bucket.get_object("r", headers={"If-Match": etag}).read() == b"hello world"
    error = oss2_error(lambda: v2bucket.get_object("r", headers={"If-Match": '"00"'}))
    assert (error.status, error.code) == (412, "PreconditionFailed")
    with pytest.raises(oss2.exceptions.NotModified):
        v2bucket.get_object("r", headers={"If-None-Match": etag})
    past = "Mon, 01 Jan 2001 00:00:00 GMT"
    error = oss2_error(lambda: v2bucket.get_object("r", headers={"If-Unmodified-Since": past}))
    assert (error.status, error.code) == (412, "PreconditionFailed")


def test_v2_listing_pages(v2bucket: oss2.Bucket) -> None:
    for key in LIST_KEYS:
        v2bucket.put_object(key, b"x")
    page = v2bucket.list_objects(max_keys=3)
    assert (page.is_truncated, page.next_marker) == (True, "a/b/3")
    after = v2bucket.list_objects(marker=page.next_marker, max_keys=3)
    assert [o.key for o in after.object_list] == ["b/4", "c", "d+e"]
    assert [o.key for o in oss2.ObjectIterator(v2bucket, max_keys=2)] == LIST_KEYS
    assert [o.key for o in oss2.ObjectIteratorV2(v2bucket, max_keys=2)] == LIST_KEYS
    first = v2bucket.list_objects_v2(max_keys=2)
    rest = v2bucket.list_objects_v2(continuation_token=first.next_continuation_token)
    assert [o.key for o in first.object_list + rest.object_list] == LIST_KEYS
    grouped = oss2.ObjectIterator(v2bucket, delimiter="/", max_keys=1)
    assert [(o.key, o.is_prefix()) for o in grouped] == [
        ("a/", True),
        ("b/", True),
        ("c", False),
        ("d+e", False),
        ("ü/", True),
    ]


def test_v2_multipart(v2bucket: oss2.Bucket) -> None:
    gone = v2bucket.init_multipart_upload("aborted").upload_id
    v2bucket.abort_multipart_upload("aborted", gone)
    assert list(oss2.MultipartUploadIterator(v2bucket)) == []
    error = oss2_error(lambda: v2bucket.list_parts("aborted", gone))
    assert (error.status, error.code) == (404, "NoSuchUpload")
    parts = [os.urandom(MIN_PART), b"end"]
    upload_id = v2bucket.init_multipart_upload("mp ü").upload_id
    infos = []
    for number, data in enumerate(parts, start=1):
        result = v2bucket.upload_part("mp ü", upload_id, number, data)
        assert result.etag == hashlib.md5(data).hexdigest().upper()
        infos.append(PartInfo(number, result.etag))
    listed = v2bucket.list_parts("mp ü", upload_id).parts
    assert [(p.part_number, p.size) for p in listed] == [(1, MIN_PART), (2, 3)]
    done = _complete(v2bucket, "mp ü", upload_id, infos)
    assert done.etag == expected_etag(parts)
    assert v2bucket.get_object("mp ü").read() == b"".join(parts)


def test_v2_append(v2bucket: oss2.Bucket) -> None:
    one = v2bucket.append_object("log", 0, b"first;", init_crc=0)
    two = v2bucket.append_object("log", one.next_position, b"second;", init_crc=one.crc)
    assert (two.next_position, two.crc) == (13, crc64(b"first;second;"))
    got = v2bucket.get_object("log")
    assert (got.read(), got.headers["x-oss-object-type"]) == (b"first;second;", "Appendable")
    error = oss2_error(lambda: v2bucket.append_object("log", 1, b"x"))
    assert (error.status, error.code) == (409, "PositionNotEqualToLength")
    v2bucket.put_object("normal", BODY)
    error = oss2_error(lambda: v2bucket.append_object("normal", len(BODY), b"x"))
    assert (error.status, error.code) == (409, "ObjectNotAppendable")


def test_v2_copy(server: TesseraServer, v2bucket: oss2.Bucket) -> None:
    source = "src/o b+c%ü"
    v2bucket.put_object(source, BODY, headers={"x-oss-meta-color": "blue"})
    assert _copy(v2bucket, v2bucket.bucket_name, source, "dst").etag == BODY_MD5
    head = v2bucket.head_object("dst")
    assert head.headers["x-oss-meta-color"] == "blue"
    _copy(
        v2bucket,
        v2bucket.bucket_name,
        source,
        "replaced",
        headers={"x-oss-metadata-directive": "REPLACE", "x-oss-meta-shape": "round"},
    )
    head = v2bucket.head_object("replaced")
    assert head.headers["x-oss-meta-shape"] == "round" and "x-oss-meta-color" not in head.headers
    error = oss2_error(lambda: _copy(v2bucket, v2bucket.bucket_name, "missing", "x"))
    assert (error.status, error.code) == (404, "NoSuchKey")
    error = oss2_error(
        lambda: _copy(
            v2bucket,
            v2bucket.bucket_name,
            source,
            "x",
            headers={"x-oss-copy-source-if-match": '"00"'},
        )
    )
    assert (error.status, error.code) == (412, "PreconditionFailed")
    assert not v2bucket.object_exists("x")


def test_v2_acls(server: TesseraServer, v2bucket: oss2.Bucket) -> None:
    v2bucket.put_object("k", BODY)
    anonymous = oss2.Bucket(
        oss2.AnonymousAuth(), server.url, v2bucket.bucket_name, session=_session()
    )
    assert v2bucket.get_bucket_acl().acl == "private"
    error = oss2_error(lambda: anonymous.get_object("k"))
    assert (error.status, error.code) == (403, "AccessDenied")
    v2bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert v2bucket.get_bucket_acl().acl == "public-read"
    assert anonymous.get_object("k").read() == BODY
    v2bucket.put_object_acl("k", oss2.OBJECT_ACL_PRIVATE)
    assert v2bucket.get_object_acl("k").acl == "private"
    error = oss2_error(lambda: anonymous.get_object("k"))
    assert (error.status, error.code) == (403, "AccessDenied")
    v2bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    assert v2bucket.get_bucket_acl().acl == "public-read-write"
    anonymous.put_object("anon", b"anonymous")
    assert v2bucket.get_object("anon").read() == b"anonymous"
    v2bucket.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    error = oss2_error(lambda: v2bucket.put_object_acl("k", "everyone"))
    assert (error.status, error.code) == (400, "InvalidArgument")
    assert v2bucket.get_object_acl("k").acl == "private"


def test_v2_presigned_put(v2bucket: oss2.Bucket) -> None:
    url = v2bucket.sign_url("PUT", "put/ü a+b", 60, headers={"Content-Type": "text/x-v2"})
    assert "x-oss-signature-version=OSS2" in url
    stored = requests.put(
        url, data=b"presigned v2", headers={"Content-Type": "text/x-v2"}, timeout=10
    )
    assert stored.status_code == 200, stored.text
    got = v2bucket.get_object("put/ü a+b")
    assert (got.read(), got.headers["Content-Type"]) == (b"presigned v2", "text/x-v2")
    wrong_type = requests.put(url, data=b"x", headers={"Content-Type": "text/plain"}, timeout=10)
    assert wrong_type.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in wrong_type.text
    assert v2bucket.get_object("put/ü a+b").read() == b"presigned v2"


# ---- resumable helpers, interrupted and resumed ----------------------------------------------


class Interrupted(Exception):
    """Raised by a progress callback to cut a transfer short."""


def test_resumable_upload_and_download_resume(bucket: oss2.Bucket, tmp_path: Path) -> None:
    data = os.urandom(6 * MIN_PART + 55)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    store = oss2.ResumableStore(root=str(tmp_path))

    def stop(consumed: int, total: int | None) -> None:
        if consumed >= 3 * MIN_PART:
            raise Interrupted(consumed)

    upload = {
        "store": store,
        "multipart_threshold": MIN_PART,
        "part_size": MIN_PART,
        "num_threads": 1,
    }
    with pytest.raises(Interrupted):
        oss2.resumable_upload(bucket, "big ü", str(source), progress_callback=stop, **upload)
    [pending] = list(oss2.MultipartUploadIterator(bucket))
    before = [p.part_number for p in oss2.PartIterator(bucket, "big ü", pending.upload_id)]
    assert before == [1, 2, 3]
    reported: list[int] = []
    oss2.resumable_upload(
        bucket, "big ü", str(source), progress_callback=lambda c, t: reported.append(c), **upload
    )
    assert reported[0] == 3 * MIN_PART  # the first report counts the parts already there
    assert list(oss2.MultipartUploadIterator(bucket)) == []
    pieces = [data[i : i + MIN_PART] for i in range(0, len(data), MIN_PART)]
    head = bucket.head_object("big ü")
    assert (head.etag, head.object_type) == (expected_etag(pieces), "Multipart")

    target = tmp_path / "back.bin"
    download = {
        "store": oss2.ResumableDownloadStore(root=str(tmp_path)),
        "multiget_threshold": MIN_PART,
        "part_size": MIN_PART,
        "num_threads": 1,
    }
    with pytest.raises(Interrupted):
        oss2.resumable_download(bucket, "big ü", str(target), progress_callback=stop, **download)
    assert not target.exists()
    reported.clear()
    oss2.resumable_download(
        bucket, "big ü", str(target), progress_callback=lambda c, t: reported.append(c), **download
    )
    assert reported[0] == 3 * MIN_PART
    assert target.read_bytes() == data


# ---- credentials -----------------------------------------------------------------------------


def _full_access_round(caller: oss2.Bucket, owner: oss2.Bucket) -> None:
    caller.put_object("by caller/ü", BODY)
    assert caller.get_object("by caller/ü", byte_range=(0, 3)).read() == BODY[:4]
    _copy(caller, caller.bucket_name, "by caller/ü", "copy")
    caller.append_object("app", 0, b"a")
    caller.put_object_acl("copy", oss2.OBJECT_ACL_PUBLIC_READ)
    assert caller.get_object_acl("copy").acl == "public-read"
    assert sorted(o.key for o in oss2.ObjectIterator(caller)) == ["app", "by caller/ü", "copy"]
    assert requests.get(caller.sign_url("GET", "copy", 60), timeout=10).content == BODY
    upload_id = caller.init_multipart_upload("mp").upload_id
    part = caller.upload_part("mp", upload_id, 1, b"part")
    _complete(caller, "mp", upload_id, [PartInfo(1, part.etag)])
    assert owner.get_object("mp").read() == b"part"
    caller.delete_object("mp")
    assert not owner.object_exists("mp")


def test_sts_token_without_session_policy(
    server: TesseraServer, ids: Identities, bucket: oss2.Bucket, version: str
) -> None:
    role = ids.role("o2role", system=("AliyunOSSFullAccess",))
    broker = ids.user("o2broker", system=("AliyunSTSAssumeRoleAccess",))
    creds = session_creds(
        sts_api(server, broker.creds)("AssumeRole", role_arn=role.arn, role_session_name="o2")
    )
    _full_access_round(bucket_for(server, creds, bucket.bucket_name, version), bucket)


def test_ram_users_with_v2(server: TesseraServer, ids: Identities, v2bucket: oss2.Bucket) -> None:
    full = ids.user("o2full", system=("AliyunOSSFullAccess",))
    _full_access_round(bucket_for(server, full.creds, v2bucket.bucket_name, "v2"), v2bucket)
    reader = bucket_for(
        server,
        ids.user("o2ro", system=("AliyunOSSReadOnlyAccess",)).creds,
        v2bucket.bucket_name,
        "v2",
    )
    assert reader.get_object("copy").read() == BODY
    assert reader.get_bucket_acl().acl == "private"
    for call in (
        lambda: reader.put_object("nope", b"1"),
        lambda: reader.delete_object("copy"),
        lambda: reader.put_object_acl("copy", oss2.OBJECT_ACL_PRIVATE),
        lambda: reader.append_object("app", 1, b"x"),
    ):
        error = oss2_error(call)
        assert (error.status, error.code) == (403, "AccessDenied")
    assert v2bucket.get_object("app").read() == b"a"
