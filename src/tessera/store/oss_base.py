"""The OSS metadata store: records, the ``OssMetadataStore`` protocol and the shared listing walk.

Owns: the frozen records of object-storage metadata (buckets, objects, multipart uploads and
parts), the protocol every implementation follows, and ``list_page`` — the one implementation of
ListObjects / ListMultipartUploads / ListBuckets semantics (prefix, delimiter, marker, max-keys,
CommonPrefixes), which each store drives through a range-scan callback over its sorted keys.

Ordering is the byte order of UTF-8, which for valid Unicode strings is code-point order: plain
Python ``str`` comparison, and SQLite ``TEXT`` under the ``BINARY`` collation (``memcmp``).

Listing rules (the same for objects, uploads and buckets):
- an *entry* is a key without the delimiter after the prefix, or the common prefix
  ``prefix + rest[: i + len(delimiter)]`` of the keys that have it; a page holds the entries
  greater than the marker in byte order, Contents and CommonPrefixes interleaved;
- ``max_keys`` counts Contents **and** CommonPrefixes together (OSS KeyCount is their sum); the
  page is truncated when another entry follows, and ``next_marker`` is then the last entry (a key
  or a common prefix), so paging never repeats or skips one;
- after a common prefix the walk seeks to the first key past every key that starts with it
  (``prefix_end``), so a page costs O(entries on the page) range seeks whatever the bucket size.

Blob references: writes that drop a row return the blob ids that no object or part row
references any more; the caller deletes those blobs *after* the transaction (DESIGN.md: new blob
first, swap the row, then delete the old blob). Sharing a blob between rows is thus safe.

Must not: validate names, sizes, ETags or limits, generate ids, read the clock or touch blobs —
that is the OSS service layer. Errors: ``NotFound(kind)`` with kind ``Bucket``, ``Object``,
``Upload`` or ``Upload.Part``; ``AlreadyExists("Bucket"|"Object")``; ``DeleteConflict("Bucket")``
while objects or uploads remain; ``ObjectChanged`` when an append lost a race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from tessera.errors import ClientError

T = TypeVar("T")

UserMeta = tuple[tuple[str, str], ...]


class ObjectType(StrEnum):
    NORMAL = "Normal"
    MULTIPART = "Multipart"
    APPENDABLE = "Appendable"


class ObjectChanged(ClientError):
    """The object is not the version the caller expected (a concurrent append or overwrite).

    ``current`` is the object as it is now (``None``: deleted), so the caller can answer
    ``PositionNotEqualToLength`` with the right ``x-oss-next-append-position``.
    """

    fmt = "The object {bucket}/{key} changed concurrently."

    def __init__(self, bucket: str, key: str, current: ObjectMeta | None) -> None:
        super().__init__(None, bucket=bucket, key=key)
        self.current = current


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    owner_account_id: str
    region: str
    created_at: str
    acl: str = "private"
    storage_class: str = "Standard"
    policy: str | None = None  # the bucket policy JSON as submitted


@dataclass(frozen=True, slots=True)
class ObjectAttrs:
    """What the client chose for an object: given at PutObject, or at InitiateMultipartUpload
    and applied at completion. ``user_meta`` holds lower-cased ``x-oss-meta-`` names in order."""

    content_type: str = "application/octet-stream"
    acl: str = "default"
    storage_class: str = "Standard"
    user_meta: UserMeta = ()
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    expires: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """One object. ``crc64`` is the unsigned CRC-64/XZ of the whole body; ``etag`` is stored
    as it is sent (without quotes is up to the caller, but consistently)."""

    bucket: str
    key: str
    blob_id: str
    size: int
    etag: str
    crc64: int
    last_modified: str
    object_type: ObjectType = ObjectType.NORMAL
    attrs: ObjectAttrs = field(default_factory=ObjectAttrs)

    @property
    def next_append_position(self) -> int | None:
        """``x-oss-next-append-position``: the size, for Appendable objects only."""
        return self.size if self.object_type is ObjectType.APPENDABLE else None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    bucket: str
    key: str
    upload_id: str
    initiated: str
    owner_account_id: str
    attrs: ObjectAttrs = field(default_factory=ObjectAttrs)


@dataclass(frozen=True, slots=True)
class Part:
    upload_id: str
    part_number: int
    blob_id: str
    size: int
    etag: str
    crc64: int
    last_modified: str


@dataclass(frozen=True, slots=True)
class ListPage(Generic[T]):
    """A listing page. ``next_marker`` (a key or a common prefix) is set only when truncated."""

    items: tuple[T, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_marker: str = ""


@dataclass(frozen=True, slots=True)
class UploadPage:
    uploads: tuple[MultipartUpload, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str = ""
    next_upload_id_marker: str = ""


@dataclass(frozen=True, slots=True)
class PartPage:
    parts: tuple[Part, ...]
    is_truncated: bool
    next_part_number_marker: int = 0


class OssMetadataStore(Protocol):
    """OSS metadata. Every method is thread-safe; every write is one atomic transaction."""

    def close(self) -> None: ...

    # buckets
    def create_bucket(self, bucket: Bucket) -> None: ...
    def get_bucket(self, name: str) -> Bucket | None:
        """The bucket; like ``get_bucket_object``, never older than the last committed write."""
        ...

    def delete_bucket(self, name: str) -> None: ...
    def list_buckets(
        self, owner_account_id: str, *, prefix: str = "", marker: str = "", max_keys: int = 100
    ) -> ListPage[Bucket]: ...
    def put_bucket_acl(self, name: str, acl: str) -> None: ...
    def put_bucket_policy(self, name: str, policy: str) -> None: ...
    def get_bucket_policy(self, name: str) -> str | None: ...
    def delete_bucket_policy(self, name: str) -> None: ...

    # objects
    def put_object(
        self,
        meta: ObjectMeta,
        *,
        if_absent: bool = False,
        expect_blob_id: str | None = None,
        body: bytes | None = None,
    ) -> str | None:
        """Store ``meta`` (replacing the key); the blob id it frees, if any.

        ``body``: the whole content of a small object, kept inline under ``meta.blob_id`` in
        the same transaction (no blob file). An inline body is freed with its last reference,
        in the transaction that frees it, so it is never among the returned blob ids."""
        ...

    def submit_put_object(
        self,
        meta: ObjectMeta,
        *,
        if_absent: bool = False,
        expect_blob_id: str | None = None,
        body: bytes | None = None,
    ) -> asyncio.Future[str | None]:
        """``put_object`` from an event loop, without blocking it: the future, of the running
        loop, resolves once the write is durable. An implementation may run the write's
        statements on that loop (the SQLite store commits them there, with the loop's other
        writes of that pass): it must then keep them short and never wait there for a lock. The
        future may refuse cancellation (the SQLite store's does: the write may be under way);
        a caller cancelled while awaiting it reads the outcome once it is done."""
        ...

    def read_inline(self, blob_id: str) -> bytes | None:
        """The inline body stored under ``blob_id``; ``None`` if that blob is not inline."""
        ...

    def get_object(self, bucket: str, key: str) -> ObjectMeta | None: ...
    def get_object_body(self, bucket: str, key: str) -> tuple[ObjectMeta, bytes | None] | None:
        """The object and, when its body is kept inline, that body: one read for a small
        GetObject. ``None`` if there is no such object."""
        ...

    def get_bucket_object(
        self, bucket: str, key: str, *, body: bool
    ) -> tuple[Bucket | None, ObjectMeta | None, bytes | None]:
        """The bucket, its object ``key`` and (with ``body``, when kept inline) the object's
        body, from one snapshot: what a GetObject or HeadObject needs before authorization,
        in one read. ``(None, None, None)`` if there is no such bucket. An implementation may
        answer from memory, but never with a snapshot older than the last committed write."""
        ...

    def delete_object(self, bucket: str, key: str) -> str | None: ...
    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[str]: ...
    def put_object_acl(self, bucket: str, key: str, acl: str) -> None: ...
    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 100,
    ) -> ListPage[ObjectMeta]: ...

    # multipart
    def create_upload(self, upload: MultipartUpload) -> None: ...
    def get_upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload | None: ...
    def put_part(self, bucket: str, key: str, part: Part) -> str | None: ...
    def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        part_number_marker: int = 0,
        max_parts: int = 1000,
    ) -> PartPage: ...
    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage: ...
    def complete_upload(
        self, upload_id: str, parts: Sequence[Part], meta: ObjectMeta, *, if_absent: bool = False
    ) -> list[str]: ...
    def abort_upload(self, bucket: str, key: str, upload_id: str) -> list[str]: ...

    # start-up orphan sweep
    def blob_is_referenced(self, blob_id: str) -> bool: ...


# ---- the listing walk ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    """Where a range scan starts: keys ``>= key`` (inclusive) or ``> key``.

    ``id_after`` (uploads only): with an exclusive bound, rows whose key equals ``key`` are still
    included when their upload id is greater than ``id_after``.
    """

    key: str
    inclusive: bool
    id_after: str | None = None


# scan(bound, below, limit): rows in key order from ``bound``, keys < ``below`` (None: no upper
# bound); at most ``limit`` are needed. The walk closes the iterator when it seeks elsewhere.
Scan = Callable[[Bound, "str | None", int], Iterator[T]]


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix`` (code-point
    order = UTF-8 byte order); ``None`` when there is none (empty or all U+10FFFF)."""
    text = prefix
    while text:
        last = ord(text[-1]) + 1
        if last <= 0x10FFFF:
            return text[:-1] + chr(0xE000 if last == 0xD800 else last)
        text = text[:-1]
    return None


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The CommonPrefixes entry that ``key`` rolls up into, or ``None`` for a plain entry."""
    if not delimiter:
        return None
    found = key.find(delimiter, len(prefix))
    return None if found < 0 else key[: found + len(delimiter)]


def start_bound(prefix: str, marker: str, id_after: str | None = None) -> Bound:
    """Start after ``marker`` when it lies at or past ``prefix``, otherwise at ``prefix``."""
    if marker and marker >= prefix:
        return Bound(marker, inclusive=False, id_after=id_after or None)
    return Bound(prefix, inclusive=True)


class _Walk(Generic[T]):
    """Collects up to ``want`` entries, seeking past each common prefix."""

    def __init__(
        self, key_of: Callable[[T], str], prefix: str, delimiter: str, marker: str, want: int
    ) -> None:
        self.key_of = key_of
        self.prefix = prefix
        self.delimiter = delimiter
        self.marker = marker
        self.want = want
        self.entries: list[tuple[str, T | None]] = []

    def full(self) -> bool:
        return len(self.entries) >= self.want

    def take(self, rows: Iterator[T]) -> Bound | None:
        """Consume ``rows``; the bound to seek to next, or ``None`` when the walk is over."""
        try:
            for row in rows:
                key = self.key_of(row)
                group = common_prefix(key, self.prefix, self.delimiter)
                if group is None:
                    self.entries.append((key, row))
                    if self.full():
                        return None
                    continue
                return self._seek_past(group)
            return None
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    def _seek_past(self, group: str) -> Bound | None:
        if group > self.marker:
            self.entries.append((group, None))
        end = prefix_end(group)
        return None if end is None or self.full() else Bound(end, inclusive=True)


def list_page(
    scan: Scan[T],
    key_of: Callable[[T], str],
    *,
    prefix: str,
    delimiter: str,
    marker: str,
    max_keys: int,
    first: Bound | None = None,
) -> ListPage[T]:
    """One page of entries after ``marker`` (``first`` overrides where the scan starts)."""
    if max_keys <= 0:
        return ListPage((), (), False)
    walk = _Walk(key_of, prefix, delimiter, marker, max_keys + 1)
    below = prefix_end(prefix) if prefix else None
    bound: Bound | None = first or start_bound(prefix, marker)
    while bound is not None and not walk.full():
        bound = walk.take(scan(bound, below, walk.want - len(walk.entries)))
    kept = walk.entries[:max_keys]
    truncated = len(walk.entries) > max_keys
    return ListPage(
        items=tuple(row for _, row in kept if row is not None),
        common_prefixes=tuple(key for key, row in kept if row is None),
        is_truncated=truncated,
        next_marker=kept[-1][0] if truncated else "",
    )


def upload_page(page: ListPage[MultipartUpload]) -> UploadPage:
    """ListMultipartUploads markers: the last entry's key, and its upload id if it is one."""
    upload_id = ""
    if page.is_truncated and page.items and page.items[-1].key == page.next_marker:
        upload_id = page.items[-1].upload_id
    return UploadPage(
        page.items, page.common_prefixes, page.is_truncated, page.next_marker, upload_id
    )


def part_page(parts: Sequence[Part], max_parts: int) -> PartPage:
    """A ListParts page from up to ``max_parts + 1`` parts in number order."""
    kept = tuple(parts[:max_parts])
    if len(parts) <= max_parts:
        return PartPage(kept, False, kept[-1].part_number if kept else 0)
    return PartPage(kept, True, kept[-1].part_number)


def freed(candidates: Sequence[str | None], is_referenced: Callable[[str], bool]) -> list[str]:
    """The distinct candidate blob ids that nothing references any more, in order."""
    seen = dict.fromkeys(blob for blob in candidates if blob)
    return [blob for blob in seen if not is_referenced(blob)]
