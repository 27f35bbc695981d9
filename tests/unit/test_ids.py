from __future__ import annotations

import re
import string
from collections import Counter

import pytest

from tessera import ids


def test_formats() -> None:
    source = ids.SecureIds()
    assert re.fullmatch(r"LTAI[A-Za-z0-9]{20}", ids.access_key_id(source))
    assert re.fullmatch(r"[A-Za-z0-9]{30}", ids.access_key_secret(source))
    assert re.fullmatch(r"STS\.[A-Za-z0-9]{25}", ids.sts_access_key_id(source))
    assert re.fullmatch(r"[1-9]\d{15}", ids.account_id(source))
    assert re.fullmatch(r"[1-9]\d{17}", ids.numeric_id(source))
    assert re.fullmatch(r"g-[A-Za-z0-9]{14}", ids.group_id(source))
    assert re.fullmatch(
        r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", ids.request_id()
    )


def test_tokens_cover_the_alphabet_evenly() -> None:
    source = ids.SecureIds()
    alphabet = string.ascii_letters + string.digits  # 62 does not divide 256: rejection matters
    counts = Counter(source.token(alphabet, 62_000))
    assert set(counts) == set(alphabet)
    # each character is expected 1000 times; a biased mapping (byte % 62) would give the
    # first 8 characters ~1.2x the others
    assert max(counts.values()) < 1150 and min(counts.values()) > 850


def test_tokens_are_distinct() -> None:
    source = ids.SecureIds()
    assert len({ids.sts_access_key_id(source) for _ in range(1000)}) == 1000


def test_the_random_pool_hands_out_each_byte_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Takes come from the read chunk in order and never overlap; a take the rest of the
    chunk cannot cover reads a new one (what was left is dropped, not reused)."""
    reads: list[bytes] = []

    def urandom(size: int) -> bytes:
        chunk = bytes((len(reads) * 64 + i) % 256 for i in range(size))
        reads.append(chunk)
        return chunk

    monkeypatch.setattr(ids.os, "urandom", urandom)
    pool = ids._RandomPool(chunk=16)
    taken = [pool.take(5) for _ in range(4)]
    assert b"".join(taken[:3]) == reads[0][:15]
    assert taken[3] == reads[1][:5]
    big = pool.take(40)  # more than a chunk: one read of its own size
    assert big == reads[2] and len(big) == 40
    assert pool.take(3) == reads[3][:3]
