"""The ``BlobStore`` contract, run against every implementation (fixture ``blobs`` below)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
import oss2.utils
import pytest

from tessera.blobs import (
    CHUNK_SIZE,
    BlobError,
    BlobNotFound,
    BlobRangeError,
    BlobRef,
    BlobStore,
    FilesystemBlobStore,
    InvalidBlobId,
    MemoryBlobStore,
    write_stream,
)

IMPLEMENTATIONS: dict[str, Callable[[Path], BlobStore]] = {
    "memory": lambda tmp_path: MemoryBlobStore(),
    "filesystem": lambda tmp_path: FilesystemBlobStore(tmp_path / "data"),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    store = IMPLEMENTATIONS[request.param](tmp_path)
    try:
        yield store
    finally:
        store.close()


def reference_crc(data: bytes) -> int:
    """oss2's own CRC-64 (crcmod), the checksum the SDK compares with ours."""
    hasher = oss2.utils.Crc64(0)
    hasher.update(data)
    return int(hasher.crc)


def put(store: BlobStore, data: bytes, chunk: int = 100_000) -> BlobRef:
    with store.open_writer() as writer:
        for offset in range(0, len(data), chunk):
            writer.write(data[offset : offset + chunk])
        return writer.commit()


def read(store: BlobStore, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.open_range(blob_id, start, end))


def everything(store: BlobStore, *refs: BlobRef) -> int:
    """How many blobs exist besides ``refs`` (counted by a sweep that keeps them all)."""
    kept = {ref.blob_id for ref in refs}
    seen: set[str] = set()

    def known(blob_id: str) -> bool:
        seen.add(blob_id)
        return True

    store.sweep_orphans(known)
    return len(seen - kept)


DATA = os.urandom(3 * CHUNK_SIZE + 12345)

# ------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, len(DATA)])
def test_round_trip_with_checksums(blobs: BlobStore, size: int) -> None:
    data = DATA[:size]
    ref = put(blobs, data)
    assert ref.size == size == blobs.size(ref.blob_id)
    assert ref.md5_hex == hashlib.md5(data).hexdigest().upper()
    assert ref.crc64 == reference_crc(data)
    assert read(blobs, ref.blob_id) == data
    assert blobs.exists(ref.blob_id)


def test_ids_are_fresh_hex(blobs: BlobStore) -> None:
    ids = {put(blobs, b"x").blob_id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_digest_before_commit_matches_the_ref(blobs: BlobStore) -> None:
    with blobs.open_writer() as writer:
        writer.write(b"hello ")
        writer.write(memoryview(b"world"))
        digest = writer.digest()
        ref = writer.commit()
    assert (digest.size, digest.md5_hex, digest.crc64) == (ref.size, ref.md5_hex, ref.crc64)
    assert ref.crc64 == 5981764153023615706
    assert digest.md5_base64 == "XrY7u+Ae7tCTyyK7j1rNww=="


def test_a_reused_buffer_does_not_change_what_was_written(blobs: BlobStore) -> None:
    buffer = bytearray(b"a" * 1000)
    with blobs.open_writer() as writer:
        writer.write(buffer)
        buffer[:] = b"b" * 1000
        writer.write(buffer)
        ref = writer.commit()
    assert read(blobs, ref.blob_id) == b"a" * 1000 + b"b" * 1000


def test_concurrent_writers_each_get_their_own_blob(blobs: BlobStore) -> None:
    payloads = [os.urandom(50_000 + i) for i in range(8)]
    refs: dict[int, BlobRef] = {}
    barrier = threading.Barrier(len(payloads))

    def work(i: int) -> None:
        writer = blobs.open_writer()
        barrier.wait()
        for offset in range(0, len(payloads[i]), 4096):
            writer.write(payloads[i][offset : offset + 4096])
        refs[i] = writer.commit()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({ref.blob_id for ref in refs.values()}) == len(payloads)
    for i, payload in enumerate(payloads):
        assert read(blobs, refs[i].blob_id) == payload
        assert refs[i].crc64 == reference_crc(payload)


# ----------------------------------------------------------------------------------- ranges

SIZE = len(DATA)
RANGES = [
    (0, None),
    (0, SIZE),
    (0, 0),
    (7, 7),
    (SIZE, SIZE),
    (SIZE, None),
    (SIZE - 1, SIZE),
    (SIZE - 1, None),
    (0, 1),
    (CHUNK_SIZE - 1, 2 * CHUNK_SIZE + 1),
    (100, 200),
]


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_ranges_are_half_open(blobs: BlobStore, start: int, end: int | None) -> None:
    ref = put(blobs, DATA)
    reader = blobs.open_range(ref.blob_id, start, end)
    chunks = list(reader)
    assert b"".join(chunks) == DATA[start:end]
    assert reader.length == len(DATA[start:end])
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)


