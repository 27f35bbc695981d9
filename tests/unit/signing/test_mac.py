"""tessera.signing.mac: the keyed-state HMAC gives exactly the bytes of ``hmac.digest``."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.signing.mac import hmac_digest


@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_equals_the_standard_hmac(algorithm: str, key: bytes, message: bytes) -> None:
    expected = hmac.digest(key, message, getattr(hashlib, algorithm))
    assert hmac_digest(key, message, algorithm) == expected  # type: ignore[arg-type]


def test_a_kept_state_is_not_changed_by_the_messages_it_signs() -> None:
    key = b"aliyun_v4-secret"
    first = [hmac_digest(key, message, "sha256") for message in (b"a", b"b", b"a")]
    assert first[0] == first[2] == hmac.digest(key, b"a", hashlib.sha256)
    assert first[1] == hmac.digest(key, b"b", hashlib.sha256)


def test_rfc4231_case_2() -> None:
    # RFC 4231 test case 2 (HMAC-SHA-256): key "Jefe"
    digest = hmac_digest(b"Jefe", b"what do ya want for nothing?", "sha256")
    assert digest.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
