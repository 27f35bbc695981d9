"""RPC parameter decoding agrees with the stdlib's parse_qsl and refuses invalid UTF-8."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidArgument
from tessera.rpc.app import decode_pairs


@pytest.mark.parametrize(
    "raw",
    [b"a=1&b=&c", b"x=%E4%BD%A0+b&y=%2B", b"&&a=b=c&", b"Policy=%7B%22a%22%3A%22b%22%7D", b""],
)
def test_known_forms(raw: bytes) -> None:
    assert decode_pairs(raw) == parse_qsl(raw.decode(), keep_blank_values=True)


@settings(max_examples=500)
@given(st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_agrees_with_parse_qsl(pairs: list[tuple[str, str]]) -> None:
    raw = urlencode(pairs).encode()
    assert decode_pairs(raw) == parse_qsl(raw.decode(), keep_blank_values=True) == pairs


@pytest.mark.parametrize("raw", [b"a=%FF", b"\xff=1", b"UserName=%C3"])
def test_invalid_utf8_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidArgument):
        decode_pairs(raw)
