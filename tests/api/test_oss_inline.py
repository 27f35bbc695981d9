"""Small objects kept inline in the metadata store, driven by oss2 2.19.1 against a real server.

A PutObject with a body of at most 64 KiB stores the body beside its row (table
``oss_inline_blobs`` of ``DATA_DIR/tessera.db``) and writes no file under
``DATA_DIR/objects/blobs``; a larger one writes a blob file. These tests look at both sides:
what the SDK reads back (bytes, ETag = upper-case MD5, CRC-64 from oss2's own crcmod) and what
the data directory holds (blob files listed on disk, inline rows read through a read-only SQLite
connection). The server is this module's own, so the file counts are not disturbed by others.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

import oss2
import oss2.utils
import pytest
import requests
from oss2.models import PartInfo

from tests.api.clients import ROOT, unique
from tests.api.rawrpc import raw_exchange
from tests.api.test_oss_sdk import REGION, oss2_auth, oss2_error
from tests.server import TesseraServer

KIB = 1024
SMALL_LIMIT = 64 * KIB  # bodies up to this size are inline
MIN_PART = 100 * KIB  # spec 9: every multipart part but the last


@pytest.fixture(scope="module")
def inline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TesseraServer]:
    srv = TesseraServer(tmp_path_factory.mktemp("tessera-inline") / "data").start()
    try:
        yield srv
    finally:
        code = srv.stop()
        assert code == 0, f"the server exited with {code}:\n{srv.log()}"


def make_bucket(server: TesseraServer, name: str) -> oss2.Bucket:
    return oss2.Bucket(oss2_auth(ROOT, True), server.url, name, region=REGION)


@pytest.fixture
def bucket(inline_server: TesseraServer) -> Iterator[oss2.Bucket]:
    made = make_bucket(inline_server, unique("inl"))
    made.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    yield made
    for upload in oss2.MultipartUploadIterator(made):
        made.abort_multipart_upload(upload.key, upload.upload_id)
    for obj in oss2.ObjectIterator(made):
        made.delete_object(obj.key)
    made.delete_bucket()
    assert_no_orphan_inline_rows(inline_server)


# ---- independent expectations and the data directory -------------------------------------------


def crc64(data: bytes) -> int:
    crc = oss2.utils.Crc64(0)
    crc.update(data)
    return int(crc.crc)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def query(server: TesseraServer, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    db = sqlite3.connect(f"file:{server.data_dir / 'tessera.db'}?mode=ro", uri=True)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def blob_id_of(server: TesseraServer, bucket: oss2.Bucket, key: str) -> str:
    rows = query(
        server,
        "SELECT blob_id FROM oss_objects WHERE bucket = ? AND object_key = ?",
        (bucket.bucket_name, key),
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


def inline_bodies(server: TesseraServer) -> dict[str, bytes]:
    return {
        str(b): bytes(d) for b, d in query(server, "SELECT blob_id, data FROM oss_inline_blobs")
    }


def blob_files(server: TesseraServer) -> set[str]:
    return {p.name for p in (server.data_dir / "objects" / "blobs").glob("*/*") if p.is_file()}


def assert_no_orphan_inline_rows(server: TesseraServer) -> None:
    orphans = query(
        server,
        "SELECT blob_id FROM oss_inline_blobs WHERE blob_id NOT IN"
        " (SELECT blob_id FROM oss_objects UNION SELECT blob_id FROM oss_parts)",
    )
    assert orphans == []


def assert_reads_back(bucket: oss2.Bucket, key: str, data: bytes) -> None:
    got = bucket.get_object(key)
    assert got.read() == data  # oss2 (enable_crc) also checks the body against the CRC header
    assert int(got.headers["x-oss-hash-crc64ecma"]) == crc64(data)
    assert got.headers["ETag"].strip('"') == md5_hex(data)
    head = bucket.head_object(key)
    assert head.content_length == len(data)


# ---- where bodies go ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 4 * KIB, SMALL_LIMIT])
def test_a_small_put_writes_no_blob_file(
    inline_server: TesseraServer, bucket: oss2.Bucket, size: int
) -> None:
    data = os.urandom(size)
    files_before = blob_files(inline_server)
    put = bucket.put_object("small", data)
    assert (put.etag, int(put.crc)) == (md5_hex(data), crc64(data))
    assert blob_files(inline_server) == files_before
    blob_id = blob_id_of(inline_server, bucket, "small")
    assert inline_bodies(inline_server)[blob_id] == data
    assert_reads_back(bucket, "small", data)


def test_an_empty_put_is_inline(inline_server: TesseraServer, bucket: oss2.Bucket) -> None:
    """Sent with ``Content-Length: 0`` (oss2 sends an empty body chunked, of unknown size)."""
    files_before = blob_files(inline_server)
    request = (
        f"PUT /{bucket.bucket_name}/empty HTTP/1.1\r\nHost: {inline_server.endpoint}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", inline_server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # Connection: close, so the server ends the answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert blob_files(inline_server) == files_before
    assert inline_bodies(inline_server)[blob_id_of(inline_server, bucket, "empty")] == b""
    assert_reads_back(bucket, "empty", b"")


def test_oss2s_empty_put_is_inline(inline_server: TesseraServer, bucket: oss2.Bucket) -> None:
    """oss2 sends an empty body chunked, without a Content-Length: still inline."""
    files_before = blob_files(inline_server)
    bucket.put_object("dir/", b"")  # a "directory" placeholder, as tools create them
    assert blob_files(inline_server) == files_before
    assert inline_bodies(inline_server)[blob_id_of(inline_server, bucket, "dir/")] == b""
    assert_reads_back(bucket, "dir/", b"")


def chunked_put(
    server: TesseraServer, bucket: oss2.Bucket, key: str, pieces: list[bytes], **headers: str
) -> requests.Response:
    """An anonymous PUT (the bucket is public-read-write) whose body goes out chunked."""
    url = f"{server.url}/{bucket.bucket_name}/{key}"
    return requests.put(url, data=iter(pieces), headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("sizes", "inline"),
    [
        ([], True),
        ([1], True),
        ([4 * KIB], True),
        ([1000] * 10, True),
        ([SMALL_LIMIT], True),
        ([SMALL_LIMIT - 1, 1], True),
        ([SMALL_LIMIT, 0], True),
        ([SMALL_LIMIT + 1], False),
        ([SMALL_LIMIT, 1], False),
        ([1000] * 66, False),
        ([40 * KIB, 40 * KIB, 200 * KIB], False),
    ],
)
def test_a_chunked_body_is_inline_up_to_the_bound_and_a_whole_file_beyond(
    inline_server: TesseraServer, bucket: oss2.Bucket, sizes: list[int], inline: bool
) -> None:
    pieces = [os.urandom(size) for size in sizes]
    data = b"".join(pieces)
    files_before = blob_files(inline_server)
    reply = chunked_put(inline_server, bucket, "chunked", pieces)
    assert reply.status_code == 200, reply.text
    assert reply.request.headers.get("Transfer-Encoding") == "chunked"
    assert reply.headers["ETag"].strip('"') == md5_hex(data)
    blob_id = blob_id_of(inline_server, bucket, "chunked")
    if inline:
        assert blob_files(inline_server) == files_before
        assert inline_bodies(inline_server)[blob_id] == data
    else:
        assert blob_files(inline_server) == files_before | {blob_id}
        assert blob_id not in inline_bodies(inline_server)
    assert_reads_back(bucket, "chunked", data)  # beyond: the bytes read to decide come first


@pytest.mark.parametrize("size", [10, SMALL_LIMIT + 10])
def test_a_chunked_body_with_a_wrong_content_md5_stores_nothing(
    inline_server: TesseraServer, bucket: oss2.Bucket, size: int
) -> None:
    inline_before, files_before = inline_bodies(inline_server), blob_files(inline_server)
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    reply = chunked_put(inline_server, bucket, "bad", [os.urandom(size)], **{"Content-MD5": wrong})
    assert reply.status_code == 400
    assert "<Code>InvalidDigest</Code>" in reply.text
    assert not bucket.object_exists("bad")
    assert inline_bodies(inline_server) == inline_before
    assert blob_files(inline_server) == files_before


@pytest.mark.parametrize("size", [SMALL_LIMIT + 1, 100 * KIB])
def test_a_larger_put_writes_a_blob_file(
    inline_server: TesseraServer, bucket: oss2.Bucket, size: int
) -> None:
    data = os.urandom(size)
    files_before = blob_files(inline_server)
    bucket.put_object("large", data)
    blob_id = blob_id_of(inline_server, bucket, "large")
    assert blob_files(inline_server) == files_before | {blob_id}
    assert blob_id not in inline_bodies(inline_server)
    assert_reads_back(bucket, "large", data)


def test_ranged_reads_of_an_inline_object(bucket: oss2.Bucket) -> None:
    data = os.urandom(4 * KIB)
    bucket.put_object("ranged", data)
    for first, last in [(0, 0), (0, 99), (100, 4095), (4000, None), (4095, 4095), (7, 2000)]:
        got = bucket.get_object("ranged", byte_range=(first, last))
        end = len(data) - 1 if last is None else last
        assert got.status == 206
        assert got.headers["Content-Range"] == f"bytes {first}-{end}/{len(data)}"
        assert got.read() == data[first : end + 1]
    suffix = bucket.get_object("ranged", byte_range=(None, 10))
    assert suffix.read() == data[-10:]
    # past the end: ignored by default (the whole object), refused with standard behaviour
    whole = bucket.get_object("ranged", byte_range=(5000, 6000))
    assert (whole.status, whole.read()) == (200, data)
    error = oss2_error(
        lambda: bucket.get_object(
            "ranged", byte_range=(5000, 6000), headers={"x-oss-range-behavior": "standard"}
        )
    )
    assert (error.status, error.code) == (416, "InvalidRange")


# ---- copies and appends --------------------------------------------------------------------------


def _copy(
    bucket: oss2.Bucket, source: str, target: str, headers: dict[str, str] | None = None
) -> Any:
    result = bucket.copy_object(bucket.bucket_name, source, target, headers=headers)
    assert b"<CopyObjectResult>" in result.resp.read()
    return result


def test_copy_object_from_an_inline_source(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    data = os.urandom(3000)
    bucket.put_object("src", data, headers={"x-oss-meta-origin": "put"})
    copied = _copy(bucket, "src", "dst")
    assert copied.etag == md5_hex(data)
    assert_reads_back(bucket, "dst", data)
    assert bucket.get_object("dst").headers["x-oss-meta-origin"] == "put"
    assert_reads_back(bucket, "src", data)
    # to itself with new metadata: same bytes, and the old inline body is freed
    old_blob = blob_id_of(inline_server, bucket, "src")
    headers = {"x-oss-metadata-directive": "REPLACE", "x-oss-meta-origin": "copy"}
    _copy(bucket, "src", "src", headers=headers)
    assert_reads_back(bucket, "src", data)
    assert bucket.head_object("src").headers["x-oss-meta-origin"] == "copy"
    assert old_blob not in inline_bodies(inline_server)
    # the copy does not depend on its source
    bucket.delete_object("src")
    assert_reads_back(bucket, "dst", data)


def test_upload_part_copy_of_a_range_of_an_inline_source(bucket: oss2.Bucket) -> None:
    source = os.urandom(3000)
    bucket.put_object("src", source)
    first = os.urandom(MIN_PART)
    upload_id = bucket.init_multipart_upload("assembled").upload_id
    one = bucket.upload_part("assembled", upload_id, 1, first)
    two = bucket.upload_part_copy(bucket.bucket_name, "src", (100, 2999), "assembled", upload_id, 2)
    assert b"<CopyPartResult>" in two.resp.read()
    assert two.etag == md5_hex(source[100:3000])
    bucket.complete_multipart_upload(
        "assembled", upload_id, [PartInfo(1, one.etag), PartInfo(2, two.etag)]
    )
    got = bucket.get_object("assembled")
    whole = first + source[100:3000]
    assert got.read() == whole
    assert int(got.headers["x-oss-hash-crc64ecma"]) == crc64(whole)


def test_append_to_an_inline_normal_object_is_refused(bucket: oss2.Bucket) -> None:
    bucket.put_object("normal", b"normal body")
    error = oss2_error(lambda: bucket.append_object("normal", 11, b"more"))
    assert (error.status, error.code) == (409, "ObjectNotAppendable")
    assert_reads_back(bucket, "normal", b"normal body")


# ---- overwrites and deletes ----------------------------------------------------------------------


def test_a_small_put_over_a_large_object_deletes_its_blob_file(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    files_before = blob_files(inline_server)
    bucket.put_object("k", os.urandom(100 * KIB))
    large_blob = blob_id_of(inline_server, bucket, "k")
    assert large_blob in blob_files(inline_server)
    small = os.urandom(4 * KIB)
    bucket.put_object("k", small)
    assert blob_files(inline_server) == files_before  # the large body's file is gone
    assert inline_bodies(inline_server)[blob_id_of(inline_server, bucket, "k")] == small
    assert_reads_back(bucket, "k", small)


def test_a_large_put_over_a_small_object_frees_its_inline_body(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    files_before = blob_files(inline_server)
    bucket.put_object("k", os.urandom(4 * KIB))
    small_blob = blob_id_of(inline_server, bucket, "k")
    large = os.urandom(100 * KIB)
    bucket.put_object("k", large)
    large_blob = blob_id_of(inline_server, bucket, "k")
    assert small_blob not in inline_bodies(inline_server)
    assert blob_files(inline_server) == files_before | {large_blob}
    assert_reads_back(bucket, "k", large)


def test_small_overwrites_free_every_replaced_body(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    replaced = []
    for n in range(5):
        bucket.put_object("k", f"version {n}".encode())
        replaced.append(blob_id_of(inline_server, bucket, "k"))
    current = replaced.pop()
    inline = inline_bodies(inline_server)
    assert inline[current] == b"version 4"
    assert not set(replaced) & set(inline)


def test_deleting_inline_objects_frees_their_bodies(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    files_before = blob_files(inline_server)
    keys = ["one", "two", "three"]
    for key in keys:
        bucket.put_object(key, key.encode() * 100)
    blobs = {key: blob_id_of(inline_server, bucket, key) for key in keys}
    bucket.delete_object("one")
    assert blobs["one"] not in inline_bodies(inline_server)
    error = oss2_error(lambda: bucket.get_object("one"))
    assert (error.status, error.code) == (404, "NoSuchKey")
    result = bucket.batch_delete_objects(["two", "three"])
    assert sorted(result.deleted_keys) == ["three", "two"]
    assert not set(blobs.values()) & set(inline_bodies(inline_server))
    assert [obj.key for obj in oss2.ObjectIterator(bucket)] == []
    assert blob_files(inline_server) == files_before


# ---- refused and broken small PUTs ---------------------------------------------------------------


def _md5_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_a_content_md5_mismatch_stores_nothing(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    bucket.put_object("existing", b"original")
    inline_before, files_before = inline_bodies(inline_server), blob_files(inline_server)
    wrong = {"Content-MD5": _md5_b64(b"something else")}
    for key in ("fresh", "existing"):
        error = oss2_error(lambda: bucket.put_object(key, b"x" * 4 * KIB, headers=wrong))  # noqa: B023 (called at once)
        assert (error.status, error.code) == (400, "InvalidDigest")
    assert not bucket.object_exists("fresh")
    assert_reads_back(bucket, "existing", b"original")
    assert inline_bodies(inline_server) == inline_before
    assert blob_files(inline_server) == files_before


def test_forbid_overwrite_keeps_the_old_small_object(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    forbid = {"x-oss-forbid-overwrite": "true"}
    bucket.put_object("k", b"first", headers=forbid)  # no object yet: allowed
    inline_before = inline_bodies(inline_server)
    error = oss2_error(lambda: bucket.put_object("k", b"second", headers=forbid))
    assert (error.status, error.code) == (409, "FileAlreadyExists")
    assert_reads_back(bucket, "k", b"first")
    assert inline_bodies(inline_server) == inline_before


def cut_short(framing: str, size: int) -> Callable[[str, str], bytes]:
    """A PUT whose body ends before it says it would: ``Content-Length`` ``size`` with ten
    bytes sent, or one chunk of ``size`` bytes and no closing chunk."""

    def request(path: str, host: str) -> bytes:
        head = f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
        if framing == "content-length":
            return f"{head}Content-Length: {size}\r\n\r\n".encode() + b"only ten b"
        chunk = b"%x\r\n" % size + os.urandom(size) + b"\r\n"
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunk

    return request


@pytest.mark.parametrize(
    ("framing", "size"),
    [
        ("content-length", 1000),
        ("content-length", SMALL_LIMIT),
        ("chunked", 10),
        ("chunked", SMALL_LIMIT + 10),
    ],
)
def test_a_small_put_cut_short_stores_nothing(
    inline_server: TesseraServer, bucket: oss2.Bucket, framing: str, size: int
) -> None:
    bucket.put_object("existing", b"original")
    inline_before, files_before = inline_bodies(inline_server), blob_files(inline_server)
    request = cut_short(framing, size)
    for key in ("short", "existing"):
        path = f"/{bucket.bucket_name}/{key}"
        answer = raw_exchange(inline_server.port, request(path, inline_server.endpoint))
        assert not answer.startswith(b"HTTP/1.1 2"), answer[:200]
        assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert not bucket.object_exists("short")
    assert_reads_back(bucket, "existing", b"original")
    assert inline_bodies(inline_server) == inline_before
    assert blob_files(inline_server) == files_before


# ---- concurrency -------------------------------------------------------------------------------


def test_many_concurrent_small_puts_read_back_exactly(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    threads_count = 64
    rng = random.Random(os.urandom(8))
    own = {
        w: [rng.randbytes(rng.randint(1, SMALL_LIMIT)) for _ in range(2)]
        for w in range(threads_count)
    }
    hot = {w: rng.randbytes(rng.randint(1, SMALL_LIMIT)) for w in range(threads_count)}
    files_before = blob_files(inline_server)
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def client(worker: int) -> None:
        mine = make_bucket(inline_server, bucket.bucket_name)
        try:
            barrier.wait()
            for version in own[worker]:  # one after the other: the second must win
                result = mine.put_object(f"own/{worker}", version)
                assert int(result.crc) == crc64(version)
            mine.put_object("hot", hot[worker])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for worker, versions in own.items():
        assert_reads_back(bucket, f"own/{worker}", versions[-1])
    hot_body = bucket.get_object("hot").read()
    assert hot_body in hot.values()
    # exactly one inline body per object of the bucket, no file for any of them
    live = {
        blob_id_of(inline_server, bucket, key)
        for key in ["hot", *(f"own/{w}" for w in range(threads_count))]
    }
    inline = inline_bodies(inline_server)
    assert live <= set(inline)
    assert inline[blob_id_of(inline_server, bucket, "hot")] == hot_body
    assert blob_files(inline_server) == files_before
    assert_no_orphan_inline_rows(inline_server)


def test_readers_of_a_small_object_being_overwritten_see_whole_versions(
    inline_server: TesseraServer, bucket: oss2.Bucket
) -> None:
    """Row and inline body are read together: a GET racing overwrites returns one complete
    version, never a missing body or an error."""
    rng = random.Random(os.urandom(8))
    versions = [rng.randbytes(rng.randint(1, SMALL_LIMIT)) for _ in range(40)]
    known = {md5_hex(v) for v in versions}
    bucket.put_object("hot", versions[0])
    done = threading.Event()
    errors: list[BaseException] = []
    reads: list[int] = []

    def writer(offset: int) -> None:
        mine = make_bucket(inline_server, bucket.bucket_name)
        try:
            for version in versions[offset::2]:
                mine.put_object("hot", version)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def reader() -> None:
        mine = make_bucket(inline_server, bucket.bucket_name)
        try:
            while not done.is_set():
                got = mine.get_object("hot")
                body = got.read()  # oss2 checks the CRC-64 header against the body
                assert md5_hex(body) in known
                assert got.headers["ETag"].strip('"') == md5_hex(body)
                reads.append(1)
        except BaseException as exc:  # reported below
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert reads  # the readers did read
    assert bucket.get_object("hot").read() in versions
