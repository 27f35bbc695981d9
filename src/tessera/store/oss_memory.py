"""The in-memory OSS metadata store: the same contract as SQLite, in sorted lists and dicts.

Owns: a complete ``OssMetadataStore`` for tests and throwaway servers. One re-entrant lock makes
every method atomic; each bucket keeps its keys (and its uploads' ``(key, upload_id)``) in a
sorted list, so the listing walk of ``oss_base.list_page`` seeks with ``bisect`` just as SQLite
seeks in its primary key. A reference count per blob id decides which blobs are freed.
Must not: persist anything, or differ in behaviour from the SQLite store — the contract suite
(``tests/contract/test_oss_metadata.py``) runs against both.
"""

from __future__ import annotations

import asyncio
import threading
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import TypeVar

from tessera.errors import AlreadyExists, DeleteConflict, NotFound
from tessera.store.oss_base import (
    Bound,
    Bucket,
    ListPage,
    MultipartUpload,
    ObjectChanged,
    ObjectMeta,
    Part,
    PartPage,
    UploadPage,
    freed,
    list_page,
    part_page,
    start_bound,
    upload_page,
)

T = TypeVar("T")
_first = itemgetter(0)


def _remove_sorted(items: list[str], item: str) -> None:
    del items[bisect_left(items, item)]


def _from(items: Sequence[T], start: int) -> Iterator[T]:
    """``items[start:]`` lazily, without copying the tail of a large list."""
    for index in range(start, len(items)):
        yield items[index]


@dataclass
class _Upload:
    record: MultipartUpload
    parts: dict[int, Part] = field(default_factory=dict)


@dataclass
class _BucketState:
    bucket: Bucket
    keys: list[str] = field(default_factory=list)  # sorted
    objects: dict[str, ObjectMeta] = field(default_factory=dict)
    upload_order: list[tuple[str, str]] = field(default_factory=list)  # sorted (key, upload_id)

    def scan_objects(self, bound: Bound, below: str | None, limit: int) -> Iterator[ObjectMeta]:
        seek = bisect_left if bound.inclusive else bisect_right
        for key in _from(self.keys, seek(self.keys, bound.key)):
            if below is not None and key >= below:
                return
            yield self.objects[key]

    def upload_start(self, bound: Bound) -> int:
        order = self.upload_order
        if bound.inclusive:
            return bisect_left(order, bound.key, key=_first)
        if bound.id_after is not None:
            return bisect_right(order, (bound.key, bound.id_after))
        return bisect_right(order, bound.key, key=_first)


