"""Multipart upload (spec oss.md 9) driven by oss2 2.19.1 (V1 and V4) and alibabacloud-oss-v2
1.4.1 against a real server.

Expected values are computed here, independently of the server: part ETags are the upper-case
MD5 of the part (spec 9), the object ETag is ``MD5(concatenated binary part MD5s)-N`` (spec 9,
the usual construction), CRC-64/XZ comes from oss2's own ``Crc64`` (crcmod), and error codes and
statuses are those of spec 9 and 6.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import alibabacloud_oss_v2 as ossv2
import oss2
import pytest
from oss2.models import PartInfo

from tests.api.clients import ROOT, unique
from tests.api.test_oss_sdk import REGION, oss2_auth, oss2_error, v2_client, v2_error
from tests.server import TesseraServer

KIB = 1024
MIN_PART = 100 * KIB  # spec 9: every part but the last is at least 102400 bytes


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def expected_etag(parts: list[bytes]) -> str:
    combined = b"".join(hashlib.md5(part).digest() for part in parts)
    return f"{hashlib.md5(combined).hexdigest().upper()}-{len(parts)}"


def crc64(data: bytes) -> int:
    crc = oss2.utils.Crc64(0)
    crc.update(data)
    return int(crc.crc)


def _cleanup(bucket: oss2.Bucket) -> None:
    for upload in oss2.MultipartUploadIterator(bucket):
        bucket.abort_multipart_upload(upload.key, upload.upload_id)
    for obj in oss2.ObjectIterator(bucket):
        bucket.delete_object(obj.key)
    bucket.delete_bucket()


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, server: TesseraServer) -> Iterator[oss2.Bucket]:
    """A fresh bucket of the root account; oss2 with CRC checks on, V1 or V4 signatures."""
    session = oss2.Session()
    auth = oss2_auth(ROOT, request.param == "v4")
    made = oss2.Bucket(auth, server.url, unique("mp"), session=session, region=REGION)
    made.create_bucket()
    yield made
    _cleanup(made)
    session.session.close()  # no keep-alive socket left for the garbage collector


def _payload(size: int) -> bytes:
    return os.urandom(size)


def _upload(bucket: oss2.Bucket, key: str, parts: list[bytes]) -> tuple[str, list[PartInfo]]:
    upload_id = bucket.init_multipart_upload(key).upload_id
    infos = []
    for number, data in enumerate(parts, start=1):
        result = bucket.upload_part(key, upload_id, number, data)
        infos.append(PartInfo(number, result.etag))
    return upload_id, infos


# ---- the life cycle --------------------------------------------------------------------------


def test_initiate_upload_list_complete_and_read_back(bucket: oss2.Bucket) -> None:
    key = "dir/big object.bin"
    parts = [_payload(MIN_PART + 1), _payload(150 * KIB), _payload(10)]
    whole = b"".join(parts)
    init = bucket.init_multipart_upload(
        key, headers={"Content-Type": "text/x-parts", "x-oss-meta-color": "blue"}
    )
    upload_id = init.upload_id
    assert upload_id
    infos = []
    for number, data in enumerate(parts, start=1):
        result = bucket.upload_part(key, upload_id, number, data)  # oss2 checks the part CRC
        assert result.etag == md5_hex(data)
        assert result.crc == crc64(data)
        infos.append(PartInfo(number, result.etag))

    first = bucket.list_parts(key, upload_id, max_parts=2)
    assert [p.part_number for p in first.parts] == [1, 2]
    assert first.is_truncated and first.next_marker == "2"  # oss2 keeps the text
    assert [p.size for p in first.parts] == [len(parts[0]), len(parts[1])]
    assert [p.etag for p in first.parts] == [md5_hex(parts[0]), md5_hex(parts[1])]
    rest = bucket.list_parts(
        key, upload_id, marker="2", max_parts=2
    )  # oss2 V4 signs str params only
    assert [p.part_number for p in rest.parts] == [3]
    assert not rest.is_truncated
    every = list(oss2.PartIterator(bucket, key, upload_id, max_parts=1))
    assert [p.part_number for p in every] == [1, 2, 3]

    listed = list(oss2.MultipartUploadIterator(bucket))
    assert [(u.key, u.upload_id) for u in listed] == [(key, upload_id)]

    done = bucket.complete_multipart_upload(key, upload_id, infos)
    assert done.etag == expected_etag(parts)
    assert done.crc == crc64(whole)
    assert list(oss2.MultipartUploadIterator(bucket)) == []

    with bucket.get_object(key) as got:  # oss2 checks the whole-object CRC while reading
        assert got.read() == whole
    assert got.etag == expected_etag(parts)
    assert got.headers["x-oss-object-type"] == "Multipart"
    assert got.headers["Content-Type"] == "text/x-parts"
    assert got.headers["x-oss-meta-color"] == "blue"
    assert int(got.headers["x-oss-hash-crc64ecma"]) == crc64(whole)
    with bucket.get_object(key, byte_range=(MIN_PART - 5, MIN_PART + 5)) as ranged:
        assert ranged.read() == whole[MIN_PART - 5 : MIN_PART + 6]


def test_a_single_small_part_completes(bucket: oss2.Bucket) -> None:
    upload_id, infos = _upload(bucket, "one", [b"tiny"])
    done = bucket.complete_multipart_upload("one", upload_id, infos)
    assert done.etag == expected_etag([b"tiny"])
    assert bucket.get_object("one").read() == b"tiny"


def test_reuploaded_part_replaces_the_old_one(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("re").upload_id
    old = bucket.upload_part("re", upload_id, 1, b"first version")
    new = bucket.upload_part("re", upload_id, 1, b"second")
    parts = bucket.list_parts("re", upload_id).parts
    assert [(p.part_number, p.etag, p.size) for p in parts] == [(1, md5_hex(b"second"), 6)]
    error = oss2_error(
        lambda: bucket.complete_multipart_upload("re", upload_id, [PartInfo(1, old.etag)])
    )
    assert (error.status, error.code) == (400, "InvalidPart")
    bucket.complete_multipart_upload("re", upload_id, [PartInfo(1, new.etag)])
    assert bucket.get_object("re").read() == b"second"


def test_complete_over_an_existing_object_and_forbid_overwrite(bucket: oss2.Bucket) -> None:
    bucket.put_object("k", b"old body")
    upload_id, infos = _upload(bucket, "k", [b"new body"])
    error = oss2_error(
        lambda: bucket.complete_multipart_upload(
            "k", upload_id, infos, headers={"x-oss-forbid-overwrite": "true"}
        )
    )
    assert (error.status, error.code) == (409, "FileAlreadyExists")
    assert bucket.get_object("k").read() == b"old body"
    bucket.complete_multipart_upload("k", upload_id, infos)
    assert bucket.get_object("k").read() == b"new body"


def test_complete_all_header_uses_every_part(bucket: oss2.Bucket) -> None:
    parts = [_payload(MIN_PART), b"tail"]
    upload_id, _ = _upload(bucket, "all", parts)
    done = bucket.complete_multipart_upload(
        "all", upload_id, None, headers={"x-oss-complete-all": "yes"}
    )
    assert done.etag == expected_etag(parts)
    assert bucket.get_object("all").read() == b"".join(parts)


def test_abort_discards_the_upload(bucket: oss2.Bucket) -> None:
    upload_id, _ = _upload(bucket, "gone", [b"a", b"b"])
    bucket.abort_multipart_upload("gone", upload_id)
    assert list(oss2.MultipartUploadIterator(bucket)) == []
    for call in (
        lambda: bucket.list_parts("gone", upload_id),
        lambda: bucket.upload_part("gone", upload_id, 1, b"x"),
        lambda: bucket.abort_multipart_upload("gone", upload_id),
        lambda: bucket.complete_multipart_upload("gone", upload_id, [PartInfo(1, md5_hex(b"a"))]),
    ):
        error = oss2_error(call)
        assert (error.status, error.code) == (404, "NoSuchUpload")
    assert not bucket.object_exists("gone")


def test_list_multipart_uploads_prefix_delimiter_and_paging(bucket: oss2.Bucket) -> None:
    ids: dict[str, list[str]] = {}
    for key in ["a/1", "a/2", "b", "b", "c/x/y"]:
        ids.setdefault(key, []).append(bucket.init_multipart_upload(key).upload_id)
    expected = sorted((key, upload_id) for key, found in ids.items() for upload_id in found)

    every = list(oss2.MultipartUploadIterator(bucket, max_uploads=1))
    assert sorted((u.key, u.upload_id) for u in every) == expected
    assert [u.key for u in every] == sorted(u.key for u in every)

    page = bucket.list_multipart_uploads(max_uploads=3)
    assert page.is_truncated
    assert [u.key for u in page.upload_list] == ["a/1", "a/2", "b"]
    rest = bucket.list_multipart_uploads(
        key_marker=page.next_key_marker, upload_id_marker=page.next_upload_id_marker
    )
    assert not rest.is_truncated
    got = [(u.key, u.upload_id) for u in page.upload_list + rest.upload_list]
    assert sorted(got) == expected and len(got) == len(expected)

    grouped = bucket.list_multipart_uploads(delimiter="/")
    assert [u.key for u in grouped.upload_list] == ["b", "b"]
    assert grouped.prefix_list == ["a/", "c/"]
    prefixed = bucket.list_multipart_uploads(prefix="a/")
    assert [u.key for u in prefixed.upload_list] == ["a/1", "a/2"]
    nested = bucket.list_multipart_uploads(prefix="c/", delimiter="/")
    assert (nested.upload_list, nested.prefix_list) == ([], ["c/x/"])


# ---- the SDKs' helpers -----------------------------------------------------------------------


def test_oss2_resumable_upload(bucket: oss2.Bucket, tmp_path: Path) -> None:
    data = _payload(1024 * KIB + 321)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    result = oss2.resumable_upload(
        bucket,
        "resumable.bin",
        str(source),
        store=oss2.ResumableStore(root=str(tmp_path)),
        multipart_threshold=200 * KIB,
        part_size=MIN_PART,
        num_threads=3,
    )
    pieces = [data[i : i + MIN_PART] for i in range(0, len(data), MIN_PART)]
    assert len(pieces) == 11
    assert result.etag == expected_etag(pieces)
    with bucket.get_object("resumable.bin") as got:
        assert got.read() == data
    assert got.headers["x-oss-object-type"] == "Multipart"
    assert list(oss2.MultipartUploadIterator(bucket)) == []

    target = tmp_path / "back.bin"
    oss2.resumable_download(
        bucket,
        "resumable.bin",
        str(target),
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
        multiget_threshold=200 * KIB,
        part_size=300 * KIB,
        num_threads=2,
    )
    assert target.read_bytes() == data


def test_v2_uploader(server: TesseraServer, tmp_path: Path) -> None:
    client = v2_client(server)
    name = unique("mp2")
    client.put_bucket(ossv2.models.PutBucketRequest(bucket=name))
    data = _payload(700 * KIB + 7)
    source = tmp_path / "v2.bin"
    source.write_bytes(data)
    try:
        uploader = client.uploader(part_size=MIN_PART, parallel_num=3)
        result = uploader.upload_file(
            ossv2.models.PutObjectRequest(bucket=name, key="via-v2"), str(source)
        )
        pieces = [data[i : i + MIN_PART] for i in range(0, len(data), MIN_PART)]
        assert result.etag.strip('"') == expected_etag(pieces)
        assert int(result.hash_crc64) == crc64(data)
        got = client.get_object(ossv2.models.GetObjectRequest(bucket=name, key="via-v2"))
        assert got.body.read() == data
        assert got.object_type == "Multipart"
    finally:
        client.delete_object(ossv2.models.DeleteObjectRequest(bucket=name, key="via-v2"))
        client.delete_bucket(ossv2.models.DeleteBucketRequest(bucket=name))


# ---- errors ----------------------------------------------------------------------------------


def test_parts_out_of_order_are_refused(bucket: oss2.Bucket, server: TesseraServer) -> None:
    """oss2 sorts the parts itself, so alibabacloud-oss-v2 sends the unordered lists."""
    upload_id, infos = _upload(bucket, "order", [_payload(MIN_PART), b"end"])
    client = v2_client(server)
    named = [ossv2.models.UploadPart(part_number=p.part_number, etag=p.etag) for p in infos]
    for bad in ([named[1], named[0]], [named[0], named[0], named[1]]):
        request = ossv2.models.CompleteMultipartUploadRequest(
            bucket=bucket.bucket_name,
            key="order",
            upload_id=upload_id,
            complete_multipart_upload=ossv2.models.CompleteMultipartUpload(parts=bad),
        )
        error = v2_error(lambda request=request: client.complete_multipart_upload(request))
        assert (error.status_code, error.code) == (400, "InvalidPartOrder")
    assert not bucket.object_exists("order")


def test_unknown_part_or_wrong_etag_is_invalid_part(bucket: oss2.Bucket) -> None:
    upload_id, infos = _upload(bucket, "etag", [_payload(MIN_PART), b"end"])
    wrong = [infos[0], PartInfo(2, md5_hex(b"something else"))]
    missing = [infos[0], infos[1], PartInfo(3, md5_hex(b"never sent"))]
    for bad in (wrong, missing):
        error = oss2_error(lambda bad=bad: bucket.complete_multipart_upload("etag", upload_id, bad))
        assert (error.status, error.code) == (400, "InvalidPart")
    assert not bucket.object_exists("etag")
    # the upload survives a refused completion
    bucket.complete_multipart_upload("etag", upload_id, infos)
    assert bucket.object_exists("etag")


def test_small_part_before_the_last_is_entity_too_small(bucket: oss2.Bucket) -> None:
    upload_id, infos = _upload(bucket, "small", [_payload(MIN_PART - 1), b"end"])
    error = oss2_error(lambda: bucket.complete_multipart_upload("small", upload_id, infos))
    assert (error.status, error.code) == (400, "EntityTooSmall")
    assert not bucket.object_exists("small")


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_out_of_range(bucket: oss2.Bucket, number: int) -> None:
    upload_id = bucket.init_multipart_upload("pn").upload_id
    error = oss2_error(lambda: bucket.upload_part("pn", upload_id, number, b"x"))
    assert (error.status, error.code) == (400, "InvalidArgument")
    assert error.details["ArgumentName"] == "PartNumber"
    assert bucket.list_parts("pn", upload_id).parts == []


def test_wrong_content_md5_is_invalid_digest(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("md5").upload_id
    wrong = oss2.utils.content_md5(b"other")
    error = oss2_error(
        lambda: bucket.upload_part("md5", upload_id, 1, b"body", headers={"Content-MD5": wrong})
    )
    assert (error.status, error.code) == (400, "InvalidDigest")
    assert bucket.list_parts("md5", upload_id).parts == []
    good = oss2.utils.content_md5(b"body")
    bucket.upload_part("md5", upload_id, 1, b"body", headers={"Content-MD5": good})


def test_unknown_upload_id_is_no_such_upload(bucket: oss2.Bucket) -> None:
    error = oss2_error(lambda: bucket.upload_part("k", "0" * 32, 1, b"x"))
    assert (error.status, error.code) == (404, "NoSuchUpload")
    error = oss2_error(lambda: bucket.list_parts("k", "0" * 32))
    assert (error.status, error.code) == (404, "NoSuchUpload")
