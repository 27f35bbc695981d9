"""GetObject racing an overwrite or a delete that removes the blob file it is about to open.

No server and no sleeps: the blob store below runs the "other writer" synchronously inside
``open_range``, between the read of the object's row and the open of its blob, which is exactly
the window the race hits. Bodies are larger than 64 KiB so they live in blob files, not inline.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator

import pytest

from tessera.asgi import Message
from tessera.blobs import BlobNotFound, MemoryBlobStore
from tessera.blobs.memory import BytesReader
from tessera.errors import NotFound
from tessera.oss import object_ops
from tessera.oss.addressing import resolve
from tessera.oss.exchange import OssContext, OssRequest, OssResponse
from tessera.oss.routing import route
from tessera.store.oss_base import Bucket, ObjectMeta
from tessera.store.oss_memory import MemoryOssStore

BUCKET, KEY = "photos", "big.bin"
OLD = bytes(range(256)) * 400  # 100 KiB
NEW = b"new version " * 9000  # 105.5 KiB: another size, so Content-Length tells them apart
T0, T1 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"


class RacingBlobs(MemoryBlobStore):
    """``open_range`` first runs ``race(blob_id)`` (while ``races`` lasts: one by default) and
    only then opens the blob, which the race may have deleted."""

    def __init__(self) -> None:
        super().__init__()
        self.race: Callable[[str], None] | None = None
        self.races = 1
        self.opened: list[str] = []

    def open_range(self, blob_id: str, start: int = 0, end: int | None = None) -> BytesReader:
        self.opened.append(blob_id)
        if self.race is not None and self.races > 0:
            self.races -= 1
            self.race(blob_id)
        return super().open_range(blob_id, start, end)


def md5_etag(body: bytes) -> str:
    return hashlib.md5(body).hexdigest().upper()


def store_version(
    store: MemoryOssStore, blobs: MemoryBlobStore, body: bytes, when: str
) -> ObjectMeta:
    """What PutObject does for a large body: write the blob, swap the row in, free the old blob."""
    with blobs.open_writer() as writer:
        writer.write(body)
        ref = writer.commit()
    meta = ObjectMeta(BUCKET, KEY, ref.blob_id, len(body), md5_etag(body), 0, when)
    released = store.put_object(meta)
    if released is not None:
        blobs.delete(released)
    return meta


async def _disconnect() -> Message:
    return {"type": "http.disconnect"}


def request(method: str, headers: dict[str, str] | None = None) -> OssRequest:
    address = resolve("127.0.0.1:9000", f"/{BUCKET}/{KEY}")
    assert address is not None
    return OssRequest(
        method=method,
        headers=headers or {},
        query=[],
        params={},
        address=address,
        route=route(method, address.target, []),
        receive=_disconnect,
        now=0.0,
        endpoint="http://127.0.0.1:9000",
        bucket=Bucket(BUCKET, "1234567890123456", "cn-hangzhou", T0),
    )


@pytest.fixture
def world() -> Iterator[tuple[OssContext, MemoryOssStore, RacingBlobs]]:
    store, blobs = MemoryOssStore(), RacingBlobs()
    store.create_bucket(Bucket(BUCKET, "1234567890123456", "cn-hangzhou", T0))
    store_version(store, blobs, OLD, T0)
    try:
        yield OssContext(store, blobs, "cn-hangzhou"), store, blobs
    finally:
        store.close()


def overwrite_with(
    store: MemoryOssStore, blobs: MemoryBlobStore, body: bytes
) -> Callable[[str], None]:
    def race(blob_id: str) -> None:
        store_version(store, blobs, body, T1)
        assert not blobs.exists(blob_id)  # the blob the reader is about to open is gone

    return race


def body_of(response: OssResponse) -> bytes:
    if response.stream is None:
        return response.body
    try:
        return b"".join(response.stream)
    finally:
        response.stream.close()


def header(response: OssResponse, name: str) -> str:
    found = [value for key, value in response.headers if key.lower() == name.lower()]
    assert len(found) == 1, (name, response.headers)
    return found[0]


@pytest.mark.parametrize(
    ("range_header", "status", "expected"),
    [
        (None, 200, NEW),  # a whole large body: streamed from a reader opened in a thread
        ("bytes=1000-1099", 206, NEW[1000:1100]),  # a small range: read inline
    ],
)
def test_get_racing_an_overwrite_serves_the_new_version(
    world: tuple[OssContext, MemoryOssStore, RacingBlobs],
    range_header: str | None,
    status: int,
    expected: bytes,
) -> None:
    ctx, store, blobs = world
    old_blob = store.get_object(BUCKET, KEY)
    assert old_blob is not None
    blobs.race = overwrite_with(store, blobs, NEW)
    headers = {} if range_header is None else {"range": range_header}

    response = asyncio.run(object_ops.get_object(ctx, request("GET", headers)))

    assert response.status == status
    assert body_of(response) == expected
    assert response.content_length == len(expected)
    assert header(response, "ETag") == f'"{md5_etag(NEW)}"'
    assert header(response, "Last-Modified") == "Tue, 02 Jan 2024 00:00:00 GMT"
    if range_header is not None:
        assert header(response, "Content-Range") == f"bytes 1000-1099/{len(NEW)}"
    # the old blob was tried first, then the new version's
    assert blobs.opened[0] == old_blob.blob_id
    assert len(blobs.opened) == 2 and blobs.opened[1] != old_blob.blob_id


def test_the_same_race_without_the_retry_is_a_blob_error(
    world: tuple[OssContext, MemoryOssStore, RacingBlobs], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scenario above really hits the race: a single read fails with BlobNotFound (an
    InternalError, the 500 this used to answer)."""
    ctx, store, blobs = world
    blobs.race = overwrite_with(store, blobs, NEW)
    monkeypatch.setattr(object_ops, "_read", object_ops._read_once)
    with pytest.raises(BlobNotFound):
        asyncio.run(object_ops.get_object(ctx, request("GET")))


