"""``SignatureMemo``: remembers verified inputs per secret, bounded, least recently used first."""

from __future__ import annotations

import pytest

from tessera.signing.memo import SignatureMemo


def test_remembers_only_what_was_recorded_under_that_secret() -> None:
    memo = SignatureMemo()
    assert not memo.verified(("GET", "/b/k"), "s3cret")
    memo.remember(("GET", "/b/k"), "s3cret")
    assert memo.verified(("GET", "/b/k"), "s3cret")
    assert not memo.verified(("GET", "/b/k"), "other")  # another secret: verify again
    assert not memo.verified(("GET", "/b/k2"), "s3cret")  # other inputs: verify again
    assert not memo.verified(("PUT", "/b/k"), "s3cret")


def test_a_new_secret_for_the_same_inputs_replaces_the_old() -> None:
    memo = SignatureMemo()
    memo.remember("inputs", "old")
    memo.remember("inputs", "new")
    assert memo.verified("inputs", "new")
    assert not memo.verified("inputs", "old")
    assert len(memo) == 1


def test_bounded_least_recently_used_goes_first() -> None:
    memo = SignatureMemo(capacity=3)
    for name in ("a", "b", "c"):
        memo.remember(name, "s")
    assert memo.verified("a", "s")  # a is now the most recently used
    memo.remember("d", "s")  # evicts b, the least recently used
    assert len(memo) == 3
    assert [memo.verified(name, "s") for name in "abcd"] == [True, False, True, True]
    for number in range(100):
        memo.remember(number, "s")
    assert len(memo) == 3


def test_non_ascii_secrets_compare() -> None:
    memo = SignatureMemo()
    memo.remember("inputs", "sécret\udcff")
    assert memo.verified("inputs", "sécret\udcff")
    assert not memo.verified("inputs", "secret")


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SignatureMemo(capacity=0)
