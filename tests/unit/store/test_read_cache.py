"""tessera.store.read_cache, and the SQLite OSS store's GetObject/HeadObject read through it.

The cache may answer only while nothing has committed since its value was read. The store
tests open one database file twice (two stores: as two ``--workers`` processes do) and also
write from a separate Python process; every change must be seen by the next read of the other
store. The SQL trace (``on_statement``) shows when a read was answered from the cache.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tessera.store.oss_base import Bucket, ObjectAttrs, ObjectMeta
from tessera.store.oss_sqlite import SqliteOssStore, open_sqlite_oss_store
from tessera.store.read_cache import HEADER_BYTES, StampedCache, WalStamp

# ---- StampedCache (pure: the stamp is a function the test controls) ------------------------


class Loads:
    """A ``load`` for ``StampedCache.read`` that counts its calls and returns a new value
    each time (so a remembered value and a fresh one differ)."""

    def __init__(self, weight: int = 1) -> None:
        self.calls = 0
        self.weight = weight

    def __call__(self) -> tuple[str, int]:
        self.calls += 1
        return f"value-{self.calls}", self.weight


def test_a_value_is_answered_again_while_the_stamp_is_unchanged() -> None:
    cache: StampedCache[str] = StampedCache(lambda: b"s1")
    load = Loads()
    assert cache.read("k", load) == "value-1"
    assert cache.read("k", load) == "value-1"
    assert load.calls == 1


def test_a_new_stamp_forgets_every_value() -> None:
    stamp = [b"s1"]
    cache: StampedCache[str] = StampedCache(lambda: stamp[0])
    first, other = Loads(), Loads()
    cache.read("k", first)
    cache.read("other", other)
    stamp[0] = b"s2"
    assert cache.read("k", first) == "value-2"
    assert cache.read("other", other) == "value-2"
    assert (first.calls, other.calls) == (2, 2)
    stamp[0] = b"s1"  # an old stamp again (a torn read, say) is a change too
    assert cache.read("k", first) == "value-3"


def test_a_value_read_while_a_commit_was_seen_is_not_remembered() -> None:
    stamp = [b"s1"]
    cache: StampedCache[str] = StampedCache(lambda: stamp[0])
    slow = Loads()

    def load_during_a_commit() -> tuple[str, int]:
        # another reader sees the next commit while this one is loading
        stamp[0] = b"s2"
        cache.read("elsewhere", Loads())
        return slow()

    cache.read("seed", Loads())  # the cache has seen s1
    stamp[0] = b"s1"
    assert cache.read("k", load_during_a_commit) == "value-1"
    assert cache.read("k", slow) == "value-2"  # loaded again: the first was not kept
    assert slow.calls == 2


def test_a_rebase_from_the_seen_stamp_keeps_the_values() -> None:
    stamp = [b"s1"]
    cache: StampedCache[str] = StampedCache(lambda: stamp[0])
    load = Loads()
    cache.read("k", load)
    stamp[0] = b"s2"
    cache.rebase(b"s1", b"s2")  # a commit known to leave every remembered value as it was
    assert cache.read("k", load) == "value-1"
    assert load.calls == 1


def test_a_rebase_from_another_stamp_changes_nothing() -> None:
    """A commit came between the stamp the cache last saw and the one the rebase starts
    from: its values may be stale, so the next read after the new stamp loads again."""
    stamp = [b"s1"]
    cache: StampedCache[str] = StampedCache(lambda: stamp[0])
    load = Loads()
    cache.read("k", load)
    stamp[0] = b"s3"
    cache.rebase(b"s2", b"s3")
    assert cache.read("k", load) == "value-2"
    cache.rebase(b"s3", None)  # no stamp after: nothing to move to
    assert cache.read("k", load) == "value-2"


def test_no_stamp_means_no_cache() -> None:
    cache: StampedCache[str] = StampedCache(lambda: None)
    load = Loads()
    assert [cache.read("k", load) for _ in range(3)] == ["value-1", "value-2", "value-3"]


def test_the_entry_bound_empties_the_cache() -> None:
    cache: StampedCache[str] = StampedCache(lambda: b"s", max_entries=2)
    loads = {key: Loads() for key in ("a", "b", "c")}
    for key in ("a", "b", "c"):  # the third entry finds the cache full: it starts again
        cache.read(key, loads[key])
    cache.read("c", loads["c"])
    cache.read("a", loads["a"])
    assert (loads["a"].calls, loads["b"].calls, loads["c"].calls) == (2, 1, 1)


def test_the_weight_bound_empties_the_cache_and_skips_the_overweight() -> None:
    cache: StampedCache[str] = StampedCache(lambda: b"s", max_weight=10)
    light, heavy, huge = Loads(weight=6), Loads(weight=6), Loads(weight=11)
    cache.read("light", light)
    cache.read("heavy", heavy)  # 12 > 10: the cache is emptied, then holds "heavy" alone
    cache.read("heavy", heavy)
    cache.read("light", light)
    cache.read("huge", huge)
    cache.read("huge", huge)  # heavier than the bound: never kept
    assert (light.calls, heavy.calls, huge.calls) == (2, 1, 2)


# ---- WalStamp on a real SQLite file ---------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Path, WalStamp]]:
    path = tmp_path / "meta.db"
    store = open_sqlite_oss_store(path)
    store.create_bucket(Bucket("b", "1", "cn-hangzhou", "2026-01-01T00:00:00.000Z"))
    assert store.get_bucket("b") is not None  # this process now holds a reading connection
    stamp = WalStamp(str(path))
    yield path, stamp
    stamp.close()
    store.close()


def test_the_stamp_is_unavailable_until_opened_and_after_close(tmp_path: Path) -> None:
    stamp = WalStamp(str(tmp_path / "absent.db"))
    assert stamp.read() is None
    stamp.open()  # no -shm file: still unavailable, no error
    assert stamp.read() is None
    stamp.close()


def test_every_commit_of_another_connection_changes_the_stamp(
    database: tuple[Path, WalStamp],
) -> None:
    path, stamp = database
    stamp.open()
    before = stamp.read()
    assert before is not None and len(before) == HEADER_BYTES
    other = open_sqlite_oss_store(path)
    try:
        other.put_bucket_acl("b", "public-read")
        after_acl = stamp.read()
        other.put_bucket_acl("b", "private")
        after_again = stamp.read()
    finally:
        other.close()
    assert len({before, after_acl, after_again}) == 3
    stamp.close()
    assert stamp.read() is None


#: SQLite's "dead man switch" byte of the -shm file: every process with the database open
#: holds a shared lock on it; one that can lock it exclusively believes it is alone and resets
#: the wal-index (os_unix.c, UNIX_SHM_DMS)
SHM_DMS_BYTE = 128

_TRY_DMS_LOCK = textwrap.dedent(
    """
    import fcntl, os, sys
    try:
        fd = os.open(sys.argv[1], os.O_RDWR)
    except FileNotFoundError:
        sys.exit(print("gone"))
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
    except OSError:
        print("held")
    else:
        print("free")
    """
)


def test_the_stamp_leaves_sqlites_locks_on_the_shm_file_alone(tmp_path: Path) -> None:
    """Closing any descriptor of the -shm drops all of this process's POSIX locks on it,
    SQLite's included: while the store (with its stamp) is open, another process must still
    find the file in use, and may reset it only once the store is closed."""
    path = tmp_path / "tessera.db"
    store = open_sqlite_oss_store(path)

    def other_process_sees() -> str:
        out = subprocess.run(
            [sys.executable, "-c", _TRY_DMS_LOCK, f"{path}-shm", str(SHM_DMS_BYTE)],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    try:
        store.create_bucket(Bucket("b", "1234567890123456", "cn-hangzhou", "2024-01-01T00:00:00Z"))
        assert store.get_bucket("b") is not None  # a read: the stamp is open now
        assert store._stamp.read() is not None
        assert other_process_sees() == "held"
        store.get_bucket("b")
        assert other_process_sees() == "held"
    finally:
        store.close()
    assert other_process_sees() in ("free", "gone")  # the last connection may delete it


def test_a_rolled_back_transaction_leaves_the_stamp(database: tuple[Path, WalStamp]) -> None:
    path, stamp = database
    stamp.open()
    before = stamp.read()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE oss_buckets SET acl = 'public-read-write'")
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    assert stamp.read() == before


# ---- the store: GetObject's read, answered again only while nothing committed ---------------

BUCKET = Bucket("photos", "1234567890123456", "cn-hangzhou", "2026-01-01T00:00:00.000Z")


def _meta(blob_id: str, etag: str, *, acl: str = "default") -> ObjectMeta:
    return ObjectMeta(
        bucket="photos",
        key="cat.jpg",
        blob_id=blob_id,
        size=4,
        etag=etag,
        crc64=1,
        last_modified="2026-01-01T00:00:00.000Z",
        attrs=ObjectAttrs(content_type="image/jpeg", acl=acl),
    )


class Traced:
    """A store on ``path`` whose SQL statements are counted."""

    def __init__(self, path: Path) -> None:
        self.statements: list[str] = []
        self.store: SqliteOssStore = open_sqlite_oss_store(
            path, on_statement=self.statements.append
        )

    def reads(self) -> int:
        return sum(1 for sql in self.statements if sql.lstrip().upper().startswith("SELECT"))


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[Path, Traced, SqliteOssStore]]:
    path = tmp_path / "meta.db"
    reader = Traced(path)
    writer = open_sqlite_oss_store(path)
    writer.create_bucket(BUCKET)
    writer.put_object(_meta("inline-1", "e1"), body=b"meow")
    yield path, reader, writer
    writer.close()
    reader.store.close()


def test_a_repeated_read_is_answered_without_sql(
    two_stores: tuple[Path, Traced, SqliteOssStore],
) -> None:
    _, reader, _ = two_stores
    reads = reader.reads()
    first = reader.store.get_bucket_object("photos", "cat.jpg", body=True)
    assert reader.reads() == reads + 1
    reads += 1
    again = [reader.store.get_bucket_object("photos", "cat.jpg", body=True) for _ in range(5)]
    assert reader.reads() == reads
    assert all(each == first for each in again)
    assert first[2] == b"meow"
    # with and without the body are separate reads
    head = reader.store.get_bucket_object("photos", "cat.jpg", body=False)
    assert head[2] is None and reader.reads() == reads + 1


@pytest.mark.parametrize(
    "change, expect",
    [
        (
            lambda w: w.put_object(_meta("inline-2", "e2"), body=b"purr"),
            lambda found: found[1].etag == "e2" and found[2] == b"purr",
        ),
        (
            lambda w: w.delete_object("photos", "cat.jpg"),
            lambda found: found[0] is not None and found[1] is None,
        ),
        (
            lambda w: w.put_object_acl("photos", "cat.jpg", "public-read"),
            lambda found: found[1].attrs.acl == "public-read",
        ),
        (
            lambda w: w.put_bucket_acl("photos", "public-read"),
            lambda found: found[0].acl == "public-read",
        ),
        (
            lambda w: w.put_bucket_policy("photos", '{"Version":"1","Statement":[]}'),
            lambda found: found[0].policy == '{"Version":"1","Statement":[]}',
        ),
    ],
    ids=["overwrite", "delete", "object-acl", "bucket-acl", "bucket-policy"],
)
def test_a_write_of_another_store_is_seen_by_the_next_read(
    two_stores: tuple[Path, Traced, SqliteOssStore], change, expect
) -> None:
    _, reader, writer = two_stores
    for _ in range(3):  # remembered
        before = reader.store.get_bucket_object("photos", "cat.jpg", body=True)
    assert before[1] is not None and before[1].etag == "e1"
    change(writer)
    assert expect(reader.store.get_bucket_object("photos", "cat.jpg", body=True))


def test_a_write_of_another_process_is_seen_by_the_next_read(
    two_stores: tuple[Path, Traced, SqliteOssStore],
) -> None:
    path, reader, _ = two_stores
    for _ in range(3):
        assert reader.store.get_bucket_object("photos", "cat.jpg", body=True)[2] == b"meow"
    program = textwrap.dedent(
        f"""
        import json, sys
        from tessera.store.oss_sqlite import open_sqlite_oss_store
        store = open_sqlite_oss_store({str(path)!r})
        store.put_bucket_acl("photos", "public-read-write")
        store.delete_object("photos", "cat.jpg")
        store.close()
        print(json.dumps("done"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == "done"
    bucket, meta, body = reader.store.get_bucket_object("photos", "cat.jpg", body=True)
    assert bucket is not None and bucket.acl == "public-read-write"
    assert (meta, body) == (None, None)


def test_a_write_of_the_same_store_is_seen_by_its_next_read(
    two_stores: tuple[Path, Traced, SqliteOssStore],
) -> None:
    _, reader, _ = two_stores
    for _ in range(3):
        reader.store.get_bucket_object("photos", "cat.jpg", body=True)
    reader.store.put_object(replace(_meta("inline-3", "e3"), size=3), body=b"hss")
    _, meta, body = reader.store.get_bucket_object("photos", "cat.jpg", body=True)
    assert meta is not None and (meta.etag, body) == ("e3", b"hss")


def test_a_missing_bucket_or_object_is_not_remembered_past_its_creation(
    two_stores: tuple[Path, Traced, SqliteOssStore],
) -> None:
    _, reader, writer = two_stores
    for _ in range(2):
        assert reader.store.get_bucket_object("new", "k", body=True) == (None, None, None)
        assert reader.store.get_bucket_object("photos", "dog.jpg", body=True)[1] is None
    writer.create_bucket(replace(BUCKET, name="new"))
    writer.put_object(replace(_meta("inline-4", "e4"), key="dog.jpg"), body=b"woof")
    assert reader.store.get_bucket_object("new", "k", body=True)[0] is not None
    assert reader.store.get_bucket_object("photos", "dog.jpg", body=True)[2] == b"woof"


def test_a_repeated_bucket_read_is_answered_without_sql(
    two_stores: tuple[Path, Traced, SqliteOssStore],
) -> None:
    _, reader, _ = two_stores
    reads = reader.reads()
    first = reader.store.get_bucket("photos")
    assert [reader.store.get_bucket("photos") for _ in range(4)] == [first] * 4
    assert first == BUCKET and reader.reads() == reads + 1


@pytest.mark.parametrize(
    "change, expect",
    [
        (lambda w: w.put_bucket_acl("photos", "public-read"), lambda b: b.acl == "public-read"),
        (
            lambda w: w.put_bucket_policy("photos", '{"Version":"1","Statement":[]}'),
            lambda b: b.policy == '{"Version":"1","Statement":[]}',
        ),
        (
            lambda w: (w.delete_object("photos", "cat.jpg"), w.delete_bucket("photos")),
            lambda b: b is None,
        ),
        # a write elsewhere in the file: a commit all the same, so read again (and unchanged)
        (lambda w: w.put_object(_meta("inline-5", "e5"), body=b"mrrp"), lambda b: b == BUCKET),
    ],
    ids=["acl", "policy", "deleted", "object-write"],
)
def test_a_bucket_change_of_another_store_is_seen_by_the_next_read(
    two_stores: tuple[Path, Traced, SqliteOssStore], change, expect
) -> None:
    _, reader, writer = two_stores
    for _ in range(3):
        assert reader.store.get_bucket("photos") == BUCKET
    reads = reader.reads()
    change(writer)
    assert expect(reader.store.get_bucket("photos"))
    assert reader.reads() == reads + 1


async def _loop_puts(store: SqliteOssStore, names: list[str]) -> list[Bucket | None]:
    """PutObjects committed by this loop (``submit_put_object``), the bucket read after each."""
    seen = []
    for name in names:
        meta = replace(_meta(f"{name:0>32}", name), key=f"{name}.jpg")
        assert await store.submit_put_object(meta, body=b"x") is None
        seen.append(store.get_bucket("photos"))
    return seen


def test_the_stores_own_loop_puts_keep_the_bucket_remembered(
    two_stores: tuple[Path, Traced, SqliteOssStore],
) -> None:
    """A PutObject commit of its own changes no bucket row: the bucket read before it is
    still the answer after it, without SQL (every commit would otherwise send the next
    request's bucket read to the file)."""
    _, reader, _ = two_stores
    assert reader.store.get_bucket("photos") == BUCKET
    reads = reader.reads()
    assert asyncio.run(_loop_puts(reader.store, ["a1", "a2", "a3"])) == [BUCKET] * 3
    assert reader.reads() == reads
    assert reader.store.get_bucket_object("photos", "a3.jpg", body=True)[2] == b"x"


@pytest.mark.parametrize(
    "change, expect",
    [
        (lambda w: w.put_bucket_acl("photos", "public-read"), lambda b: b.acl == "public-read"),
        (
            lambda w: w.put_bucket_policy("photos", '{"Version":"1","Statement":[]}'),
            lambda b: b.policy == '{"Version":"1","Statement":[]}',
        ),
    ],
    ids=["acl", "policy"],
)
def test_a_bucket_change_of_another_store_before_a_loop_put_is_seen(
    two_stores: tuple[Path, Traced, SqliteOssStore], change, expect
) -> None:
    """Another store's bucket change commits between the bucket read and this store's own
    PutObject commit: the remembered bucket is stale, and that commit must not keep it."""
    _, reader, writer = two_stores
    assert reader.store.get_bucket("photos") == BUCKET
    change(writer)
    found = asyncio.run(_loop_puts(reader.store, ["b1", "b2"]))
    assert all(expect(bucket) for bucket in found)


def test_a_file_not_in_wal_mode_is_never_answered_from_memory(tmp_path: Path) -> None:
    """A ``-shm`` file beside a database in another journal mode never changes: the store
    must not take it for a commit stamp."""
    path = tmp_path / "meta.db"
    setup = open_sqlite_oss_store(path)
    setup.create_bucket(BUCKET)
    setup.close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    (tmp_path / "meta.db-shm").write_bytes(bytes(HEADER_BYTES * 2))  # a stale leftover
    statements: list[str] = []
    reader = SqliteOssStore(path, on_statement=statements.append)  # as opened, not migrated
    other = SqliteOssStore(path)
    try:
        for acl in ("public-read", "private", "public-read-write"):
            other.put_bucket_acl("photos", acl)
            found = reader.get_bucket("photos")
            assert found is not None and found.acl == acl
        selects = [sql for sql in statements if "FROM oss_buckets" in sql]
        assert len(selects) == 3
    finally:
        other.close()
        reader.close()
