"""tessera.blobs.checksums: CRC-64/XZ vectors, combining, the streaming hasher."""

from __future__ import annotations

import base64
import hashlib
import os

import oss2.utils
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.gil import other_thread_ran_during

from tessera.blobs.checksums import (
    CRC64_CHECK,
    KEEP_GIL_BELOW,
    StreamHasher,
    crc64,
    crc64_combine,
    crc64_concat,
    multipart_etag,
)


def reference_crc(data: bytes) -> int:
    hasher = oss2.utils.Crc64(0)
    hasher.update(data)
    return int(hasher.crc)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"123456789", 0x995DC9BBDF1939FA),
        (b"", 0),
        (b"hello world", 5981764153023615706),  # spec/oss.md 7.3, as OSS sends it
    ],
)
def test_published_vectors(data: bytes, expected: int) -> None:
    assert crc64(data) == expected
    assert crc64(bytearray(data)) == crc64(memoryview(data)) == expected


def test_check_constant() -> None:
    assert crc64(b"123456789") == CRC64_CHECK == 11051210869376104954


@given(st.binary(max_size=5000))
def test_matches_oss2(data: bytes) -> None:
    assert crc64(data) == reference_crc(data)


def test_matches_oss2_on_a_large_random_body() -> None:
    data = os.urandom(3 << 20)
    assert crc64(data) == reference_crc(data)


@given(st.binary(max_size=2000), st.binary(max_size=2000))
def test_continuing_from_a_crc(a: bytes, b: bytes) -> None:
    assert crc64(b, crc64(a)) == crc64(a + b)


@given(st.binary(max_size=2000), st.binary(max_size=2000))
def test_combine_is_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    assert crc64_combine(crc64(a), crc64(b), len(b)) == crc64(a + b)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(1, 2**40))
def test_combine_agrees_with_oss2(crc1: int, crc2: int, len2: int) -> None:
    """oss2's GF(2) matrix method; it ignores crc2 when len2 is 0, so that case is below."""
    assert crc64_combine(crc1, crc2, len2) == oss2.utils.Crc64(0).combine(crc1, crc2, len2)


@given(st.lists(st.binary(max_size=500), max_size=8))
def test_concat_folds_parts_in_order(parts: list[bytes]) -> None:
    assert crc64_concat((crc64(p), len(p)) for p in parts) == crc64(b"".join(parts))


def test_combine_over_long_runs_of_zeros() -> None:
    head, zeros = b"head", bytes(5 << 20)
    assert crc64_combine(crc64(head), crc64(zeros), len(zeros)) == crc64(head + zeros)


@given(st.integers(0, 2**64 - 1))
def test_combining_with_nothing_changes_nothing(crc: int) -> None:
    assert crc64_combine(crc, 0, 0) == crc
    assert crc64_combine(0, crc, 123) == crc


@pytest.mark.parametrize("bad", [-1, 1 << 60])
def test_combine_refuses_impossible_lengths(bad: int) -> None:
    with pytest.raises(ValueError, match="len2"):
        crc64_combine(1, 2, bad)


@given(st.lists(st.binary(max_size=3000), max_size=10))
def test_stream_hasher_over_any_chunking(chunks: list[bytes]) -> None:
    hasher = StreamHasher()
    for chunk in chunks:
        hasher.update(chunk)
    whole = b"".join(chunks)
    digest = hasher.digest()
    assert digest.size == len(whole)
    assert digest.md5 == hashlib.md5(whole).digest()
    assert digest.md5_hex == hashlib.md5(whole).hexdigest().upper()
    assert digest.md5_base64 == base64.b64encode(hashlib.md5(whole).digest()).decode()
    assert digest.crc64 == reference_crc(whole)


@pytest.mark.parametrize(
    "size", [0, 1, 2046, 2047, 2048, 4094, 4095, 4096, KEEP_GIL_BELOW - 1, KEEP_GIL_BELOW, 100_000]
)
def test_stream_hasher_at_the_slicing_bounds(size: int) -> None:
    data = os.urandom(size)
    hasher = StreamHasher()
    hasher.update(data)
    hasher.update(memoryview(data))  # a view, as a stream may hand over
    assert hasher.digest().md5 == hashlib.md5(data + data).digest()
    assert hasher.digest().crc64 == reference_crc(data + data)


def test_a_small_chunk_is_hashed_without_giving_up_the_gil() -> None:
    """On the event loop a small body's MD5 must not hand the GIL to the commit writer
    (a switch there and back costs more than the hashing)."""
    body = os.urandom(KEEP_GIL_BELOW - 1)
    assert not other_thread_ran_during(lambda: StreamHasher().update(body))
    # the probe itself can see a release: one that hashes in one piece does
    big = os.urandom(8 << 20)
    assert other_thread_ran_during(lambda: hashlib.md5(big).digest())


def test_digest_is_a_snapshot() -> None:
    hasher = StreamHasher()
    hasher.update(b"abc")
    first = hasher.digest()
    hasher.update(b"def")
    assert first.size == 3
    assert hasher.digest().crc64 == crc64(b"abcdef")


def test_multipart_etag() -> None:
    md5s = [hashlib.md5(b"a").digest(), hashlib.md5(b"b").digest()]
    expected = hashlib.md5(md5s[0] + md5s[1]).hexdigest().upper() + "-2"
    assert multipart_etag(md5s) == expected
