from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.signing import pop_v1
from tessera.signing.encoding import (
    decode_query,
    encode_canonical,
    percent_encode,
    percent_encode_lax,
    percent_encode_plus,
)

UNRESERVED = "ABCXYZabcxyz0189-_.~"


@pytest.mark.parametrize(
    ("text", "strict", "lax", "plus"),
    [
        (UNRESERVED, UNRESERVED, UNRESERVED, UNRESERVED),
        (" ", "%20", "%20", "+"),
        ("*", "%2A", "*", "%2A"),
        ("!'()", "%21%27%28%29", "!'()", "%21%27%28%29"),
        ("a+b", "a%2Bb", "a%2Bb", "a%2Bb"),
        ("/:=&?#%", "%2F%3A%3D%26%3F%23%25", "%2F%3A%3D%26%3F%23%25", "%2F%3A%3D%26%3F%23%25"),
        ("é中", "%C3%A9%E4%B8%AD", "%C3%A9%E4%B8%AD", "%C3%A9%E4%B8%AD"),
        ("😀", "%F0%9F%98%80", "%F0%9F%98%80", "%F0%9F%98%80"),
        ("%20", "%2520", "%2520", "%2520"),
        ("", "", "", ""),
    ],
)
def test_encoders(text: str, strict: str, lax: str, plus: str) -> None:
    assert percent_encode(text) == strict
    assert percent_encode_lax(text) == lax
    assert percent_encode_plus(text) == plus


@given(st.text())
def test_strict_is_rfc3986_and_round_trips(text: str) -> None:
    encoded = percent_encode(text)
    assert set(encoded) <= set(
        UNRESERVED + "ABCDEFGHIJKLMNOPQRSTUVWXYZ%0123456789abcdefghijklmnopqrstuvwxyz"
    )
    assert urllib.parse.unquote(encoded, errors="surrogatepass") == text


@given(st.text(min_size=129, max_size=1500))
def test_long_values_match_urllib(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    assert percent_encode(text) == urllib.parse.quote(raw, safe="")
    assert percent_encode_plus(text) == urllib.parse.quote_plus(raw, safe="")
    assert percent_encode_lax(text) == urllib.parse.quote(raw, safe="!'()*")


def test_an_sts_token_encodes_its_base64_characters() -> None:
    token = "CAIS" + "ab+/cd=" * 200
    encoded = percent_encode(token)
    assert encoded == "CAIS" + "ab%2B%2Fcd%3D" * 200


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_plus_is_pythons_quote_plus(text: str) -> None:
    assert percent_encode_plus(text) == urllib.parse.quote_plus(text, safe="")


@given(st.text())
def test_lax_only_differs_on_the_five_node_characters(text: str) -> None:
    strict, lax = percent_encode(text), percent_encode_lax(text)
    for char, escaped in zip("!'()*", ("%21", "%27", "%28", "%29", "%2A"), strict=True):
        strict = strict.replace(escaped, char)
    assert strict == lax


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        ("", []),
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("SignatureType=&x", [("SignatureType", ""), ("x", "")]),
        ("p=a+b%2Bc", [("p", "a b+c")]),
        ("a=1&a=2", [("a", "1"), ("a", "2")]),
        ("k=%E4%B8%AD", [("k", "中")]),
        ("k=%FF", [("k", "\ufffd")]),
        ("a=1;b=2", [("a", "1;b=2")]),
    ],
)
def test_decode_query(raw: str, pairs: list[tuple[str, str]]) -> None:
    assert decode_query(raw) == pairs


ENCODER = {"strict": percent_encode, "lax": percent_encode_lax, "plus": percent_encode_plus}


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=30)), max_size=8),
    st.sampled_from(pop_v1.VARIANTS),
)
def test_encode_canonical_equals_the_variants_encoder(
    params: list[tuple[str, str]], variant: pop_v1.Variant
) -> None:
    canonical = pop_v1.canonical_query_string(params, variant=variant)
    assert encode_canonical(canonical) == ENCODER[variant](canonical)