@pytest.mark.parametrize(
    ("start", "end"), [(0, SIZE + 1), (SIZE + 1, None), (-1, 5), (5, 4), (SIZE + 1, SIZE + 2)]
)
def test_ranges_outside_the_blob_are_refused(blobs: BlobStore, start: int, end: int | None) -> None:
    ref = put(blobs, DATA)
    with pytest.raises(BlobRangeError) as caught:
        blobs.open_range(ref.blob_id, start, end)
    assert caught.value.size == SIZE


def test_a_reader_can_stop_early(blobs: BlobStore) -> None:
    ref = put(blobs, DATA)
    reader = blobs.open_range(ref.blob_id)
    assert next(reader) == DATA[:CHUNK_SIZE]
    reader.close()
    assert list(reader) == []


def test_an_open_reader_outlives_a_delete(blobs: BlobStore) -> None:
    ref = put(blobs, DATA)
    reader = blobs.open_range(ref.blob_id, 10)
    assert blobs.delete(ref.blob_id)
    assert b"".join(reader) == DATA[10:]


# ------------------------------------------------------------------------ missing and invalid


def test_missing_blobs(blobs: BlobStore) -> None:
    ref = put(blobs, b"gone")
    assert blobs.delete(ref.blob_id) is True
    assert blobs.delete(ref.blob_id) is False
    assert not blobs.exists(ref.blob_id)
    for call in (blobs.size, blobs.open_range, blobs.local_path):
        with pytest.raises(BlobNotFound) as caught:
            call(ref.blob_id)
        assert caught.value.blob_id == ref.blob_id


BAD_IDS = ["", "../../etc/passwd", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "/" + "0" * 31]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_malformed_ids_never_reach_storage(blobs: BlobStore, bad: str) -> None:
    calls: list[Callable[[str], object]] = [
        blobs.size,
        blobs.open_range,
        blobs.exists,
        blobs.delete,
        blobs.local_path,
    ]
    for call in calls:
        with pytest.raises(InvalidBlobId):
            call(bad)


# -------------------------------------------------------------------------------- abort


def test_abort_leaves_nothing(blobs: BlobStore) -> None:
    writer = blobs.open_writer()
    writer.write(b"partial")
    writer.abort()
    writer.abort()
    assert not blobs.exists(writer.blob_id)
    assert everything(blobs) == 0
    with pytest.raises(BlobError):
        writer.write(b"more")
    with pytest.raises(BlobError):
        writer.commit()


def test_an_exception_in_the_with_block_aborts(blobs: BlobStore) -> None:
    with pytest.raises(RuntimeError), blobs.open_writer() as writer:
        writer.write(b"partial")
        raise RuntimeError("client went away")
    assert not blobs.exists(writer.blob_id)
    with blobs.open_writer() as uncommitted:
        uncommitted.write(b"never committed")
    assert not blobs.exists(uncommitted.blob_id)
    assert everything(blobs) == 0


def test_a_writer_commits_once(blobs: BlobStore) -> None:
    writer = blobs.open_writer()
    ref = writer.commit()
    for late in (lambda: writer.write(b"x"), writer.commit):
        with pytest.raises(BlobError):
            late()
    writer.abort()  # after commit: nothing to discard, the blob stays
    assert read(blobs, ref.blob_id) == b""


# ------------------------------------------------------------------------------- compose


