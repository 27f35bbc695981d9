"""Object bodies behind one interface: ``BlobStore`` on the local disk or in memory.

Owns: the public surface of ``tessera.blobs``. Callers depend on ``BlobStore`` and ``BlobRef``
and pick an implementation once, at startup (``FilesystemBlobStore(root)`` or
``MemoryBlobStore()``, wrapped in ``WithInlineBlobs`` to serve small bodies the metadata
store keeps inline); async handlers stream request bodies in with ``write_stream``.
Must not: import from ``store``, ``oss`` or any HTTP layer (blobs sit below them).
"""

from __future__ import annotations

from tessera.blobs.base import (
    CHUNK_SIZE,
    BlobError,
    BlobNotFound,
    BlobRangeError,
    BlobReader,
    BlobRef,
    BlobStore,
    BlobWriter,
    InvalidBlobId,
    check_blob_id,
    new_blob_id,
    new_inline_blob_id,
)
from tessera.blobs.checksums import (
    CRC64_CHECK,
    Digest,
    StreamHasher,
    crc64,
    crc64_combine,
    crc64_concat,
    multipart_etag,
)
from tessera.blobs.filesystem import FilesystemBlobStore
from tessera.blobs.inline import InlineLookup, WithInlineBlobs
from tessera.blobs.memory import MemoryBlobStore
from tessera.blobs.stream import write_stream

__all__ = [
    "CHUNK_SIZE",
    "CRC64_CHECK",
    "BlobError",
    "BlobNotFound",
    "BlobRangeError",
    "BlobReader",
    "BlobRef",
    "BlobStore",
    "BlobWriter",
    "Digest",
    "FilesystemBlobStore",
    "InlineLookup",
    "InvalidBlobId",
    "MemoryBlobStore",
    "StreamHasher",
    "WithInlineBlobs",
    "check_blob_id",
    "crc64",
    "crc64_combine",
    "crc64_concat",
    "multipart_etag",
    "new_blob_id",
    "new_inline_blob_id",
    "write_stream",
]
