"""The SQLite OSS metadata store: the ``oss_*`` tables, beside the identity tables in one file.

Owns: the SQL of every ``OssMetadataStore`` method, one connection per thread (WAL) for reads,
every write as a work of the store's commit queue (``store.commit_queue``: one writer thread,
``BEGIN IMMEDIATE`` batches, so check-then-write, row swaps and blob reference checks are atomic
across threads and processes, concurrent writes share an fsync, and no write polls SQLite's
lock while another commits), and the range-scan callbacks that ``oss_base.list_page``
walks: each is one ``ORDER BY`` query on a primary key with a lower and an upper bound and a
``LIMIT``, read lazily, never ``OFFSET`` and never the whole bucket. GetObject/HeadObject's
read (``get_bucket_object``) and ``get_bucket`` are answered again from memory while no
connection of any process has committed since (``store.read_cache``).
Must not: validate input, touch blobs, or let an ``sqlite3`` exception escape (errors go through
``tessera.store.sqlite.translate_errors``). Schema comes only from the numbered migrations,
applied by the shared runner, so this store and the identity store can open the same file.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tessera.errors import AlreadyExists, DeleteConflict, NotFound
from tessera.store.commit_queue import Commit
from tessera.store.oss_base import (
    Bound,
    Bucket,
    ListPage,
    MultipartUpload,
    ObjectAttrs,
    ObjectChanged,
    ObjectMeta,
    ObjectType,
    Part,
    PartPage,
    Scan,
    UploadPage,
    freed,
    list_page,
    part_page,
    start_bound,
    upload_page,
)
from tessera.store.read_cache import StampedCache, WalStamp
from tessera.store.sqlite import SqliteConnections, translate_errors

Row = sqlite3.Row
StatementHook = Callable[[str], None]
BucketObject = tuple[Bucket | None, ObjectMeta | None, bytes | None]
#: what a remembered bucket and object row count for beside a body (``StampedCache`` weight)
_ROW_WEIGHT = 1024

# an object row's columns in the order of ``_object_values``, as positional parameters:
# binding sixteen named ones cost ~2 µs more per small PutObject
_UPSERT_OBJECT = (
    "INSERT OR REPLACE INTO oss_objects (bucket, object_key, blob_id, size, etag, crc64,"
    " last_modified, object_type, content_type, acl, storage_class, user_meta, cache_control,"
    " content_disposition, content_encoding, expires)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: a new key's row and inline body in one statement (migration 0004: a view's trigger)
_INSERT_NEW_OBJECT = (
    "INSERT INTO oss_new_objects (bucket, object_key, blob_id, size, etag, crc64, last_modified,"
    " object_type, content_type, acl, storage_class, user_meta, cache_control,"
    " content_disposition, content_encoding, expires, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_UPLOAD = (
    "INSERT INTO oss_uploads (bucket, object_key, upload_id, initiated, owner_account_id,"
    " content_type, acl, storage_class, user_meta, cache_control, content_disposition,"
    " content_encoding, expires) VALUES (:bucket, :key, :upload_id, :initiated, :owner,"
    " :content_type, :acl, :storage_class, :user_meta, :cache_control, :content_disposition,"
    " :content_encoding, :expires)"
)
_BUCKET_IN_USE = (
    "SELECT EXISTS (SELECT 1 FROM oss_objects WHERE bucket = :b)"
    " OR EXISTS (SELECT 1 FROM oss_uploads WHERE bucket = :b)"
)
_UPSERT_PART = (
    "INSERT OR REPLACE INTO oss_parts (upload_id, part_number, blob_id, size, etag, crc64,"
    " last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# Rows of the hot tables are selected in these column orders (literal in every statement) and
# mapped by position (``_bucket`` / ``_object``): a lookup by name in ``sqlite3.Row`` scans the
# columns. Buckets: name, owner_account_id, region, created_at, acl, storage_class, policy.
# Objects: bucket, object_key, blob_id, size, etag, crc64, last_modified, object_type, then
# the attributes: content_type, acl, storage_class, user_meta, cache_control,
# content_disposition, content_encoding, expires.
_ATTR_NAMES = (
    "content_type",
    "acl",
    "storage_class",
    "user_meta",
    "cache_control",
    "content_disposition",
    "content_encoding",
    "expires",
)
_BUCKET_WIDTH = 7
_OBJECT_WIDTH = 16
_SELECT_BUCKET = (
    "SELECT name, owner_account_id, region, created_at, acl, storage_class, policy"
    " FROM oss_buckets WHERE name = ?"
)
_SELECT_OBJECT = (
    "SELECT bucket, object_key, blob_id, size, etag, crc64, last_modified, object_type,"
    " content_type, acl, storage_class, user_meta, cache_control, content_disposition,"
    " content_encoding, expires FROM oss_objects WHERE bucket = ? AND object_key = ?"
)
_INSERT_INLINE = "INSERT INTO oss_inline_blobs (blob_id, data) VALUES (?, ?)"
_SELECT_INLINE = "SELECT data FROM oss_inline_blobs WHERE blob_id = ?"
_SELECT_OBJECT_BODY = (
    "SELECT o.bucket, o.object_key, o.blob_id, o.size, o.etag, o.crc64, o.last_modified,"
    " o.object_type, o.content_type, o.acl, o.storage_class, o.user_meta, o.cache_control,"
    " o.content_disposition, o.content_encoding, o.expires, i.data FROM oss_objects o"
    " LEFT JOIN oss_inline_blobs i ON i.blob_id = o.blob_id"
    " WHERE o.bucket = ? AND o.object_key = ?"
)
# one row while the bucket exists (object columns NULL without the object), then the inline
# body (with_body) or NULL
_SELECT_BUCKET_OBJECT = {
    False: "SELECT b.name, b.owner_account_id, b.region, b.created_at, b.acl, b.storage_class,"
    " b.policy, o.bucket, o.object_key, o.blob_id, o.size, o.etag, o.crc64, o.last_modified,"
    " o.object_type, o.content_type, o.acl, o.storage_class, o.user_meta, o.cache_control,"
    " o.content_disposition, o.content_encoding, o.expires, NULL FROM oss_buckets b"
    " LEFT JOIN oss_objects o ON o.bucket = b.name AND o.object_key = ?2 WHERE b.name = ?1",
    True: "SELECT b.name, b.owner_account_id, b.region, b.created_at, b.acl, b.storage_class,"
    " b.policy, o.bucket, o.object_key, o.blob_id, o.size, o.etag, o.crc64, o.last_modified,"
    " o.object_type, o.content_type, o.acl, o.storage_class, o.user_meta, o.cache_control,"
    " o.content_disposition, o.content_encoding, o.expires, i.data FROM oss_buckets b"
    " LEFT JOIN oss_objects o ON o.bucket = b.name AND o.object_key = ?2"
    " LEFT JOIN oss_inline_blobs i ON i.blob_id = o.blob_id WHERE b.name = ?1",
}
_SELECT_BUCKET_AND_BLOB_ID = (
    "SELECT EXISTS (SELECT 1 FROM oss_buckets WHERE name = ?1), (SELECT blob_id FROM oss_objects"
    " WHERE bucket = ?1 AND object_key = ?2)"
)
_DELETE_INLINE = "DELETE FROM oss_inline_blobs WHERE blob_id = ?"
_REFERENCED = (
    "SELECT EXISTS (SELECT 1 FROM oss_objects WHERE blob_id = :b)"
    " OR EXISTS (SELECT 1 FROM oss_parts WHERE blob_id = :b)"
)

# Range scans: ``key >= :k`` bounds the index range; ``(key > :k OR :incl)`` only filters the
# row equal to :k. Two variants each, with and without an upper bound, all literal SQL.
_SCAN_OBJECTS = {
    False: "SELECT bucket, object_key, blob_id, size, etag, crc64, last_modified, object_type,"
    " content_type, acl, storage_class, user_meta, cache_control, content_disposition,"
    " content_encoding, expires FROM oss_objects WHERE bucket = :owner AND object_key >= :k"
    " AND (object_key > :k OR :incl) ORDER BY object_key LIMIT :limit",
    True: "SELECT bucket, object_key, blob_id, size, etag, crc64, last_modified, object_type,"
    " content_type, acl, storage_class, user_meta, cache_control, content_disposition,"
    " content_encoding, expires FROM oss_objects WHERE bucket = :owner AND object_key >= :k"
    " AND (object_key > :k OR :incl) AND object_key < :below ORDER BY object_key LIMIT :limit",
}
_SCAN_UPLOADS = {
    False: "SELECT * FROM oss_uploads WHERE bucket = :owner AND object_key >= :k"
    " AND (object_key > :k OR (:incl AND upload_id > :id)) ORDER BY object_key, upload_id"
    " LIMIT :limit",
    True: "SELECT * FROM oss_uploads WHERE bucket = :owner AND object_key >= :k"
    " AND (object_key > :k OR (:incl AND upload_id > :id)) AND object_key < :below"
    " ORDER BY object_key, upload_id LIMIT :limit",
}
_SCAN_BUCKETS = {
    False: "SELECT name, owner_account_id, region, created_at, acl, storage_class, policy"
    " FROM oss_buckets WHERE owner_account_id = :owner"
    " AND name >= :k AND (name > :k OR :incl) ORDER BY name LIMIT :limit",
    True: "SELECT name, owner_account_id, region, created_at, acl, storage_class, policy"
    " FROM oss_buckets WHERE owner_account_id = :owner"
    " AND name >= :k AND (name > :k OR :incl) AND name < :below ORDER BY name LIMIT :limit",
}


def open_sqlite_oss_store(
    path: str | os.PathLike[str],
    *,
    busy_timeout: float = 30.0,
    on_statement: StatementHook | None = None,
) -> SqliteOssStore:
    """Open (creating and migrating as needed) the OSS metadata store at ``path``; the file may
    be the identity store's own. ``on_statement`` sees every SQL statement (tests, debugging)."""
    store = SqliteOssStore(path, busy_timeout=busy_timeout, on_statement=on_statement)
    store.migrate()
    return store