def test_compose_concatenates_with_the_combined_crc(blobs: BlobStore) -> None:
    pieces = [os.urandom(n) for n in (102_400, 1, 0, 250_000, 7)]
    parts = [put(blobs, piece) for piece in pieces]
    whole = blobs.compose(parts)
    joined = b"".join(pieces)
    assert read(blobs, whole.blob_id) == joined
    assert whole.size == len(joined) == blobs.size(whole.blob_id)
    assert whole.crc64 == reference_crc(joined)
    assert whole.md5_hex is None
    assert whole.blob_id not in {p.blob_id for p in parts}
    assert all(read(blobs, p.blob_id) == piece for p, piece in zip(parts, pieces, strict=True))


def test_compose_of_nothing_is_empty(blobs: BlobStore) -> None:
    empty = blobs.compose([])
    assert (empty.size, empty.crc64, read(blobs, empty.blob_id)) == (0, 0, b"")


def test_compose_appends_to_a_blob(blobs: BlobStore) -> None:
    old = put(blobs, b"hello ")
    tail = put(blobs, b"world")
    appended = blobs.compose([old, tail])
    assert appended.crc64 == 5981764153023615706


def test_compose_with_a_missing_part_creates_nothing(blobs: BlobStore) -> None:
    kept = put(blobs, b"kept")
    gone = put(blobs, b"gone")
    blobs.delete(gone.blob_id)
    with pytest.raises(BlobNotFound):
        blobs.compose([kept, gone])
    assert everything(blobs, kept) == 0


def test_compose_checks_part_sizes(blobs: BlobStore) -> None:
    part = put(blobs, b"four")
    lying = BlobRef(part.blob_id, 5, part.md5_hex, part.crc64)
    with pytest.raises(BlobError):
        blobs.compose([lying])
    assert everything(blobs, part) == 0


# --------------------------------------------------------------------------------- sweep


def test_sweep_removes_unknown_blobs_and_unfinished_writes(blobs: BlobStore) -> None:
    live = put(blobs, b"live")
    orphan = put(blobs, b"orphan")
    interrupted = blobs.open_writer()
    interrupted.write(b"half")
    assert blobs.sweep_orphans(lambda blob_id: blob_id == live.blob_id) == 2
    assert blobs.exists(live.blob_id)
    assert not blobs.exists(orphan.blob_id)
    with pytest.raises(BlobError):
        interrupted.commit()
    assert not blobs.exists(interrupted.blob_id)
    assert blobs.sweep_orphans(lambda blob_id: True) == 0


# ------------------------------------------------------------------------------ local path


def test_local_path_is_the_blob_or_none(blobs: BlobStore) -> None:
    ref = put(blobs, DATA)
    path = blobs.local_path(ref.blob_id)
    if isinstance(blobs, MemoryBlobStore):
        assert path is None
    else:
        assert path is not None
        assert Path(path).read_bytes() == DATA


# ----------------------------------------------------------------------------- write_stream


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_write_stream_commits_an_async_body(blobs: BlobStore) -> None:
    chunks = [DATA[i : i + 65536] for i in range(0, len(DATA), 65536)]

    async def main() -> BlobRef:
        return await write_stream(blobs, body(b"", *chunks), batch_bytes=200_000)

    ref = anyio.run(main)
    assert read(blobs, ref.blob_id) == DATA
    assert ref.crc64 == reference_crc(DATA)


def test_write_stream_aborts_when_the_check_refuses(blobs: BlobStore) -> None:
    def check(digest: object) -> None:
        raise ValueError("InvalidDigest")

    async def main() -> BlobRef:
        return await write_stream(blobs, body(b"abc", b"def"), check=check)

    with pytest.raises(ValueError, match="InvalidDigest"):
        anyio.run(main)
    assert everything(blobs) == 0


def test_write_stream_aborts_when_the_body_fails(blobs: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield DATA
        raise ConnectionResetError

    async def main() -> BlobRef:
        return await write_stream(blobs, broken(), batch_bytes=10)

    with pytest.raises(ConnectionResetError):
        anyio.run(main)
    assert everything(blobs) == 0
