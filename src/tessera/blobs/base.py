"""The blob store: object bodies under generated ids, one interface, several implementations.

Owns: the ``BlobStore``, ``BlobWriter`` and ``BlobReader`` protocols, the ``BlobRef`` record,
blob id generation and validation, and the blob errors.

The interface is synchronous and blocking, on purpose: file I/O blocks, so it runs in worker
threads (``tessera.blobs.stream`` bridges an ASGI body to a writer). One writer or reader is
used by one thread at a time, but may move between threads; different writers and readers are
independent, and every store method is safe to call from any thread.

Ids come from ``new_blob_id`` (random hex) or, for bodies kept inline in the metadata store,
``new_inline_blob_id`` (time-ordered hex), and are checked by ``check_blob_id`` before they
reach a file system; nothing a client sends ever becomes a blob id or a path.

Must not: know about buckets, keys, metadata, HTTP or ETag formatting. Which blobs are live is
the metadata store's knowledge; the blob store only asks (``sweep_orphans``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from tessera.blobs.checksums import Digest
from tessera.errors import InternalError
from tessera.ids import random_hex

__all__ = [
    "CHUNK_SIZE",
    "BlobError",
    "BlobNotFound",
    "BlobRangeError",
    "BlobReader",
    "BlobRef",
    "BlobStore",
    "BlobWriter",
    "InvalidBlobId",
    "check_blob_id",
    "check_range",
    "new_blob_id",
    "new_inline_blob_id",
]

CHUNK_SIZE = 256 * 1024  # the most a reader yields at once
_BLOB_ID = re.compile(r"[0-9a-f]{32}")


class BlobError(InternalError):
    """A blob operation failed. Never the client's fault: clients never name blobs."""

    fmt = "The blob store refused the operation."


class InvalidBlobId(BlobError):
    fmt = "A blob id is 32 lower-case hex digits."


class BlobNotFound(BlobError):
    """The blob does not exist (deleted by an overwrite that won a race, or lost)."""

    fmt = "The blob {blob_id} does not exist."

    def __init__(self, blob_id: str) -> None:
        super().__init__(None, blob_id=blob_id)
        self.blob_id = blob_id


class BlobRangeError(BlobError):
    """A range outside ``0 <= start <= end <= size``; the HTTP layer checks ranges first."""

    fmt = "The range [{start}, {end}) is outside a blob of {size} bytes."

    def __init__(self, start: int, end: int, size: int) -> None:
        super().__init__(None, start=start, end=end, size=size)
        self.start, self.end, self.size = start, end, size


def new_blob_id() -> str:
    """32 random hex: blob files fan out over directories by the first two characters."""
    return random_hex(16)


def new_inline_blob_id(clock_ns: Callable[[], int] = time.time_ns) -> str:
    """32 hex for a body kept inline in the metadata store: the time in microseconds (14 hex)
    then 18 random hex. Time-ordered, so storing the body and the ``blob_id`` index entry of its
    object append to their B-trees; random ids dirtied a page of each per small PUT (a probe of
    the store alone: 30% more inline puts per second)."""
    return f"{clock_ns() // 1000:014x}{random_hex(9)}"


def check_blob_id(blob_id: str) -> str:
    """``blob_id`` unchanged if it is well formed; ``InvalidBlobId`` otherwise."""
    if not isinstance(blob_id, str) or _BLOB_ID.fullmatch(blob_id) is None:
        raise InvalidBlobId()
    return blob_id


def check_range(start: int, end: int | None, size: int) -> int:
    """The resolved ``end`` of the half-open range ``[start, end)`` in a blob of ``size``."""
    stop = size if end is None else end
    if not 0 <= start <= stop <= size:
        raise BlobRangeError(start, stop, size)
    return stop


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class BlobRef:
    """A committed blob. ``md5_hex`` is upper-case (the ETag's form).

    ``md5_hex`` is ``None`` for a blob made by ``compose``: its content MD5 is never computed,
    since OSS multipart and append ETags are not content MD5s. ``crc64`` is always exact.
    """

    blob_id: str
    size: int
    md5_hex: str | None
    crc64: int

    @classmethod
    def from_digest(cls, blob_id: str, digest: Digest) -> BlobRef:
        return cls(blob_id, digest.size, digest.md5_hex, digest.crc64)


class BlobWriter(Protocol):
    """A blob being written: ``write`` chunks, then ``commit`` or ``abort``.

    Nothing is visible under ``blob_id`` until ``commit`` returns, and then it is durable.
    ``abort`` (or leaving the ``with`` block without committing) discards everything; it is
    idempotent. Writing after either raises ``BlobError``.
    """

    @property
    def blob_id(self) -> str: ...

    def write(self, chunk: bytes | bytearray | memoryview) -> None: ...

    def digest(self) -> Digest:
        """Size and checksums of what was written so far (to check a Content-MD5 first)."""
        ...

    def commit(self) -> BlobRef: ...

    def abort(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class BlobReader(Protocol):
    """Chunks of at most ``CHUNK_SIZE`` bytes of one range, ``length`` bytes in all.

    The blob was opened when the reader was made, so deleting it afterwards does not cut the
    read short. ``close`` releases it early; exhaustion closes it too.
    """

    @property
    def length(self) -> int: ...

    def __iter__(self) -> Iterator[bytes]: ...

    def __next__(self) -> bytes: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Immutable blobs under generated ids. See the module docstring for threading."""

    def open_writer(self) -> BlobWriter:
        """A writer for a new blob with a fresh id."""
        ...

    def open_range(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader:
        """Bytes ``[start, end)`` (``end`` None: to the end); ``BlobRangeError`` if outside."""
        ...

    def size(self, blob_id: str) -> int:
        """The blob's size in bytes; ``BlobNotFound`` if it does not exist."""
        ...

    def exists(self, blob_id: str) -> bool: ...

    def delete(self, blob_id: str) -> bool:
        """Remove the blob; ``False`` if there was none (deleting is idempotent)."""
        ...

    def compose(self, parts: Sequence[BlobRef]) -> BlobRef:
        """A new blob holding the parts' bytes in order; the parts stay as they are.

        The CRC comes from the parts' CRCs (``crc64_concat``), so no byte passes through
        Python where the platform can copy between files itself. A part that is missing or
        whose size differs from its ref raises ``BlobError`` and creates nothing.
        """
        ...

    def local_path(self, blob_id: str) -> str | None:
        """A file holding the blob, for zero-copy sending; ``None`` if the store has none."""
        ...

    def sweep_orphans(self, known: Callable[[str], bool]) -> int:
        """Delete unfinished writes and every blob for which ``known(blob_id)`` is false.

        For start-up, before any writer is open: it discards writes in progress. Returns the
        number of files or blobs removed.
        """
        ...

    def close(self) -> None: ...
