"""UploadPartCopy (spec oss.md 9, copy-source conditions of 7.5) driven by oss2 2.19.1, V1 and
V4: parts copied from ranges of a source object (same bucket and another bucket), completed and
read back. Expected bytes, part ETags (upper-case MD5 of the part) and the object ETag
(``MD5(concatenated binary part MD5s)-N``) are computed here from the source bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import oss2
import pytest
from oss2.models import PartInfo

from tests.api.clients import ROOT, unique
from tests.api.test_oss_multipart import MIN_PART, _cleanup, crc64, expected_etag, md5_hex
from tests.api.test_oss_sdk import REGION, oss2_auth, oss2_error
from tests.server import TesseraServer


@pytest.fixture(params=["v1", "v4"])
def bucket(request: pytest.FixtureRequest, server: TesseraServer) -> Iterator[oss2.Bucket]:
    session = oss2.Session()
    auth = oss2_auth(ROOT, request.param == "v4")
    made = oss2.Bucket(auth, server.url, unique("pc"), session=session, region=REGION)
    made.create_bucket()
    yield made
    _cleanup(made)
    session.session.close()


def _copy_part(bucket: oss2.Bucket, *args: Any, **kwargs: Any) -> Any:
    """oss2 leaves the CopyPartResult body unread; read it (spec 9: it carries the ETag)."""
    result = bucket.upload_part_copy(*args, **kwargs)
    body = result.resp.read()
    assert b"<CopyPartResult>" in body
    assert f'<ETag>"{result.etag}"</ETag>'.encode() in body
    return result


def test_part_copy_ranges_complete_and_read_back(bucket: oss2.Bucket) -> None:
    source = os.urandom(3 * MIN_PART + 1234)
    bucket.put_object("src/o b.txt", source)
    key = "assembled"
    upload_id = bucket.init_multipart_upload(key).upload_id
    ranges = [(0, MIN_PART - 1), (MIN_PART, 2 * MIN_PART + 99), (2 * MIN_PART + 100, None)]
    pieces = [source[a : (b + 1 if b is not None else None)] for a, b in ranges]
    infos = []
    for number, (first, last) in enumerate(ranges, start=1):
        result = _copy_part(
            bucket, bucket.bucket_name, "src/o b.txt", (first, last), key, upload_id, number
        )
        assert result.etag == md5_hex(pieces[number - 1])
        end = last if last is not None else len(source) - 1
        assert result.resp.headers["Content-Range"] == f"bytes {first}-{end}/{len(source)}"
        infos.append(PartInfo(number, result.etag))
    listed = bucket.list_parts(key, upload_id).parts
    assert [(p.part_number, p.size) for p in listed] == [
        (i + 1, len(p)) for i, p in enumerate(pieces)
    ]
    done = bucket.complete_multipart_upload(key, upload_id, infos)
    assert done.etag == expected_etag(pieces)
    got = bucket.get_object(key)
    assert got.read() == source
    assert int(got.server_crc) == crc64(source)
    # the part blobs are the copies' own: deleting the source leaves the object intact
    bucket.delete_object("src/o b.txt")
    assert bucket.get_object(key).read() == source


def test_part_copy_whole_object_cross_bucket_and_mixed_with_upload(
    server: TesseraServer, bucket: oss2.Bucket
) -> None:
    other = oss2.Bucket(bucket.auth, server.url, unique("pcsrc"), region=REGION)
    other.create_bucket()
    try:
        first = os.urandom(MIN_PART + 7)
        other.put_object("whole", first)
        tail = b"tail bytes"
        upload_id = bucket.init_multipart_upload("mixed").upload_id
        copied = _copy_part(bucket, other.bucket_name, "whole", None, "mixed", upload_id, 1)
        assert copied.etag == md5_hex(first)
        uploaded = bucket.upload_part("mixed", upload_id, 2, tail)
        infos = [PartInfo(1, copied.etag), PartInfo(2, uploaded.etag)]
        bucket.complete_multipart_upload("mixed", upload_id, infos)
        assert bucket.get_object("mixed").read() == first + tail
    finally:
        _cleanup(other)


def test_part_copy_errors_and_conditions(bucket: oss2.Bucket) -> None:
    bucket.put_object("src", b"0123456789")
    etag = bucket.head_object("src").etag
    upload_id = bucket.init_multipart_upload("dst").upload_id
    name = bucket.bucket_name
    # an unsatisfiable range copies the whole object (spec 9 / OSS documentation)
    whole = _copy_part(bucket, name, "src", (50, 60), "dst", upload_id, 1)
    assert whole.etag == md5_hex(b"0123456789")
    error = oss2_error(lambda: bucket.upload_part_copy(name, "nope", None, "dst", upload_id, 2))
    assert (error.status, error.code) == (404, "NoSuchKey")
    error = oss2_error(lambda: bucket.upload_part_copy(name, "src", None, "dst", "BADID", 2))
    assert (error.status, error.code) == (404, "NoSuchUpload")
    error = oss2_error(lambda: bucket.upload_part_copy(name, "src", None, "dst", upload_id, 0))
    assert (error.status, error.code) == (400, "InvalidArgument")
    error = oss2_error(
        lambda: bucket.upload_part_copy("no-such-bucket-pc", "src", None, "dst", upload_id, 2)
    )
    assert (error.status, error.code) == (404, "NoSuchBucket")
    error = oss2_error(
        lambda: bucket.upload_part_copy(
            name,
            "src",
            None,
            "dst",
            upload_id,
            2,
            headers={"x-oss-copy-source-if-match": '"0000"'},
        )
    )
    assert (error.status, error.code) == (412, "PreconditionFailed")
    matched = _copy_part(
        bucket,
        name,
        "src",
        (2, 4),
        "dst",
        upload_id,
        2,
        headers={"x-oss-copy-source-if-match": f'"{etag}"'},
    )
    assert matched.etag == md5_hex(b"234")
    parts = bucket.list_parts("dst", upload_id).parts
    assert [(p.part_number, p.size) for p in parts] == [(1, 10), (2, 3)]
