"""Blob ids: both kinds are 32 lower-case hex that ``check_blob_id`` accepts; file ids are
random (their first two characters pick a directory), inline ids are ordered by time."""

from __future__ import annotations

import itertools
from collections import Counter

from tessera.blobs import check_blob_id, new_blob_id, new_inline_blob_id


def test_both_kinds_are_well_formed_and_unique() -> None:
    ids = [new_blob_id() for _ in range(500)] + [new_inline_blob_id() for _ in range(500)]
    for blob_id in ids:
        assert check_blob_id(blob_id) == blob_id
        assert len(blob_id) == 32 and blob_id == blob_id.lower()
    assert len(set(ids)) == len(ids)


def test_file_ids_spread_over_directories() -> None:
    prefixes = Counter(new_blob_id()[:2] for _ in range(4096))
    assert len(prefixes) > 200  # of 256; time-ordered ids would all share one or two


def test_inline_ids_sort_by_time_whatever_the_random_part() -> None:
    ticks = itertools.count(1_764_900_000_000_000_000, 1_000)  # one microsecond apart
    ids = [new_inline_blob_id(lambda: next(ticks)) for _ in range(1000)]
    assert sorted(ids) == ids
    assert ids[0].startswith(f"{1_764_900_000_000_000:014x}")


def test_inline_ids_of_the_same_microsecond_still_differ() -> None:
    ids = {new_inline_blob_id(lambda: 1_764_900_000_000_000_000) for _ in range(1000)}
    assert len(ids) == 1000