def test_a_blob_that_keeps_vanishing_is_no_such_key(
    world: tuple[OssContext, MemoryOssStore, RacingBlobs],
) -> None:
    """Every open loses to another overwrite: after one retry the answer is NotFound
    (NoSuchKey 404), not a 500 and not a loop."""
    ctx, store, blobs = world
    blobs.race = overwrite_with(store, blobs, NEW)
    blobs.races = 1_000_000
    with pytest.raises(NotFound) as caught:
        asyncio.run(object_ops.get_object(ctx, request("GET")))
    assert caught.value.kind == "Object" and caught.value.name == KEY
    assert len(blobs.opened) == 2  # the first read and one retry


def test_get_racing_a_delete_is_no_such_key(
    world: tuple[OssContext, MemoryOssStore, RacingBlobs],
) -> None:
    ctx, store, blobs = world

    def delete(blob_id: str) -> None:
        released = store.delete_object(BUCKET, KEY)
        assert released == blob_id
        blobs.delete(released)

    blobs.race = delete
    with pytest.raises(NotFound) as caught:
        asyncio.run(object_ops.get_object(ctx, request("GET")))
    assert caught.value.kind == "Object" and caught.value.name == KEY


def test_head_opens_no_blob_and_is_unaffected(
    world: tuple[OssContext, MemoryOssStore, RacingBlobs],
) -> None:
    ctx, store, blobs = world
    blobs.race = overwrite_with(store, blobs, NEW)
    blobs.races = 1_000_000

    response = asyncio.run(object_ops.head_object(ctx, request("HEAD")))

    assert response.status == 200
    assert response.content_length == len(OLD)
    assert header(response, "ETag") == f'"{md5_etag(OLD)}"'
    assert response.stream is None and response.body == b""
    assert blobs.opened == []