class MemoryOssStore:
    """``OssMetadataStore`` in process memory."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._buckets: dict[str, _BucketState] = {}
        self._uploads: dict[str, _Upload] = {}
        self._refs: Counter[str] = Counter()
        self._inline: dict[str, bytes] = {}

    def close(self) -> None:
        """Nothing to release."""

    # ---- helpers (callers hold the lock) --------------------------------------------------

    def _state(self, name: str) -> _BucketState:
        state = self._buckets.get(name)
        if state is None:
            raise NotFound("Bucket", name)
        return state

    def _upload(self, bucket: str, key: str, upload_id: str) -> _Upload:
        found = self._uploads.get(upload_id)
        if found is None or (found.record.bucket, found.record.key) != (bucket, key):
            raise NotFound("Upload", upload_id)
        return found

    def _release(self, blobs: Sequence[str | None]) -> list[str]:
        for blob in blobs:
            if blob:
                self._refs[blob] -= 1
                if self._refs[blob] <= 0:
                    del self._refs[blob]
        released = freed(blobs, lambda blob: self._refs[blob] > 0)
        return [blob for blob in released if self._inline.pop(blob, None) is None]

    def _store_object(self, state: _BucketState, meta: ObjectMeta) -> str | None:
        old = state.objects.get(meta.key)
        if old is None:
            insort(state.keys, meta.key)
        state.objects[meta.key] = meta
        self._refs[meta.blob_id] += 1
        return None if old is None else old.blob_id

    def _drop_object(self, state: _BucketState, key: str) -> str | None:
        old = state.objects.pop(key, None)
        if old is None:
            return None
        _remove_sorted(state.keys, key)
        return old.blob_id

    def _drop_upload(self, upload: _Upload) -> list[str]:
        record = upload.record
        del self._uploads[record.upload_id]
        order = self._buckets[record.bucket].upload_order
        del order[bisect_left(order, (record.key, record.upload_id))]
        return [part.blob_id for part in upload.parts.values()]

    # ---- buckets --------------------------------------------------------------------------

    def create_bucket(self, bucket: Bucket) -> None:
        with self._lock:
            if bucket.name in self._buckets:
                raise AlreadyExists("Bucket", bucket.name)
            self._buckets[bucket.name] = _BucketState(bucket)

    def get_bucket(self, name: str) -> Bucket | None:
        with self._lock:
            state = self._buckets.get(name)
            return None if state is None else state.bucket

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            state = self._state(name)
            if state.keys or state.upload_order:
                raise DeleteConflict("Bucket")
            del self._buckets[name]

    def list_buckets(
        self, owner_account_id: str, *, prefix: str = "", marker: str = "", max_keys: int = 100
    ) -> ListPage[Bucket]:
        with self._lock:
            names = sorted(
                name
                for name, state in self._buckets.items()
                if state.bucket.owner_account_id == owner_account_id
            )
            buckets = {name: self._buckets[name].bucket for name in names}

        def scan(bound: Bound, below: str | None, limit: int) -> Iterator[Bucket]:
            seek = bisect_left if bound.inclusive else bisect_right
            for name in _from(names, seek(names, bound.key)):
                if below is not None and name >= below:
                    return
                yield buckets[name]

        return list_page(
            scan, _bucket_name, prefix=prefix, delimiter="", marker=marker, max_keys=max_keys
        )

    def put_bucket_acl(self, name: str, acl: str) -> None:
        with self._lock:
            state = self._state(name)
            state.bucket = replace(state.bucket, acl=acl)

    def put_bucket_policy(self, name: str, policy: str) -> None:
        with self._lock:
            state = self._state(name)
            state.bucket = replace(state.bucket, policy=policy)

    def get_bucket_policy(self, name: str) -> str | None:
        with self._lock:
            return self._state(name).bucket.policy

    def delete_bucket_policy(self, name: str) -> None:
        with self._lock:
            state = self._state(name)
            state.bucket = replace(state.bucket, policy=None)

    # ---- objects --------------------------------------------------------------------------

    def put_object(
        self,
        meta: ObjectMeta,
        *,
        if_absent: bool = False,
        expect_blob_id: str | None = None,
        body: bytes | None = None,
    ) -> str | None:
        with self._lock:
            state = self._state(meta.bucket)
            self._check_expectations(state, meta, if_absent, expect_blob_id)
            if body is not None:
                self._inline[meta.blob_id] = bytes(body)
            released = self._release([self._store_object(state, meta)])
        return released[0] if released else None

    def submit_put_object(
        self,
        meta: ObjectMeta,
        *,
        if_absent: bool = False,
        expect_blob_id: str | None = None,
        body: bytes | None = None,
    ) -> asyncio.Future[str | None]:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        try:
            released = self.put_object(
                meta, if_absent=if_absent, expect_blob_id=expect_blob_id, body=body
            )
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(released)
        return future

    def read_inline(self, blob_id: str) -> bytes | None:
        with self._lock:
            return self._inline.get(blob_id)

    @staticmethod
    def _check_expectations(
        state: _BucketState, meta: ObjectMeta, if_absent: bool, expect_blob_id: str | None
    ) -> None:
        current = state.objects.get(meta.key)
        if if_absent and current is not None:
            raise AlreadyExists("Object", meta.key)
        if expect_blob_id is not None and (current is None or current.blob_id != expect_blob_id):
            raise ObjectChanged(meta.bucket, meta.key, current)

    def get_object(self, bucket: str, key: str) -> ObjectMeta | None:
        with self._lock:
            state = self._buckets.get(bucket)
            return None if state is None else state.objects.get(key)

    def get_object_body(self, bucket: str, key: str) -> tuple[ObjectMeta, bytes | None] | None:
        with self._lock:
            state = self._buckets.get(bucket)
            meta = None if state is None else state.objects.get(key)
            return None if meta is None else (meta, self._inline.get(meta.blob_id))

    def get_bucket_object(
        self, bucket: str, key: str, *, body: bool
    ) -> tuple[Bucket | None, ObjectMeta | None, bytes | None]:
        with self._lock:
            state = self._buckets.get(bucket)
            if state is None:
                return None, None, None
            meta = state.objects.get(key)
            data = self._inline.get(meta.blob_id) if body and meta is not None else None
            return state.bucket, meta, data

    def delete_object(self, bucket: str, key: str) -> str | None:
        released = self.delete_objects(bucket, [key])
        return released[0] if released else None

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[str]:
        with self._lock:
            state = self._state(bucket)
            return self._release([self._drop_object(state, key) for key in keys])

    def put_object_acl(self, bucket: str, key: str, acl: str) -> None:
        with self._lock:
            state = self._state(bucket)
            meta = state.objects.get(key)
            if meta is None:
                raise NotFound("Object", key)
            state.objects[key] = replace(meta, attrs=replace(meta.attrs, acl=acl))

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 100,
    ) -> ListPage[ObjectMeta]:
        with self._lock:
            state = self._state(bucket)
            return list_page(
                state.scan_objects,
                _object_key,
                prefix=prefix,
                delimiter=delimiter,
                marker=marker,
                max_keys=max_keys,
            )

    # ---- multipart ------------------------------------------------------------------------

    def create_upload(self, upload: MultipartUpload) -> None:
        with self._lock:
            state = self._state(upload.bucket)
            if upload.upload_id in self._uploads:
                raise AlreadyExists("Upload", upload.upload_id)
            self._uploads[upload.upload_id] = _Upload(upload)
            insort(state.upload_order, (upload.key, upload.upload_id))

    def get_upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload | None:
        with self._lock:
            found = self._uploads.get(upload_id)
            if found is None or (found.record.bucket, found.record.key) != (bucket, key):
                return None
            return found.record

    def put_part(self, bucket: str, key: str, part: Part) -> str | None:
        with self._lock:
            upload = self._upload(bucket, key, part.upload_id)
            old = upload.parts.get(part.part_number)
            upload.parts[part.part_number] = part
            self._refs[part.blob_id] += 1
            released = self._release([None if old is None else old.blob_id])
        return released[0] if released else None

    def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        part_number_marker: int = 0,
        max_parts: int = 1000,
    ) -> PartPage:
        with self._lock:
            upload = self._upload(bucket, key, upload_id)
            numbers = sorted(n for n in upload.parts if n > part_number_marker)
            chosen = [upload.parts[n] for n in numbers[: max(max_parts, 0) + 1]]
        return part_page(chosen, max_parts)

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage:
        with self._lock:
            state = self._state(bucket)

            def scan(bound: Bound, below: str | None, limit: int) -> Iterator[MultipartUpload]:
                for key, upload_id in _from(state.upload_order, state.upload_start(bound)):
                    if below is not None and key >= below:
                        return
                    yield self._uploads[upload_id].record

            page = list_page(
                scan,
                _upload_key,
                prefix=prefix,
                delimiter=delimiter,
                marker=key_marker,
                max_keys=max_uploads,
                first=start_bound(prefix, key_marker, upload_id_marker),
            )
        return upload_page(page)

    def complete_upload(
        self, upload_id: str, parts: Sequence[Part], meta: ObjectMeta, *, if_absent: bool = False
    ) -> list[str]:
        with self._lock:
            upload = self._upload(meta.bucket, meta.key, upload_id)
            for part in parts:
                stored = upload.parts.get(part.part_number)
                if stored is None or stored.blob_id != part.blob_id:
                    raise NotFound("Upload.Part", str(part.part_number))
            state = self._state(meta.bucket)
            self._check_expectations(state, meta, if_absent, None)
            part_blobs = self._drop_upload(upload)
            return self._release([self._store_object(state, meta), *part_blobs])

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> list[str]:
        with self._lock:
            return self._release(self._drop_upload(self._upload(bucket, key, upload_id)))

    # ---- orphan sweep ---------------------------------------------------------------------

    def blob_is_referenced(self, blob_id: str) -> bool:
        with self._lock:
            return self._refs[blob_id] > 0


def _bucket_name(bucket: Bucket) -> str:
    return bucket.name


def _object_key(meta: ObjectMeta) -> str:
    return meta.key


def _upload_key(upload: MultipartUpload) -> str:
    return upload.key
