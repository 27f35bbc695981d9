"""Blobs in a dictionary: the ``BlobStore`` contract without a disk, for tests.

Owns: ``MemoryBlobStore``. One lock guards the dictionary and the set of open writers, so every
method is atomic; a writer buffers its chunks privately until ``commit``.
Must not: behave differently from ``FilesystemBlobStore`` in anything the contract suite
(``tests/contract/test_blob_store.py``) can observe, or be used where data must survive.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Self

from tessera.blobs.base import (
    CHUNK_SIZE,
    BlobError,
    BlobNotFound,
    BlobRef,
    check_blob_id,
    check_range,
    new_blob_id,
)
from tessera.blobs.checksums import Digest, StreamHasher, crc64_concat

__all__ = ["MemoryBlobStore"]


class _MemoryWriter:
    def __init__(self, store: MemoryBlobStore) -> None:
        self._store = store
        self._blob_id = new_blob_id()
        self._chunks: list[bytes] | None = []
        self._hasher = StreamHasher()

    @property
    def blob_id(self) -> str:
        return self._blob_id

    def _open_chunks(self) -> list[bytes]:
        if self._chunks is None:
            raise BlobError(f"blob {self._blob_id}: the writer is closed")
        return self._chunks

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        data = bytes(chunk)  # a copy: the caller may reuse a mutable buffer
        self._open_chunks().append(data)
        self._hasher.update(data)

    def digest(self) -> Digest:
        return self._hasher.digest()

    def commit(self) -> BlobRef:
        data = b"".join(self._open_chunks())
        self._chunks = None
        self._store._publish(self, data)
        return BlobRef.from_digest(self._blob_id, self._hasher.digest())

    def abort(self) -> None:
        self._chunks = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


class BytesReader:
    """Slices of an immutable ``bytes``: a deleted blob stays readable through its reader."""

    def __init__(self, data: bytes, start: int, stop: int) -> None:
        self._view: memoryview | None = memoryview(data)
        self._pos, self._stop = start, stop
        self._length = stop - start

    @property
    def length(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._view is None or self._pos >= self._stop:
            self.close()
            raise StopIteration
        end = min(self._pos + CHUNK_SIZE, self._stop)
        chunk = bytes(self._view[self._pos : end])
        self._pos = end
        return chunk

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None


class MemoryBlobStore:
    """``BlobStore`` in process memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}
        self._writers: weakref.WeakSet[_MemoryWriter] = weakref.WeakSet()

    def open_writer(self) -> _MemoryWriter:
        writer = _MemoryWriter(self)
        with self._lock:
            self._writers.add(writer)
        return writer

    def _publish(self, writer: _MemoryWriter, data: bytes) -> None:
        with self._lock:
            if writer not in self._writers:
                raise BlobError(f"blob {writer.blob_id}: the write was swept")
            self._writers.discard(writer)
            self._blobs[writer.blob_id] = data

    def _get(self, blob_id: str) -> bytes:
        check_blob_id(blob_id)
        with self._lock:
            data = self._blobs.get(blob_id)
        if data is None:
            raise BlobNotFound(blob_id)
        return data

    def open_range(self, blob_id: str, start: int = 0, end: int | None = None) -> BytesReader:
        data = self._get(blob_id)
        return BytesReader(data, start, check_range(start, end, len(data)))

    def size(self, blob_id: str) -> int:
        return len(self._get(blob_id))

    def exists(self, blob_id: str) -> bool:
        check_blob_id(blob_id)
        with self._lock:
            return blob_id in self._blobs

    def delete(self, blob_id: str) -> bool:
        check_blob_id(blob_id)
        with self._lock:
            return self._blobs.pop(blob_id, None) is not None

    def compose(self, parts: Sequence[BlobRef]) -> BlobRef:
        pieces = [self._part_bytes(part) for part in parts]
        blob_id = new_blob_id()
        with self._lock:
            self._blobs[blob_id] = b"".join(pieces)
        size = sum(part.size for part in parts)
        return BlobRef(blob_id, size, None, crc64_concat((p.crc64, p.size) for p in parts))

    def _part_bytes(self, part: BlobRef) -> bytes:
        data = self._get(part.blob_id)
        if len(data) != part.size:
            raise BlobError(f"blob {part.blob_id} is not {part.size} bytes long")
        return data

    def local_path(self, blob_id: str) -> str | None:
        self._get(blob_id)
        return None

    def sweep_orphans(self, known: Callable[[str], bool]) -> int:
        with self._lock:
            orphans = [blob_id for blob_id in self._blobs if not known(blob_id)]
            for blob_id in orphans:
                del self._blobs[blob_id]
            swept_writers = len(self._writers)
            self._writers.clear()
        return len(orphans) + swept_writers

    def close(self) -> None:
        with self._lock:
            self._blobs.clear()
            self._writers.clear()