# ---- rows <-> records ---------------------------------------------------------------------


def _attrs_at(row: Row | tuple[Any, ...], at: int) -> ObjectAttrs:
    """The object attributes in the columns of ``row`` from ``at`` (in ``_ATTR_NAMES`` order)."""
    user_meta = row[at + 3]
    return ObjectAttrs(
        content_type=row[at],
        acl=row[at + 1],
        storage_class=row[at + 2],
        user_meta=()
        if user_meta == "[]"
        else tuple((str(n), str(v)) for n, v in json.loads(user_meta)),
        cache_control=row[at + 4],
        content_disposition=row[at + 5],
        content_encoding=row[at + 6],
        expires=row[at + 7],
    )


def _user_meta_json(attrs: ObjectAttrs) -> str:
    return json.dumps([list(pair) for pair in attrs.user_meta]) if attrs.user_meta else "[]"


def _attr_params(attrs: ObjectAttrs) -> dict[str, Any]:
    return {
        "content_type": attrs.content_type,
        "acl": attrs.acl,
        "storage_class": attrs.storage_class,
        "user_meta": _user_meta_json(attrs),
        "cache_control": attrs.cache_control,
        "content_disposition": attrs.content_disposition,
        "content_encoding": attrs.content_encoding,
        "expires": attrs.expires,
    }


