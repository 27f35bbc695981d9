"""The ``OssMetadataStore`` contract, run against every implementation (SQLite and memory).

Listings are checked against a deliberately naive reference model (sort every key by its UTF-8
bytes, roll keys up into common prefixes, drop entries up to the marker) on generated key sets.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.errors import AlreadyExists, DeleteConflict, NotFound
from tessera.store import open_sqlite_store
from tessera.store.migrations import load_migrations, schema_version
from tessera.store.oss_base import (
    Bucket,
    ListPage,
    MultipartUpload,
    ObjectAttrs,
    ObjectChanged,
    ObjectMeta,
    ObjectType,
    OssMetadataStore,
    Part,
    prefix_end,
)
from tessera.store.oss_memory import MemoryOssStore
from tessera.store.oss_sqlite import open_sqlite_oss_store

from .records import ACCOUNT, OTHER_ACCOUNT, T0, T1, account, root_key

IMPLEMENTATIONS: dict[str, Callable[[Path], OssMetadataStore]] = {
    "memory": lambda tmp_path: MemoryOssStore(),
    "sqlite": lambda tmp_path: open_sqlite_oss_store(tmp_path / "tessera.db"),
}
BIG_CRC = 2**64 - 1  # does not fit a signed 64-bit integer
_counter = itertools.count()


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def oss(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OssMetadataStore]:
    store = IMPLEMENTATIONS[request.param](tmp_path)
    try:
        yield store
    finally:
        store.close()


def bucket(name: str = "photos", owner: str = ACCOUNT, **kw: str) -> Bucket:
    return Bucket(name, owner, "cn-hangzhou", T0, **kw)


def obj(key: str, blob: str, bucket_name: str = "photos", **kw: object) -> ObjectMeta:
    fields: dict[str, object] = {"size": 11, "etag": "E" + blob, "crc64": 7, "last_modified": T0}
    fields.update(kw)
    return ObjectMeta(bucket_name, key, blob, **fields)  # type: ignore[arg-type]


def upload(key: str, upload_id: str, bucket_name: str = "photos") -> MultipartUpload:
    attrs = ObjectAttrs(content_type="image/png", user_meta=(("owner", "zoë"),))
    return MultipartUpload(bucket_name, key, upload_id, T0, ACCOUNT, attrs)


def part(upload_id: str, number: int, blob: str) -> Part:
    return Part(upload_id, number, blob, 102400, "P" + blob, BIG_CRC, T1)


def fresh_bucket(store: OssMetadataStore) -> str:
    name = f"b{next(_counter)}"
    store.create_bucket(bucket(name))
    return name


# ---- the reference model --------------------------------------------------------------------


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def reference_entries(
    keys: list[str], prefix: str, delimiter: str, marker: str
) -> list[tuple[str, bool]]:
    """Every (entry, is_common_prefix) after ``marker``, in UTF-8 byte order."""
    entries: dict[str, bool] = {}
    for key in keys:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            entries[prefix + rest[: rest.index(delimiter) + len(delimiter)]] = True
        else:
            entries[key] = False
    after = [(e, cp) for e, cp in entries.items() if utf8(e) > utf8(marker)]
    return sorted(after, key=lambda item: utf8(item[0]))


def page_entries(page: ListPage[ObjectMeta]) -> list[tuple[str, bool]]:
    found = [(o.key, False) for o in page.items] + [(p, True) for p in page.common_prefixes]
    return sorted(found, key=lambda item: utf8(item[0]))


def all_pages(
    store: OssMetadataStore, name: str, prefix: str, delimiter: str, max_keys: int, marker: str = ""
) -> list[tuple[str, bool]]:
    collected: list[tuple[str, bool]] = []
    for _ in range(10_000):
        page = store.list_objects(
            name, prefix=prefix, delimiter=delimiter, marker=marker, max_keys=max_keys
        )
        assert len(page.items) + len(page.common_prefixes) <= max_keys
        collected.extend(page_entries(page))
        if not page.is_truncated:
            return collected
        assert page.next_marker == collected[-1][0]
        marker = page.next_marker
    raise AssertionError("paging did not end")


ALPHABET = ["a", "b", "/", "é", "😀", "%", "+", " ", "\uff5a", "\x7f", "-", "a/"]
key_text = st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=6).map("".join)
key_sets = st.lists(key_text, min_size=0, max_size=25, unique=True)
prefixes = st.sampled_from(["", "a", "a/", "é", "😀", "b/", "%"])
delimiters = st.sampled_from(["", "/", "é", "a/", "😀"])
markers = st.one_of(st.just(""), key_text)
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fill(store: OssMetadataStore, keys: list[str]) -> str:
    name = fresh_bucket(store)
    for index, key in enumerate(keys):
        store.put_object(obj(key, f"blob-{index}", name))
    return name


# ---- buckets ----------------------------------------------------------------------------------


def test_bucket_lifecycle(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket("photos", acl="public-read", storage_class="IA"))
    assert oss.get_bucket("photos") == bucket("photos", acl="public-read", storage_class="IA")
    with pytest.raises(AlreadyExists) as caught:
        oss.create_bucket(bucket("photos", owner=OTHER_ACCOUNT))
    assert caught.value.kind == "Bucket"
    oss.put_bucket_acl("photos", "private")
    assert oss.get_bucket("photos") == bucket("photos", storage_class="IA")
    oss.delete_bucket("photos")
    assert oss.get_bucket("photos") is None
    with pytest.raises(NotFound) as missing:
        oss.delete_bucket("photos")
    assert missing.value.kind == "Bucket"


def test_bucket_policy_is_stored_on_the_bucket(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    assert oss.get_bucket_policy("photos") is None
    oss.put_bucket_policy("photos", '{"Version":"1","Statement":[]}')
    assert oss.get_bucket_policy("photos") == '{"Version":"1","Statement":[]}'
    got = oss.get_bucket("photos")
    assert got is not None and got.policy == '{"Version":"1","Statement":[]}'
    oss.delete_bucket_policy("photos")
    assert oss.get_bucket_policy("photos") is None
    calls: list[Callable[[], object]] = [
        lambda: oss.put_bucket_policy("nope", "{}"),
        lambda: oss.get_bucket_policy("nope"),
        lambda: oss.delete_bucket_policy("nope"),
        lambda: oss.put_bucket_acl("nope", "private"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()


def test_delete_bucket_refuses_while_objects_or_uploads_remain(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(obj("k", "b1"))
    with pytest.raises(DeleteConflict) as caught:
        oss.delete_bucket("photos")
    assert caught.value.kind == "Bucket"
    oss.delete_object("photos", "k")
    oss.create_upload(upload("k", "u1"))
    with pytest.raises(DeleteConflict):
        oss.delete_bucket("photos")
    oss.abort_upload("photos", "k", "u1")
    oss.delete_bucket("photos")


def test_list_buckets_per_owner_with_prefix_marker_and_paging(oss: OssMetadataStore) -> None:
    names = ["alpha", "alpha-2", "beta", "gamma", "zeta"]
    for name in names:
        oss.create_bucket(bucket(name))
    oss.create_bucket(bucket("other", owner=OTHER_ACCOUNT))
    page = oss.list_buckets(ACCOUNT, max_keys=2)
    assert [b.name for b in page.items] == ["alpha", "alpha-2"]
    assert page.is_truncated and page.next_marker == "alpha-2"
    rest = oss.list_buckets(ACCOUNT, marker=page.next_marker, max_keys=10)
    assert [b.name for b in rest.items] == ["beta", "gamma", "zeta"] and not rest.is_truncated
    assert [b.name for b in oss.list_buckets(ACCOUNT, prefix="alpha").items] == names[:2]
    assert [b.name for b in oss.list_buckets(OTHER_ACCOUNT).items] == ["other"]
    assert oss.list_buckets(ACCOUNT, prefix="alpha", marker="alpha-2").items == ()


# ---- objects ----------------------------------------------------------------------------------


#: every attribute set, with values that test the storage (order, quotes, non-ASCII)
EVERY_ATTR = ObjectAttrs(
    content_type="text/plain; charset=utf-8",
    acl="public-read",
    storage_class="IA",
    user_meta=(("zeta", "1"), ("alpha", "ünï 😀")),
    cache_control="no-cache",
    content_disposition='attachment; filename="a b.txt"',
    content_encoding="gzip",
    expires="Wed, 21 Oct 2015 07:28:00 GMT",
)


def test_object_round_trip_keeps_every_field(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    attrs = EVERY_ATTR
    meta = obj("dir/ü 😀 %2F+.txt", "b1", crc64=BIG_CRC, object_type=ObjectType.APPENDABLE)
    meta = replace(meta, attrs=attrs)
    assert oss.put_object(meta) is None
    assert oss.get_object("photos", meta.key) == meta
    assert meta.next_append_position == 11
    assert oss.get_object("photos", "other") is None
    assert oss.get_object("nope", meta.key) is None


def test_missing_bucket_is_not_found_for_writes(oss: OssMetadataStore) -> None:
    calls: list[Callable[[], object]] = [
        lambda: oss.put_object(obj("k", "b1", "nope")),
        lambda: oss.delete_object("nope", "k"),
        lambda: oss.list_objects("nope"),
        lambda: oss.create_upload(upload("k", "u1", "nope")),
        lambda: oss.list_uploads("nope"),
    ]
    for call in calls:
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.kind == "Bucket"


def test_overwrite_returns_the_replaced_blob(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    assert oss.put_object(obj("k", "b1")) is None
    assert oss.put_object(obj("k", "b2")) == "b1"
    assert oss.put_object(obj("k", "b2", size=3)) is None  # same blob: still referenced
    got = oss.get_object("photos", "k")
    assert got is not None and got.blob_id == "b2" and got.size == 3
    assert oss.delete_object("photos", "k") == "b2"
    assert oss.delete_object("photos", "k") is None
    assert oss.get_object("photos", "k") is None


def test_a_shared_blob_is_freed_by_the_last_reference(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(obj("a", "shared"))
    oss.put_object(obj("b", "shared"))
    assert oss.delete_object("photos", "a") is None
    assert oss.blob_is_referenced("shared")
    assert oss.put_object(obj("b", "new")) == "shared"
    assert not oss.blob_is_referenced("shared")


def test_forbid_overwrite(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    assert oss.put_object(obj("k", "b1"), if_absent=True) is None
    with pytest.raises(AlreadyExists) as caught:
        oss.put_object(obj("k", "b2"), if_absent=True)
    assert caught.value.kind == "Object"
    got = oss.get_object("photos", "k")
    assert got is not None and got.blob_id == "b1"


def test_expected_blob_guards_appends(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    first = obj("log", "a1", object_type=ObjectType.APPENDABLE, size=5)
    with pytest.raises(ObjectChanged) as absent:
        oss.put_object(first, expect_blob_id="a0")
    assert absent.value.current is None
    oss.put_object(first, if_absent=True)
    second = obj("log", "a2", object_type=ObjectType.APPENDABLE, size=9)
    assert oss.put_object(second, expect_blob_id="a1") == "a1"
    with pytest.raises(ObjectChanged) as stale:
        oss.put_object(obj("log", "a3", size=12), expect_blob_id="a1")
    assert stale.value.current == second
    assert stale.value.current.next_append_position == 9


def test_delete_objects_in_a_batch(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    for key, blob in (("a", "b1"), ("b", "b2"), ("c", "b3")):
        oss.put_object(obj(key, blob))
    assert oss.delete_objects("photos", ["a", "missing", "c", "a"]) == ["b1", "b3"]
    assert [o.key for o in oss.list_objects("photos").items] == ["b"]


def test_put_object_acl(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(obj("k", "b1"))
    oss.put_object_acl("photos", "k", "public-read")
    got = oss.get_object("photos", "k")
    assert got is not None and got.attrs.acl == "public-read" and got.blob_id == "b1"
    with pytest.raises(NotFound) as caught:
        oss.put_object_acl("photos", "missing", "private")
    assert caught.value.kind == "Object"


# ---- listing ----------------------------------------------------------------------------------


@HYPOTHESIS
@given(
    keys=key_sets,
    prefix=prefixes,
    delimiter=delimiters,
    marker=markers,
    max_keys=st.integers(1, 6),
)
def test_a_listing_page_matches_the_reference(
    oss: OssMetadataStore, keys: list[str], prefix: str, delimiter: str, marker: str, max_keys: int
) -> None:
    name = fill(oss, keys)
    expected = reference_entries(keys, prefix, delimiter, marker)
    page = oss.list_objects(
        name, prefix=prefix, delimiter=delimiter, marker=marker, max_keys=max_keys
    )
    assert page_entries(page) == expected[:max_keys]
    assert page.is_truncated == (len(expected) > max_keys)
    assert page.next_marker == (expected[max_keys - 1][0] if page.is_truncated else "")
    assert [utf8(o.key) for o in page.items] == sorted(utf8(o.key) for o in page.items)
    assert all(o.blob_id == f"blob-{keys.index(o.key)}" for o in page.items)


@HYPOTHESIS
@given(keys=key_sets, prefix=prefixes, delimiter=delimiters, max_keys=st.integers(1, 4))
def test_paging_never_repeats_or_skips(
    oss: OssMetadataStore, keys: list[str], prefix: str, delimiter: str, max_keys: int
) -> None:
    name = fill(oss, keys)
    assert all_pages(oss, name, prefix, delimiter, max_keys) == reference_entries(
        keys, prefix, delimiter, ""
    )


def test_common_prefixes_count_against_max_keys(oss: OssMetadataStore) -> None:
    keys = ["a/1", "a/2", "b", "c/1", "d", "e/x/y"]
    name = fill(oss, keys)
    page = oss.list_objects(name, delimiter="/", max_keys=3)
    assert page.common_prefixes == ("a/", "c/") and [o.key for o in page.items] == ["b"]
    assert page.is_truncated and page.next_marker == "c/"
    page = oss.list_objects(name, delimiter="/", marker="c/", max_keys=3)
    assert [o.key for o in page.items] == ["d"] and page.common_prefixes == ("e/",)
    assert not page.is_truncated and page.next_marker == ""
    # a marker inside a common prefix does not report that prefix again
    page = oss.list_objects(name, delimiter="/", marker="a/1", max_keys=10)
    assert page.common_prefixes == ("c/", "e/")
    # a prefix with a delimiter lists one level down
    page = oss.list_objects(name, prefix="e/", delimiter="/")
    assert page.common_prefixes == ("e/x/",) and page.items == ()


def test_max_keys_zero_is_an_empty_page(oss: OssMetadataStore) -> None:
    name = fill(oss, ["a", "b"])
    page = oss.list_objects(name, max_keys=0)
    assert page.items == () and not page.is_truncated


def test_long_and_awkward_keys_list_in_utf8_byte_order(oss: OssMetadataStore) -> None:
    keys = [
        "é" * 511 + "a",  # 1023 bytes
        "😀" * 255 + "abc",  # 1023 bytes
        "a" * 1023,
        "\uffff" * 341,  # 1023 bytes; sorts before the 4-byte emoji in UTF-8
        "../x",
        "a+b",
        "a b",
        "100%",
        "%2F",
        "\\x",
    ]
    assert all(len(utf8(k)) <= 1023 for k in keys)
    name = fill(oss, keys)
    listed = all_pages(oss, name, "", "", 3)
    assert [e for e, _ in listed] == sorted(keys, key=utf8)
    got = oss.get_object(name, "😀" * 255 + "abc")
    assert got is not None and got.key == "😀" * 255 + "abc"


def test_prefix_end_is_the_successor_of_every_extension() -> None:
    assert prefix_end("") is None
    assert prefix_end("a/") == "a0"
    assert prefix_end("\ud7ff") == "\ue000"
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("\U0010ffff") is None


# ---- multipart --------------------------------------------------------------------------------


def test_multipart_complete_swaps_the_object_in(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(obj("big", "old"))
    oss.create_upload(upload("big", "u1"))
    assert oss.get_upload("photos", "big", "u1") == upload("big", "u1")
    assert oss.get_upload("photos", "other", "u1") is None
    for number in (1, 2, 3, 4):
        assert oss.put_part("photos", "big", part("u1", number, f"p{number}")) is None
    assert oss.put_part("photos", "big", part("u1", 2, "p2b")) == "p2"
    chosen = [part("u1", 1, "p1"), part("u1", 2, "p2b")]
    final = obj("big", "final", object_type=ObjectType.MULTIPART, etag="X-2")
    released = oss.complete_upload("u1", chosen, final)
    assert sorted(released) == ["old", "p1", "p2b", "p3", "p4"]
    assert oss.get_object("photos", "big") == final
    assert oss.get_upload("photos", "big", "u1") is None
    with pytest.raises(NotFound) as caught:
        oss.list_parts("photos", "big", "u1")
    assert caught.value.kind == "Upload"


def test_complete_may_adopt_a_part_blob(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.create_upload(upload("k", "u1"))
    oss.put_part("photos", "k", part("u1", 1, "p1"))
    released = oss.complete_upload("u1", [part("u1", 1, "p1")], obj("k", "p1"))
    assert released == []
    assert oss.blob_is_referenced("p1")


def test_complete_refuses_a_stale_part_and_changes_nothing(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.create_upload(upload("k", "u1"))
    oss.put_part("photos", "k", part("u1", 1, "p1"))
    oss.put_part("photos", "k", part("u1", 1, "p1-new"))
    with pytest.raises(NotFound) as caught:
        oss.complete_upload("u1", [part("u1", 1, "p1")], obj("k", "final"))
    assert caught.value.kind == "Upload.Part"
    with pytest.raises(NotFound):
        oss.complete_upload("u1", [part("u1", 9, "p9")], obj("k", "final"))
    assert oss.get_object("photos", "k") is None
    assert oss.list_parts("photos", "k", "u1").parts == (part("u1", 1, "p1-new"),)
    with pytest.raises(NotFound) as wrong_key:
        oss.complete_upload("u1", [], obj("other", "final"))
    assert wrong_key.value.kind == "Upload"


def test_complete_with_forbid_overwrite(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(obj("k", "old"))
    oss.create_upload(upload("k", "u1"))
    oss.put_part("photos", "k", part("u1", 1, "p1"))
    with pytest.raises(AlreadyExists):
        oss.complete_upload("u1", [part("u1", 1, "p1")], obj("k", "new"), if_absent=True)
    assert oss.get_upload("photos", "k", "u1") is not None


def test_abort_returns_the_part_blobs(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.create_upload(upload("k", "u1"))
    oss.put_part("photos", "k", part("u1", 1, "p1"))
    oss.put_part("photos", "k", part("u1", 2, "p2"))
    assert sorted(oss.abort_upload("photos", "k", "u1")) == ["p1", "p2"]
    with pytest.raises(NotFound):
        oss.abort_upload("photos", "k", "u1")
    with pytest.raises(NotFound):
        oss.put_part("photos", "k", part("u1", 3, "p3"))
    assert not oss.blob_is_referenced("p1")


def test_duplicate_upload_id_is_refused(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.create_upload(upload("k", "u1"))
    with pytest.raises(AlreadyExists):
        oss.create_upload(upload("j", "u1"))


def test_list_parts_pages_by_part_number(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.create_upload(upload("k", "u1"))
    for number in (5, 1, 3, 10000, 2):
        oss.put_part("photos", "k", part("u1", number, f"p{number}"))
    page = oss.list_parts("photos", "k", "u1", max_parts=2)
    assert [p.part_number for p in page.parts] == [1, 2]
    assert page.is_truncated and page.next_part_number_marker == 2
    page = oss.list_parts("photos", "k", "u1", part_number_marker=2, max_parts=2)
    assert [p.part_number for p in page.parts] == [3, 5] and page.is_truncated
    page = oss.list_parts("photos", "k", "u1", part_number_marker=5, max_parts=2)
    assert [p.part_number for p in page.parts] == [10000] and not page.is_truncated
    assert page.next_part_number_marker == 10000
    assert page.parts[0] == part("u1", 10000, "p10000")


def test_list_uploads_pages_by_key_and_upload_id(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    wanted = [("a/1", "u3"), ("a/2", "u1"), ("b", "u1x"), ("b", "u2"), ("b", "u9"), ("c/d", "u4")]
    for key, upload_id in reversed(wanted):
        oss.create_upload(upload(key, upload_id))
    seen: list[tuple[str, str]] = []
    key_marker = upload_id_marker = ""
    while True:
        page = oss.list_uploads(
            "photos", key_marker=key_marker, upload_id_marker=upload_id_marker, max_uploads=2
        )
        seen.extend((u.key, u.upload_id) for u in page.uploads)
        if not page.is_truncated:
            break
        key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker
    assert seen == wanted
    page = oss.list_uploads("photos", delimiter="/", max_uploads=3)
    assert page.common_prefixes == ("a/",) and [u.upload_id for u in page.uploads] == ["u1x", "u2"]
    assert page.is_truncated and (page.next_key_marker, page.next_upload_id_marker) == ("b", "u2")
    page = oss.list_uploads("photos", delimiter="/", key_marker="b", upload_id_marker="u2")
    assert [u.upload_id for u in page.uploads] == ["u9"] and page.common_prefixes == ("c/",)
    page = oss.list_uploads("photos", delimiter="/", max_uploads=1)
    assert page.common_prefixes == ("a/",)
    assert (page.next_key_marker, page.next_upload_id_marker) == ("a/", "")
    page = oss.list_uploads("photos", key_marker="b")
    assert [u.key for u in page.uploads] == ["c/d"]
    page = oss.list_uploads("photos", prefix="a/")
    assert [u.upload_id for u in page.uploads] == ["u3", "u1"]
    assert page.uploads[0] == upload("a/1", "u3")


# ---- inline bodies ------------------------------------------------------------------------------


def small(key: str, blob: str, body: bytes, bucket_name: str = "photos") -> ObjectMeta:
    return obj(key, blob, bucket_name, size=len(body))


def test_inline_body_round_trip(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    assert oss.put_object(small("k", "i1", b"hello"), body=b"hello") is None
    assert oss.read_inline("i1") == b"hello"
    assert oss.get_object("photos", "k") == small("k", "i1", b"hello")
    assert oss.blob_is_referenced("i1")
    assert oss.read_inline("unknown") is None
    oss.put_object(small("empty", "i0", b""), body=b"")
    assert oss.read_inline("i0") == b""  # an empty body is inline too, not "no body"
    oss.put_object(obj("file", "f1"))
    assert oss.read_inline("f1") is None


def test_inline_body_is_read_with_its_object(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("k", "i1", b"hello"), body=b"hello")
    oss.put_object(obj("file", "f1"))
    assert oss.get_object_body("photos", "k") == (small("k", "i1", b"hello"), b"hello")
    assert oss.get_object_body("photos", "file") == (obj("file", "f1"), None)
    assert oss.get_object_body("photos", "missing") is None
    assert oss.get_object_body("nope", "k") is None


def test_bucket_and_object_are_read_together(oss: OssMetadataStore) -> None:
    with_policy = bucket(acl="public-read", policy='{"Version":"1","Statement":[]}')
    oss.create_bucket(with_policy)
    rich = EVERY_ATTR
    kept = small("k", "i1", b"hello")
    oss.put_object(replace(kept, attrs=rich, object_type=ObjectType.APPENDABLE), body=b"hello")
    oss.put_object(obj("file", "f1"))
    expected = replace(kept, attrs=rich, object_type=ObjectType.APPENDABLE)
    assert oss.get_bucket_object("photos", "k", body=True) == (with_policy, expected, b"hello")
    assert oss.get_bucket_object("photos", "k", body=False) == (with_policy, expected, None)
    assert oss.get_bucket_object("photos", "file", body=True) == (
        with_policy,
        obj("file", "f1"),
        None,
    )
    assert oss.get_bucket_object("photos", "missing", body=True) == (with_policy, None, None)
    assert oss.get_bucket_object("nope", "k", body=True) == (None, None, None)
    # what the single read returns is what the separate reads return
    assert oss.get_bucket("photos") == with_policy
    assert oss.get_object("photos", "k") == expected


def test_inline_overwritten_by_inline_frees_the_old_body(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("k", "i1", b"one"), body=b"one")
    assert oss.put_object(small("k", "i2", b"two!"), body=b"two!") is None
    assert oss.read_inline("i1") is None
    assert oss.read_inline("i2") == b"two!"
    assert not oss.blob_is_referenced("i1")


def test_file_overwritten_by_inline_returns_the_file(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(obj("k", "f1"))
    assert oss.put_object(small("k", "i1", b"tiny"), body=b"tiny") == "f1"
    assert oss.read_inline("i1") == b"tiny"
    assert not oss.blob_is_referenced("f1")


def test_inline_overwritten_by_file_frees_the_body(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("k", "i1", b"tiny"), body=b"tiny")
    assert oss.put_object(obj("k", "f1")) is None
    assert oss.read_inline("i1") is None
    got = oss.get_object("photos", "k")
    assert got is not None and got.blob_id == "f1"


def test_deleting_inline_objects_frees_their_bodies(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("a", "ia", b"aa"), body=b"aa")
    oss.put_object(obj("b", "fb"))
    oss.put_object(small("c", "ic", b"cc"), body=b"cc")
    oss.put_object(small("d", "id", b"dd"), body=b"dd")
    assert oss.delete_object("photos", "d") is None
    assert oss.read_inline("id") is None
    assert oss.delete_objects("photos", ["a", "missing", "b", "c", "a"]) == ["fb"]
    assert oss.read_inline("ia") is None and oss.read_inline("ic") is None
    assert oss.list_objects("photos").items == ()


def test_completing_an_upload_over_an_inline_object_frees_its_body(
    oss: OssMetadataStore,
) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("k", "i1", b"small"), body=b"small")
    oss.create_upload(upload("k", "u1"))
    oss.put_part("photos", "k", part("u1", 1, "p1"))
    oss.put_part("photos", "k", part("u1", 2, "p2"))
    final = obj("k", "final", object_type=ObjectType.MULTIPART, etag="X-1")
    released = oss.complete_upload("u1", [part("u1", 1, "p1")], final)
    assert sorted(released) == ["p1", "p2"]  # the inline body is gone, not returned
    assert oss.read_inline("i1") is None


def test_a_refused_put_stores_no_inline_body(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("k", "i1", b"first"), body=b"first")
    with pytest.raises(AlreadyExists):
        oss.put_object(small("k", "i2", b"second"), if_absent=True, body=b"second")
    with pytest.raises(NotFound) as missing:
        oss.put_object(small("k", "i3", b"third", "nope"), body=b"third")
    assert missing.value.kind == "Bucket"
    with pytest.raises(ObjectChanged):
        oss.put_object(small("k", "i4", b"fourth"), expect_blob_id="other", body=b"fourth")
    with pytest.raises(ObjectChanged):
        oss.put_object(small("new", "i5", b"fifth"), expect_blob_id="i1", body=b"fifth")
    for blob in ("i2", "i3", "i4", "i5"):
        assert oss.read_inline(blob) is None
        assert not oss.blob_is_referenced(blob)
    assert oss.get_object("photos", "k") == small("k", "i1", b"first")
    assert oss.read_inline("i1") == b"first"
    assert oss.get_object("photos", "new") is None


def test_an_expected_blob_may_be_replaced_by_an_inline_body(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("k", "i1", b"first"), body=b"first")
    assert oss.put_object(small("k", "i2", b"second"), expect_blob_id="i1", body=b"second") is None
    assert oss.read_inline("i1") is None and oss.read_inline("i2") == b"second"


def test_submit_put_object_resolves_like_put_object(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())

    async def writes() -> None:
        assert await oss.submit_put_object(obj("k", "f1")) is None
        assert await oss.submit_put_object(small("k", "i1", b"tiny"), body=b"tiny") == "f1"
        assert oss.read_inline("i1") == b"tiny"
        assert await oss.submit_put_object(small("k", "i2", b"next"), body=b"next") is None
        assert oss.read_inline("i1") is None
        with pytest.raises(AlreadyExists):
            await oss.submit_put_object(small("k", "i3", b"no"), if_absent=True, body=b"no")
        with pytest.raises(NotFound):
            await oss.submit_put_object(small("k", "i4", b"no", "nope"), body=b"no")

    asyncio.run(writes())
    assert oss.read_inline("i3") is None and oss.read_inline("i4") is None
    assert oss.get_object("photos", "k") == small("k", "i2", b"next")


def test_a_shared_inline_body_lives_until_its_last_reference(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.put_object(small("a", "i1", b"shared"), body=b"shared")
    assert oss.put_object(small("b", "i1", b"shared")) is None  # a second key, same blob
    assert oss.delete_object("photos", "a") is None
    assert oss.read_inline("i1") == b"shared"
    # the remaining key rewritten in place (copy to itself): still the same blob
    rewritten = replace(small("b", "i1", b"shared"), attrs=ObjectAttrs(user_meta=(("x", "1"),)))
    assert oss.put_object(rewritten, expect_blob_id="i1") is None
    assert oss.read_inline("i1") == b"shared"
    assert oss.delete_object("photos", "b") is None  # inline: never a blob file to delete
    assert oss.read_inline("i1") is None
    assert not oss.blob_is_referenced("i1")


def run_together(workers: int, work: Callable[[int], None]) -> None:
    """``work(0)`` … ``work(workers - 1)`` on their own threads, released at once by a barrier;
    whatever one of them raises fails the test."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        barrier.wait()
        try:
            work(worker)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_concurrent_inline_puts_free_every_replaced_body(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    writers, rounds = 8, 40
    returned: list[str | None] = []
    guard = threading.Lock()

    async def submit_all(worker: int) -> list[str | None]:
        futures = []
        for n in range(rounds):
            body = f"w{worker}-{n}".encode()
            futures.append(oss.submit_put_object(small("hot", f"h{worker}-{n}", body), body=body))
            own = small(f"own/{worker}", f"o{worker}-{n}", body)
            futures.append(oss.submit_put_object(own, body=body))
        return [await f for f in futures]

    def write(worker: int) -> None:  # each thread its own event loop
        results = asyncio.run(submit_all(worker))
        with guard:
            returned.extend(results)

    run_together(writers, write)
    assert returned == [None] * (2 * writers * rounds)  # inline bodies are never returned
    hot = oss.get_object("photos", "hot")
    assert hot is not None
    assert oss.read_inline(hot.blob_id) == f"w{hot.blob_id[1:]}".encode()  # h<w>-<n>: w<w>-<n>
    for w in range(writers):
        own = oss.get_object("photos", f"own/{w}")
        assert own is not None and own.blob_id == f"o{w}-{rounds - 1}"  # one thread: in order
        assert oss.read_inline(own.blob_id) == f"w{w}-{rounds - 1}".encode()
    live = {hot.blob_id} | {f"o{w}-{rounds - 1}" for w in range(writers)}
    for w in range(writers):
        for n in range(rounds):
            for blob in (f"h{w}-{n}", f"o{w}-{n}"):
                if blob not in live:
                    assert oss.read_inline(blob) is None, blob


# ---- concurrency ------------------------------------------------------------------------------


def test_concurrent_overwrites_lose_no_blob(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    rounds, writers = 150, 4
    returned: list[str] = []
    guard = threading.Lock()

    def write(worker: int) -> None:
        for n in range(rounds):
            old = oss.put_object(obj("hot", f"w{worker}-{n}"))
            if old is not None:
                with guard:
                    returned.append(old)

    run_together(writers, write)
    final = oss.get_object("photos", "hot")
    assert final is not None
    written = {f"w{w}-{n}" for w in range(writers) for n in range(rounds)}
    assert len(returned) == len(set(returned)) == len(written) - 1
    assert set(returned) | {final.blob_id} == written
    assert [o.key for o in oss.list_objects("photos").items] == ["hot"]


def test_concurrent_parts_and_completion_free_every_blob_once(oss: OssMetadataStore) -> None:
    oss.create_bucket(bucket())
    oss.create_upload(upload("k", "u1"))
    returned: list[str] = []
    guard = threading.Lock()

    def write(worker: int) -> None:
        for n in range(50):
            old = oss.put_part("photos", "k", part("u1", 1 + n % 3, f"w{worker}-{n}"))
            if old is not None:
                with guard:
                    returned.append(old)

    run_together(3, write)
    parts = oss.list_parts("photos", "k", "u1").parts
    returned += oss.complete_upload("u1", parts, obj("k", "final"))
    assert len(returned) == len(set(returned)) == 150
    assert not any(oss.blob_is_referenced(blob) for blob in returned)


# ---- SQLite only: persistence, sharing the identity file, bounded queries ----------------------


def test_sqlite_state_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tessera.db"
    store = open_sqlite_oss_store(path)
    store.create_bucket(bucket(policy='{"Version":"1"}'))
    meta = obj("dir/ü", "b1", crc64=BIG_CRC, attrs=ObjectAttrs(user_meta=(("k", "v"),)))
    store.put_object(meta)
    store.create_upload(upload("big", "u1"))
    store.put_part("photos", "big", part("u1", 7, "p7"))
    store.close()
    reopened = open_sqlite_oss_store(path)
    try:
        assert reopened.migrate() == []
        assert reopened.get_bucket("photos") == bucket(policy='{"Version":"1"}')
        assert reopened.get_object("photos", "dir/ü") == meta
        assert reopened.get_upload("photos", "big", "u1") == upload("big", "u1")
        assert reopened.list_parts("photos", "big", "u1").parts == (part("u1", 7, "p7"),)
        assert reopened.blob_is_referenced("p7") and not reopened.blob_is_referenced("zz")
    finally:
        reopened.close()


def test_sqlite_inline_bodies_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tessera.db"
    store = open_sqlite_oss_store(path)
    store.create_bucket(bucket())
    store.put_object(small("k", "i1", b"\x00kept\xff"), body=b"\x00kept\xff")
    store.put_object(small("empty", "i0", b""), body=b"")
    store.put_object(small("gone", "i2", b"gone"), body=b"gone")
    store.delete_object("photos", "gone")
    store.close()
    reopened = open_sqlite_oss_store(path)
    try:
        assert reopened.read_inline("i1") == b"\x00kept\xff"
        assert reopened.read_inline("i0") == b""
        assert reopened.read_inline("i2") is None
    finally:
        reopened.close()


def test_sqlite_shares_the_identity_database_file(tmp_path: Path) -> None:
    path = tmp_path / "tessera.db"
    identity = open_sqlite_store(path)
    oss = open_sqlite_oss_store(path)
    try:
        identity.create_account(account(), root_key())
        oss.create_bucket(bucket())
        assert identity.get_account(ACCOUNT) == account()
        assert oss.get_bucket("photos") == bucket()
        with sqlite3.connect(path) as conn:
            assert schema_version(conn) == max(m.version for m in load_migrations("sqlite"))
        conn.close()
    finally:
        oss.close()
        identity.close()


def _is_object_scan(statement: str) -> bool:
    return (
        statement.startswith("SELECT ")
        and "FROM oss_objects WHERE" in statement
        and ("ORDER BY object_key" in statement)
    )


def test_sqlite_delimiter_page_costs_a_bounded_number_of_queries(tmp_path: Path) -> None:
    statements: list[str] = []
    store = open_sqlite_oss_store(tmp_path / "tessera.db", on_statement=statements.append)
    try:
        store.create_bucket(bucket())
        conn = store._connection()  # bulk load: 20k single-row transactions would be slow
        conn.executemany(
            "INSERT INTO oss_objects (bucket, object_key, blob_id, size, etag, crc64,"
            " last_modified, object_type, content_type, acl, storage_class)"
            " VALUES ('photos', ?, ?, 1, 'e', '0', ?, 'Normal', 'x', 'default', 'Standard')",
            ((f"dir{d}/{n:05d}", f"b{d}-{n}", T0) for d in range(10) for n in range(2000)),
        )
        statements.clear()
        page = store.list_objects("photos", delimiter="/", max_keys=1000)
        scans = [s for s in statements if _is_object_scan(s)]
        assert page.common_prefixes == tuple(f"dir{d}/" for d in range(10))
        assert not page.is_truncated
        assert len(scans) <= 11  # one seek per common prefix, one to find the end
        statements.clear()
        page = store.list_objects("photos", prefix="dir3/", max_keys=1000)
        assert len(page.items) == 1000 and page.is_truncated
        assert len([s for s in statements if _is_object_scan(s)]) == 1
    finally:
        store.close()
