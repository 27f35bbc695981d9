"""tessera.blobs.inline: ``WithInlineBlobs`` serves inline bodies from a lookup and delegates
everything else to the wrapped file store.

The lookup is a plain dict (``inline.get``); the file stores are ``MemoryBlobStore`` and, where
a real path or file listing matters, ``FilesystemBlobStore``. Expected bytes are slices and
concatenations made here; expected CRCs are ``crc64`` of those whole byte strings (never the
combination of part CRCs the wrapper computes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tessera.blobs import (
    CHUNK_SIZE,
    BlobError,
    BlobNotFound,
    BlobRangeError,
    BlobRef,
    BlobStore,
    FilesystemBlobStore,
    MemoryBlobStore,
    WithInlineBlobs,
    crc64,
    new_blob_id,
)

INLINE_A = new_blob_id()
INLINE_B = new_blob_id()
BODY_A = bytes(range(256)) * 40 + b"tail"  # 10 244 bytes
BODY_B = b"second inline body"


class Files(MemoryBlobStore):
    """A memory store that counts the calls the wrapper should (or should not) pass on."""

    def __init__(self) -> None:
        super().__init__()
        self.composed = 0
        self.deleted: list[str] = []

    def compose(self, parts: Sequence[BlobRef]) -> BlobRef:
        self.composed += 1
        return super().compose(parts)

    def delete(self, blob_id: str) -> bool:
        self.deleted.append(blob_id)
        return super().delete(blob_id)


@pytest.fixture
def inline() -> dict[str, bytes]:
    return {INLINE_A: BODY_A, INLINE_B: BODY_B}


@pytest.fixture
def files() -> Iterator[Files]:
    store = Files()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def blobs(files: Files, inline: dict[str, bytes]) -> WithInlineBlobs:
    return WithInlineBlobs(files, inline.get)


def put(store: BlobStore, data: bytes) -> BlobRef:
    with store.open_writer() as writer:
        for offset in range(0, len(data), 100_000):
            writer.write(data[offset : offset + 100_000])
        return writer.commit()


def read(store: BlobStore, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
    reader = store.open_range(blob_id, start, end)
    try:
        data = b"".join(reader)
        assert len(data) == reader.length
        return data
    finally:
        reader.close()


def inline_ref(blob_id: str, body: bytes) -> BlobRef:
    return BlobRef(blob_id, len(body), hashlib.md5(body).hexdigest().upper(), crc64(body))


def stored_ids(store: BlobStore) -> set[str]:
    """Every blob id the file store holds (``sweep_orphans`` asks about each; it keeps all)."""
    seen: set[str] = set()

    def known(blob_id: str) -> bool:
        seen.add(blob_id)
        return True

    store.sweep_orphans(known)
    return seen


# ---- reads -------------------------------------------------------------------------------------


def test_open_range_reads_an_inline_body_whole_and_in_part(blobs: WithInlineBlobs) -> None:
    assert read(blobs, INLINE_A) == BODY_A
    assert blobs.open_range(INLINE_A).length == len(BODY_A)
    assert read(blobs, INLINE_A, 3, 10) == BODY_A[3:10]
    assert read(blobs, INLINE_A, 5000) == BODY_A[5000:]
    assert read(blobs, INLINE_A, 0, len(BODY_A)) == BODY_A
    assert read(blobs, INLINE_A, len(BODY_A)) == b""  # an empty range at the end
    assert read(blobs, INLINE_A, 7, 7) == b""
    assert read(blobs, INLINE_B) == BODY_B


@pytest.mark.parametrize(
    ("start", "end"), [(0, len(BODY_A) + 1), (len(BODY_A) + 1, None), (10, 9), (-1, 5)]
)
def test_open_range_outside_an_inline_body_is_refused(
    blobs: WithInlineBlobs, start: int, end: int | None
) -> None:
    with pytest.raises(BlobRangeError):
        blobs.open_range(INLINE_A, start, end)


def test_an_empty_inline_body_is_inline(files: Files) -> None:
    empty = new_blob_id()
    blobs = WithInlineBlobs(files, {empty: b""}.get)
    assert blobs.exists(empty) and blobs.size(empty) == 0
    assert read(blobs, empty) == b""
    assert blobs.local_path(empty) is None


def test_file_blobs_are_read_from_the_files(blobs: WithInlineBlobs, files: Files) -> None:
    data = os.urandom(CHUNK_SIZE + 1000)
    ref = put(files, data)
    assert read(blobs, ref.blob_id) == data
    assert read(blobs, ref.blob_id, 100, CHUNK_SIZE + 10) == data[100 : CHUNK_SIZE + 10]
    with pytest.raises(BlobRangeError):
        blobs.open_range(ref.blob_id, 0, len(data) + 1)
    with pytest.raises(BlobNotFound):
        blobs.open_range(new_blob_id())


def test_size_and_exists(blobs: WithInlineBlobs, files: Files) -> None:
    ref = put(files, b"x" * 1234)
    assert blobs.size(INLINE_A) == len(BODY_A)
    assert blobs.size(ref.blob_id) == 1234
    with pytest.raises(BlobNotFound):
        blobs.size(new_blob_id())
    assert blobs.exists(INLINE_A) and blobs.exists(ref.blob_id)
    assert not blobs.exists(new_blob_id())
    assert not files.exists(INLINE_A)  # served by the wrapper, never written to the files


def test_local_path_is_none_for_inline_and_the_file_otherwise(
    tmp_path: Path, inline: dict[str, bytes]
) -> None:
    disk = FilesystemBlobStore(tmp_path / "objects")
    try:
        blobs = WithInlineBlobs(disk, inline.get)
        ref = put(disk, b"on disk")
        assert blobs.local_path(INLINE_A) is None
        path = blobs.local_path(ref.blob_id)
        assert path is not None and Path(path).read_bytes() == b"on disk"
    finally:
        disk.close()


# ---- compose -----------------------------------------------------------------------------------


def test_compose_mixes_inline_and_file_parts(blobs: WithInlineBlobs, files: Files) -> None:
    big = os.urandom(CHUNK_SIZE + 4321)  # more than one chunk
    small = os.urandom(777)
    big_ref, small_ref = put(files, big), put(files, small)
    parts = [
        inline_ref(INLINE_A, BODY_A),
        big_ref,
        inline_ref(INLINE_B, BODY_B),
        small_ref,
        inline_ref(INLINE_A, BODY_A),
    ]
    whole = BODY_A + big + BODY_B + small + BODY_A
    before = stored_ids(files)
    ref = blobs.compose(parts)
    assert ref.size == len(whole)
    assert ref.crc64 == crc64(whole)
    assert ref.md5_hex is None  # a composed blob's MD5 is never computed (BlobRef contract)
    assert read(blobs, ref.blob_id) == whole
    assert read(files, ref.blob_id) == whole  # a file of the wrapped store
    assert stored_ids(files) == before | {ref.blob_id}
    assert files.composed == 0  # copied through a writer: the file store cannot see inline
    assert read(blobs, INLINE_A) == BODY_A and read(files, big_ref.blob_id) == big


def test_compose_of_inline_parts_only(blobs: WithInlineBlobs, files: Files) -> None:
    ref = blobs.compose([inline_ref(INLINE_B, BODY_B), inline_ref(INLINE_A, BODY_A)])
    assert read(files, ref.blob_id) == BODY_B + BODY_A
    assert (ref.size, ref.crc64) == (len(BODY_B + BODY_A), crc64(BODY_B + BODY_A))


def test_compose_looks_up_only_parts_small_enough_to_be_inline(
    files: Files, inline: dict[str, bytes]
) -> None:
    asked: list[str] = []

    def lookup(blob_id: str) -> bytes | None:
        asked.append(blob_id)
        return inline.get(blob_id)

    bounded = WithInlineBlobs(files, lookup, max_inline_bytes=len(BODY_A))
    large = [put(files, os.urandom(len(BODY_A) + 1)) for _ in range(3)]
    ref = bounded.compose(large)
    assert asked == []  # parts above the bound are files: no metadata read each
    assert files.composed == 1
    mixed = bounded.compose([large[0], inline_ref(INLINE_A, BODY_A)])
    assert INLINE_A in asked and large[0].blob_id not in asked
    assert read(files, mixed.blob_id) == read(files, large[0].blob_id) + BODY_A
    assert ref.size == 3 * (len(BODY_A) + 1)


def test_compose_of_file_parts_only_is_the_file_stores(
    blobs: WithInlineBlobs, files: Files
) -> None:
    one, two = os.urandom(5000), os.urandom(6000)
    ref = blobs.compose([put(files, one), put(files, two)])
    assert files.composed == 1
    assert read(blobs, ref.blob_id) == one + two
    assert ref.crc64 == crc64(one + two)


@pytest.mark.parametrize("which", ["inline", "file"])
def test_compose_refuses_a_part_of_the_wrong_size(
    blobs: WithInlineBlobs, files: Files, which: str
) -> None:
    file_ref = put(files, b"f" * 300)
    good = [inline_ref(INLINE_A, BODY_A), file_ref]
    wrong = (
        BlobRef(INLINE_A, len(BODY_A) - 1, None, crc64(BODY_A[:-1]))
        if which == "inline"
        else BlobRef(file_ref.blob_id, 301, None, 0)
    )
    before = stored_ids(files)
    with pytest.raises(BlobError):
        blobs.compose([*good, wrong])
    assert stored_ids(files) == before  # nothing was created


def test_compose_with_a_missing_part_creates_nothing(blobs: WithInlineBlobs, files: Files) -> None:
    before = stored_ids(files)
    with pytest.raises(BlobNotFound):
        blobs.compose([inline_ref(INLINE_A, BODY_A), BlobRef(new_blob_id(), 5, None, 0)])
    assert stored_ids(files) == before


def test_compose_leaves_no_temp_file_on_disk(tmp_path: Path, inline: dict[str, bytes]) -> None:
    disk = FilesystemBlobStore(tmp_path / "objects")
    try:
        blobs = WithInlineBlobs(disk, inline.get)
        file_ref = put(disk, b"on disk")
        ref = blobs.compose([inline_ref(INLINE_B, BODY_B), file_ref])
        assert read(disk, ref.blob_id) == BODY_B + b"on disk"
        with pytest.raises(BlobError):
            blobs.compose([inline_ref(INLINE_B, BODY_B), BlobRef(file_ref.blob_id, 1, None, 0)])
        assert os.listdir(disk.tmp_dir) == []
        on_disk = {p.name for p in disk.blobs_dir.rglob("*") if p.is_file()}
        assert on_disk == {file_ref.blob_id, ref.blob_id}
    finally:
        disk.close()


# ---- writes, deletes and the rest go to the files ----------------------------------------------


def test_delete_goes_to_the_files_only(
    blobs: WithInlineBlobs, files: Files, inline: dict[str, bytes]
) -> None:
    ref = put(files, b"file body")
    assert blobs.delete(INLINE_A) is False  # not a file: nothing deleted
    assert inline[INLINE_A] == BODY_A and read(blobs, INLINE_A) == BODY_A
    assert blobs.delete(ref.blob_id) is True
    assert not files.exists(ref.blob_id)
    assert blobs.delete(ref.blob_id) is False
    assert files.deleted == [INLINE_A, ref.blob_id, ref.blob_id]


def test_writers_write_files(blobs: WithInlineBlobs, files: Files) -> None:
    ref = put(blobs, b"written through the wrapper")
    assert read(files, ref.blob_id) == b"written through the wrapper"
    assert ref.crc64 == crc64(b"written through the wrapper")


def test_sweep_and_close_go_to_the_files(
    blobs: WithInlineBlobs, files: Files, inline: dict[str, bytes]
) -> None:
    keep, drop = put(files, b"keep"), put(files, b"drop")
    asked: list[str] = []

    def known(blob_id: str) -> bool:
        asked.append(blob_id)
        return blob_id == keep.blob_id

    assert blobs.sweep_orphans(known) == 1
    assert sorted(asked) == sorted([keep.blob_id, drop.blob_id])  # never an inline id
    assert files.exists(keep.blob_id) and not files.exists(drop.blob_id)
    assert inline == {INLINE_A: BODY_A, INLINE_B: BODY_B}
    blobs.close()
    assert not files.exists(keep.blob_id)  # the memory store empties itself on close