def _bucket(row: Row, at: int = 0) -> Bucket:
    """The bucket in the columns of ``row`` from ``at`` (in bucket column order)."""
    return Bucket(*row[at : at + _BUCKET_WIDTH])


def _object(row: Row, at: int = 0) -> ObjectMeta:
    """The object in the columns of ``row`` from ``at`` (in object column order)."""
    return ObjectMeta(
        bucket=row[at],
        key=row[at + 1],
        blob_id=row[at + 2],
        size=int(row[at + 3]),
        etag=row[at + 4],
        crc64=int(row[at + 5]),
        last_modified=row[at + 6],
        object_type=_OBJECT_TYPES[row[at + 7]],
        attrs=_attrs_at(row, at + 8),
    )


_OBJECT_TYPES = {kind.value: kind for kind in ObjectType}


def _object_values(meta: ObjectMeta) -> tuple[Any, ...]:
    """``meta`` as the values of an object row, in column order."""
    attrs = meta.attrs
    return (
        meta.bucket,
        meta.key,
        meta.blob_id,
        meta.size,
        meta.etag,
        str(meta.crc64),
        meta.last_modified,
        str(meta.object_type),
        attrs.content_type,
        attrs.acl,
        attrs.storage_class,
        _user_meta_json(attrs),
        attrs.cache_control,
        attrs.content_disposition,
        attrs.content_encoding,
        attrs.expires,
    )


