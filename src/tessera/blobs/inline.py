"""A ``BlobStore`` that also serves small bodies kept inline by the metadata store.

Owns: the read side of inline blobs. Small objects' bodies live in the metadata store, written
and freed in the same transactions as their rows (``OssMetadataStore.put_object(body=...)``);
every other blob is a file of the wrapped store. Readers of blob ids (GetObject, CopyObject,
UploadPartCopy, AppendObject's compose) go through this wrapper and need not know which kind
they hold: ``open_range``, ``size``, ``exists`` and ``compose`` look inline first (one point
read), then at the files.

Must not: write or delete inline bodies (that is the metadata store's transaction), or import
the metadata store (it receives a lookup function).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tessera.blobs.base import BlobError, BlobReader, BlobRef, BlobStore, BlobWriter, check_range
from tessera.blobs.checksums import crc64_concat
from tessera.blobs.memory import BytesReader

__all__ = ["InlineLookup", "WithInlineBlobs"]

#: ``blob_id -> body`` for inline blobs, ``None`` for any other id.
InlineLookup = Callable[[str], bytes | None]


class WithInlineBlobs:
    """``BlobStore``: inline bodies from ``lookup``, everything else from ``files``."""

    def __init__(
        self, files: BlobStore, lookup: InlineLookup, *, max_inline_bytes: int | None = None
    ) -> None:
        """``max_inline_bytes``: the largest body the metadata store keeps inline, if bounded;
        ``compose`` then looks up only parts that small (a multipart upload's parts are not)."""
        self.files = files
        self._lookup = lookup
        self._max_inline = max_inline_bytes

    def _maybe_inline(self, part: BlobRef) -> bool:
        if self._max_inline is not None and part.size > self._max_inline:
            return False
        return self._lookup(part.blob_id) is not None

    def open_writer(self) -> BlobWriter:
        return self.files.open_writer()

    def open_range(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader:
        data = self._lookup(blob_id)
        if data is None:
            return self.files.open_range(blob_id, start, end)
        return BytesReader(data, start, check_range(start, end, len(data)))

    def size(self, blob_id: str) -> int:
        data = self._lookup(blob_id)
        return self.files.size(blob_id) if data is None else len(data)

    def exists(self, blob_id: str) -> bool:
        return self._lookup(blob_id) is not None or self.files.exists(blob_id)

    def delete(self, blob_id: str) -> bool:
        """Deletes a blob file; inline bodies go with their rows, never through here."""
        return self.files.delete(blob_id)

    def compose(self, parts: Sequence[BlobRef]) -> BlobRef:
        """The wrapped store's compose when every part is a file; otherwise the parts are
        copied through a writer, one chunk at a time (an inline part is at most 64 KiB)."""
        inline = [self._maybe_inline(part) for part in parts]
        if not any(inline):
            return self.files.compose(parts)
        with self.files.open_writer() as writer:
            for part, is_inline in zip(parts, inline, strict=True):
                store: BlobStore = self if is_inline else self.files
                reader = store.open_range(part.blob_id)
                try:
                    if reader.length != part.size:
                        raise BlobError(f"blob {part.blob_id} is not {part.size} bytes long")
                    for chunk in reader:
                        writer.write(chunk)
                finally:
                    reader.close()
            ref = writer.commit()
        crc = crc64_concat((p.crc64, p.size) for p in parts)
        return BlobRef(ref.blob_id, ref.size, None, crc)

    def local_path(self, blob_id: str) -> str | None:
        if self._lookup(blob_id) is not None:
            return None
        return self.files.local_path(blob_id)

    def sweep_orphans(self, known: Callable[[str], bool]) -> int:
        return self.files.sweep_orphans(known)

    def close(self) -> None:
        self.files.close()