def _upload(row: Row) -> MultipartUpload:
    return MultipartUpload(
        bucket=row["bucket"],
        key=row["object_key"],
        upload_id=row["upload_id"],
        initiated=row["initiated"],
        owner_account_id=row["owner_account_id"],
        attrs=_attrs_at(tuple(row[name] for name in _ATTR_NAMES), 0),
    )


def _part(row: Row) -> Part:
    return Part(
        upload_id=row["upload_id"],
        part_number=int(row["part_number"]),
        blob_id=row["blob_id"],
        size=int(row["size"]),
        etag=row["etag"],
        crc64=int(row["crc64"]),
        last_modified=row["last_modified"],
    )


# ---- small queries inside a transaction ---------------------------------------------------


def _require_bucket(conn: sqlite3.Connection, name: str) -> None:
    if conn.execute("SELECT 1 FROM oss_buckets WHERE name = ?", (name,)).fetchone() is None:
        raise NotFound("Bucket", name)


def _current_object(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectMeta | None:
    row = conn.execute(_SELECT_OBJECT, (bucket, key)).fetchone()
    return None if row is None else _object(row)


def _require_upload(conn: sqlite3.Connection, bucket: str, key: str, upload_id: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM oss_uploads WHERE bucket = ? AND object_key = ? AND upload_id = ?",
        (bucket, key, upload_id),
    ).fetchone()
    if row is None:
        raise NotFound("Upload", upload_id)


def _part_blobs(conn: sqlite3.Connection, upload_id: str) -> dict[int, str]:
    rows = conn.execute(
        "SELECT part_number, blob_id FROM oss_parts WHERE upload_id = ?", (upload_id,)
    ).fetchall()
    return {int(row[0]): str(row[1]) for row in rows}


def _drop_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    """Delete an upload and its parts; returns the part blob ids (referenced or not)."""
    blobs = list(_part_blobs(conn, upload_id).values())
    conn.execute("DELETE FROM oss_parts WHERE upload_id = ?", (upload_id,))
    conn.execute("DELETE FROM oss_uploads WHERE upload_id = ?", (upload_id,))
    return blobs


def _is_referenced(conn: sqlite3.Connection, blob_id: str) -> bool:
    return bool(conn.execute(_REFERENCED, {"b": blob_id}).fetchone()[0])


def _freed(conn: sqlite3.Connection, candidates: Sequence[str | None]) -> list[str]:
    """The blob files the caller must delete: freed blob ids whose body was not inline (an
    inline body is deleted here, in the transaction that frees it)."""
    released = freed(candidates, lambda blob: _is_referenced(conn, blob))
    return [blob for blob in released if conn.execute(_DELETE_INLINE, (blob,)).rowcount == 0]


def _remove_object(conn: sqlite3.Connection, bucket: str, key: str) -> str | None:
    row = conn.execute(
        "DELETE FROM oss_objects WHERE bucket = ? AND object_key = ? RETURNING blob_id",
        (bucket, key),
    ).fetchone()
    return None if row is None else str(row[0])


def _check_expectations(
    conn: sqlite3.Connection, meta: ObjectMeta, if_absent: bool, expect_blob_id: str | None
) -> str | None:
    """The current blob id, after refusing a missing bucket, a forbidden overwrite or an
    unexpected version (bucket and row in one statement: this runs for every PutObject)."""
    params = (meta.bucket, meta.key)
    bucket_exists, found = conn.execute(_SELECT_BUCKET_AND_BLOB_ID, params).fetchone()
    current = None if found is None else str(found)
    if not bucket_exists:
        raise NotFound("Bucket", meta.bucket)
    if if_absent and current is not None:
        raise AlreadyExists("Object", meta.key)
    if expect_blob_id is not None and current != expect_blob_id:
        raise ObjectChanged(meta.bucket, meta.key, _current_object(conn, meta.bucket, meta.key))
    return current


def _scanner(
    conn: sqlite3.Connection, queries: dict[bool, str], owner: str, convert: Callable[[Row], Any]
) -> Scan[Any]:
    """A ``Scan`` running one bounded, lazily read range query per call."""

    def scan(bound: Bound, below: str | None, limit: int) -> Iterator[Any]:
        params = {
            "owner": owner,
            "k": bound.key,
            "incl": bound.inclusive or bound.id_after is not None,
            "id": "" if bound.inclusive else (bound.id_after or ""),
            "below": below,
            "limit": limit,
        }
        cursor = conn.execute(queries[below is not None], params)
        try:
            for row in cursor:
                yield convert(row)
        finally:
            cursor.close()

    return scan


class SqliteOssStore(SqliteConnections):
    """``OssMetadataStore`` on one SQLite file. Use ``open_sqlite_oss_store``; ``close`` at exit."""

    _store_name = "OSS metadata store"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        on_statement: StatementHook | None = None,
    ) -> None:
        super().__init__(path, busy_timeout=busy_timeout, on_statement=on_statement)
        # GetObject/HeadObject's read and every other request's bucket read, answered again
        # while nothing has committed (any connection, any process): a reused URL, a hot
        # object, requests arriving between two group commits
        self._stamp = WalStamp(self._path)
        self._point_reads: StampedCache[BucketObject] = StampedCache(self._stamp.read)
        self._buckets: StampedCache[Bucket | None] = StampedCache(self._stamp.read)

    def _commit_watch(self) -> _BucketRowsKept:
        return _BucketRowsKept(self._stamp, self._buckets)

    def migrate(self) -> list[int]:
        versions = super().migrate()
        self._open_stamp()  # the migrating thread's connection stays open: its -shm is live
        return versions

    def _open_stamp(self) -> None:
        """Open the commit stamp once this thread's connection has read the file, and only in
        WAL mode (a ``-shm`` file left beside a file in another journal mode never changes)."""
        if self._stamp.settled:
            return
        with translate_errors():
            mode = self._connection().execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() == "wal":
            self._stamp.open()
        else:
            self._stamp.close()  # settled, without a stamp: every read goes to the file

    def close(self) -> None:
        super().close()
        self._stamp.close()  # last: closing it drops this process's locks on the -shm file

    # ---- buckets --------------------------------------------------------------------------

    def create_bucket(self, bucket: Bucket) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM oss_buckets WHERE name = ?", (bucket.name,)).fetchone():
                raise AlreadyExists("Bucket", bucket.name)
            conn.execute(
                "INSERT INTO oss_buckets (name, owner_account_id, region, created_at, acl,"
                " storage_class, policy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    bucket.name,
                    bucket.owner_account_id,
                    bucket.region,
                    bucket.created_at,
                    bucket.acl,
                    bucket.storage_class,
                    bucket.policy,
                ),
            )

        self._queued(work)

    def get_bucket(self, name: str) -> Bucket | None:
        return self._buckets.read(name, lambda: self._read_bucket(name))

    def _read_bucket(self, name: str) -> tuple[Bucket | None, int]:
        row = self._one(_SELECT_BUCKET, (name,))
        self._open_stamp()  # this thread's connection has read the file: its -shm is live
        return (None if row is None else _bucket(row)), _ROW_WEIGHT

    def delete_bucket(self, name: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            _require_bucket(conn, name)
            if conn.execute(_BUCKET_IN_USE, {"b": name}).fetchone()[0]:
                raise DeleteConflict("Bucket")
            conn.execute("DELETE FROM oss_buckets WHERE name = ?", (name,))

        self._queued(work)

    def list_buckets(
        self, owner_account_id: str, *, prefix: str = "", marker: str = "", max_keys: int = 100
    ) -> ListPage[Bucket]:
        with self._read() as conn:
            scan = _scanner(conn, _SCAN_BUCKETS, owner_account_id, _bucket)
            return list_page(
                scan, _bucket_name, prefix=prefix, delimiter="", marker=marker, max_keys=max_keys
            )

    def put_bucket_acl(self, name: str, acl: str) -> None:
        self._update_bucket(name, "UPDATE oss_buckets SET acl = ? WHERE name = ?", acl)

    def put_bucket_policy(self, name: str, policy: str) -> None:
        self._update_bucket(name, "UPDATE oss_buckets SET policy = ? WHERE name = ?", policy)

    def get_bucket_policy(self, name: str) -> str | None:
        bucket = self.get_bucket(name)
        if bucket is None:
            raise NotFound("Bucket", name)
        return bucket.policy

    def delete_bucket_policy(self, name: str) -> None:
        self._update_bucket(name, "UPDATE oss_buckets SET policy = ? WHERE name = ?", None)

    def _update_bucket(self, name: str, query: str, value: str | None) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if conn.execute(query, (value, name)).rowcount == 0:
                raise NotFound("Bucket", name)

        self._queued(work)

    # ---- objects --------------------------------------------------------------------------

    def put_object(
        self,
        meta: ObjectMeta,
        *,
        if_absent: bool = False,
        expect_blob_id: str | None = None,
        body: bytes | None = None,
    ) -> str | None:
        work = _put_object_work(meta, if_absent, expect_blob_id, body)
        return self._submit(work, savepoint=False).result()

    def submit_put_object(
        self,
        meta: ObjectMeta,
        *,
        if_absent: bool = False,
        expect_blob_id: str | None = None,
        body: bytes | None = None,
    ) -> Commit[str | None]:
        # the loop commits it itself, with the other works it submits in the same pass
        # (CommitQueue.submit_here): no GIL traded with another thread. It writes object
        # rows only: the buckets remembered before its commit still hold after it
        work = _put_object_work(meta, if_absent, expect_blob_id, body)
        return self._submit_here(work, savepoint=False, keeps_watched=True)

    def read_inline(self, blob_id: str) -> bytes | None:
        row = self._one(_SELECT_INLINE, (blob_id,))
        return None if row is None else bytes(row[0])

    def get_object(self, bucket: str, key: str) -> ObjectMeta | None:
        row = self._one(_SELECT_OBJECT, (bucket, key))
        return None if row is None else _object(row)

    def get_object_body(self, bucket: str, key: str) -> tuple[ObjectMeta, bytes | None] | None:
        row = self._one(_SELECT_OBJECT_BODY, (bucket, key))
        if row is None:
            return None
        data = row[_OBJECT_WIDTH]
        return _object(row), None if data is None else bytes(data)

    def get_bucket_object(self, bucket: str, key: str, *, body: bool) -> BucketObject:
        return self._point_reads.read(
            (bucket, key, body), lambda: self._read_bucket_object(bucket, key, body)
        )

    def _read_bucket_object(self, bucket: str, key: str, body: bool) -> tuple[BucketObject, int]:
        """The bucket, the object and (``body``) its inline body, and their weight in bytes."""
        row = self._one(_SELECT_BUCKET_OBJECT[body], (bucket, key))
        self._open_stamp()  # this thread's connection has read the file: its -shm is live
        if row is None:
            return (None, None, None), 0
        if row[_BUCKET_WIDTH] is None:  # the LEFT JOIN found no object
            return (_bucket(row), None, None), _ROW_WEIGHT
        data = row[_BUCKET_WIDTH + _OBJECT_WIDTH]
        found = _bucket(row), _object(row, _BUCKET_WIDTH), None if data is None else bytes(data)
        return found, _ROW_WEIGHT + (0 if data is None else len(data))

    def delete_object(self, bucket: str, key: str) -> str | None:
        released = self.delete_objects(bucket, [key])
        return released[0] if released else None

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            _require_bucket(conn, bucket)
            removed = [_remove_object(conn, bucket, key) for key in keys]
            return _freed(conn, removed)

        return self._queued(work)

    def put_object_acl(self, bucket: str, key: str, acl: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            _require_bucket(conn, bucket)
            cursor = conn.execute(
                "UPDATE oss_objects SET acl = ? WHERE bucket = ? AND object_key = ?",
                (acl, bucket, key),
            )
            if cursor.rowcount == 0:
                raise NotFound("Object", key)

        self._queued(work)

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 100,
    ) -> ListPage[ObjectMeta]:
        with self._read() as conn:
            _require_bucket(conn, bucket)
            scan = _scanner(conn, _SCAN_OBJECTS, bucket, _object)
            return list_page(
                scan,
                _object_key,
                prefix=prefix,
                delimiter=delimiter,
                marker=marker,
                max_keys=max_keys,
            )

    # ---- multipart ------------------------------------------------------------------------

    def create_upload(self, upload: MultipartUpload) -> None:
        def work(conn: sqlite3.Connection) -> None:
            _require_bucket(conn, upload.bucket)
            found = conn.execute(
                "SELECT 1 FROM oss_uploads WHERE upload_id = ?", (upload.upload_id,)
            ).fetchone()
            if found is not None:
                raise AlreadyExists("Upload", upload.upload_id)
            conn.execute(
                _INSERT_UPLOAD,
                {
                    "bucket": upload.bucket,
                    "key": upload.key,
                    "upload_id": upload.upload_id,
                    "initiated": upload.initiated,
                    "owner": upload.owner_account_id,
                    **_attr_params(upload.attrs),
                },
            )

        self._queued(work)

    def get_upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload | None:
        row = self._one(
            "SELECT * FROM oss_uploads WHERE bucket = ? AND object_key = ? AND upload_id = ?",
            (bucket, key, upload_id),
        )
        return None if row is None else _upload(row)

    def put_part(self, bucket: str, key: str, part: Part) -> str | None:
        def work(conn: sqlite3.Connection) -> list[str]:
            _require_upload(conn, bucket, key, part.upload_id)
            old = _part_blobs(conn, part.upload_id).get(part.part_number)
            conn.execute(
                _UPSERT_PART,
                (
                    part.upload_id,
                    part.part_number,
                    part.blob_id,
                    part.size,
                    part.etag,
                    str(part.crc64),
                    part.last_modified,
                ),
            )
            return _freed(conn, [old])

        released = self._queued(work)
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
        with self._read() as conn:
            _require_upload(conn, bucket, key, upload_id)
            rows = conn.execute(
                "SELECT * FROM oss_parts WHERE upload_id = ? AND part_number > ?"
                " ORDER BY part_number LIMIT ?",
                (upload_id, part_number_marker, max(max_parts, 0) + 1),
            ).fetchall()
        return part_page([_part(row) for row in rows], max_parts)

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
        with self._read() as conn:
            _require_bucket(conn, bucket)
            page = list_page(
                _scanner(conn, _SCAN_UPLOADS, bucket, _upload),
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
        def work(conn: sqlite3.Connection) -> list[str]:
            _require_upload(conn, meta.bucket, meta.key, upload_id)
            stored = _part_blobs(conn, upload_id)
            for part in parts:
                if stored.get(part.part_number) != part.blob_id:
                    raise NotFound("Upload.Part", str(part.part_number))
            old = _check_expectations(conn, meta, if_absent, None)
            part_blobs = _drop_upload(conn, upload_id)
            conn.execute(_UPSERT_OBJECT, _object_values(meta))
            return _freed(conn, [old, *part_blobs])

        return self._queued(work)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> list[str]:
        def work(conn: sqlite3.Connection) -> list[str]:
            _require_upload(conn, bucket, key, upload_id)
            return _freed(conn, _drop_upload(conn, upload_id))

        return self._queued(work)

    # ---- orphan sweep ---------------------------------------------------------------------

    def blob_is_referenced(self, blob_id: str) -> bool:
        with translate_errors():
            return _is_referenced(self._connection(), blob_id)


class _BucketRowsKept:
    """The commit queue's watch (``CommitWatch``): a transaction of this process whose works
    all keep the bucket rows (``keeps_watched``, PutObject's) leaves the remembered buckets
    valid. Its commit changes the commit stamp, which would empty the bucket cache and cost
    the next request a bucket read (~50 µs: the connection's pages are stale after any
    commit, ~5 µs per small PUT in the group). So the cache is moved from the stamp read
    when the transaction began (SQLite's write lock held: nobody else commits until it
    ends) to the stamp after the commit; if it was not at the first, another commit came
    between, and it is left to empty itself."""

    def __init__(self, stamp: WalStamp, buckets: StampedCache[Bucket | None]) -> None:
        self._stamp = stamp
        self._buckets = buckets

    def begin(self) -> bytes | None:
        return self._stamp.read()

    def committed(self, before: object, kept: bool) -> None:
        if kept and isinstance(before, bytes):
            self._buckets.rebase(before, self._stamp.read())


def _put_object_work(
    meta: ObjectMeta, if_absent: bool, expect_blob_id: str | None, body: bytes | None
) -> Callable[[sqlite3.Connection], str | None]:
    """PutObject's statements: the row (and an inline ``body``); the blob file it frees. It
    changes nothing when it raises (run without the queue's savepoint): a new key is one
    statement (``oss_new_objects``), anything else runs in a savepoint of its own."""
    values = _object_values(meta)

    def work(conn: sqlite3.Connection) -> str | None:
        if expect_blob_id is None:
            try:
                conn.execute(_INSERT_NEW_OBJECT, (*values, body))
                return None  # a new key: nothing to free
            except sqlite3.IntegrityError as exc:
                if exc.sqlite_errorcode == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
                    raise NotFound("Bucket", meta.bucket) from None
                if exc.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
                    raise
                if if_absent:
                    raise AlreadyExists("Object", meta.key) from None
        conn.execute("SAVEPOINT put_object")
        try:
            old = _check_expectations(conn, meta, if_absent, expect_blob_id)
            conn.execute(_UPSERT_OBJECT, values)
            if body is not None:
                conn.execute(_INSERT_INLINE, (meta.blob_id, body))
            released = [] if old is None else _freed(conn, [old])
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO put_object")
                conn.execute("RELEASE put_object")
            raise
        conn.execute("RELEASE put_object")
        return released[0] if released else None

    return work


def _bucket_name(bucket: Bucket) -> str:
    return bucket.name


def _object_key(meta: ObjectMeta) -> str:
    return meta.key


def _upload_key(upload: MultipartUpload) -> str:
    return upload.key
