from __future__ import annotations

import calendar
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.errors import TimestampInvalid
from tessera.signing import pop_v1

BASE = [
    ("AccessKeyId", "testid"),
    ("Action", "CreateUser"),
    ("Format", "JSON"),
    ("SignatureMethod", "HMAC-SHA1"),
    ("SignatureNonce", "6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2"),
    ("SignatureVersion", "1.0"),
    ("Timestamp", "2015-08-18T03:15:45Z"),
    ("UserName", "test"),
    ("Version", "2015-05-01"),
]
DOC_SIGNATURE = "kRA2cnpJVacIhDMzXnoNZG9tDCI="

# "Signature" is never signed; leave it out of generated parameter sets.
names_strategy = st.text(min_size=1, max_size=12).filter(lambda name: name != "Signature")
params_strategy = st.lists(st.tuples(names_strategy, st.text(max_size=40)), max_size=12)


def test_canonical_query_string_sorts_and_encodes() -> None:
    params = [("b", "x y"), ("a", "*"), ("SignatureType", ""), ("Signature", "zzz")]
    assert pop_v1.canonical_query_string(params) == "SignatureType=&a=%2A&b=x%20y"


def test_order_of_input_does_not_matter() -> None:
    assert pop_v1.string_to_sign("GET", BASE) == pop_v1.string_to_sign("GET", BASE[::-1])


def test_signature_parameter_is_never_signed() -> None:
    with_signature = [*BASE, ("Signature", DOC_SIGNATURE)]
    assert pop_v1.string_to_sign("GET", with_signature) == pop_v1.string_to_sign("GET", BASE)


def test_repeated_name_keeps_the_last_value() -> None:
    repeated = [("UserName", "first"), *BASE]
    assert pop_v1.verify("GET", repeated, "testsecret", DOC_SIGNATURE) is None
    assert pop_v1.verify("GET", [*BASE, ("UserName", "last")], "testsecret", DOC_SIGNATURE)


def test_method_is_signed() -> None:
    assert pop_v1.verify("GET", BASE, "testsecret", DOC_SIGNATURE) is None
    mismatch = pop_v1.verify("POST", BASE, "testsecret", DOC_SIGNATURE)
    assert mismatch is not None and mismatch.startswith("POST&%2F&")


def test_mismatch_returns_the_strict_string_to_sign() -> None:
    params = [*BASE, ("Policy", '{"Action": "oss:*"}')]
    mismatch = pop_v1.verify("GET", params, "testsecret", DOC_SIGNATURE)
    assert mismatch == pop_v1.string_to_sign("GET", params)


@pytest.mark.parametrize(
    "provided",
    [
        "",
        "not base64",
        "kRA2cnpJVacIhDMzXnoNZG9tDCI",
        "kRA2cnpJVacIhDMzXnoNZG9tDCI=" * 2,
        "é",
        "\ud800",
    ],
)
def test_odd_provided_signatures_are_mismatches(provided: str) -> None:
    assert pop_v1.verify("GET", BASE, "testsecret", provided) is not None


def test_lax_keeps_node_characters_and_empty_values() -> None:
    params = [("Policy", "oss:*(x)"), ("Empty", "")]
    assert pop_v1.canonical_query_string(params, lax=True) == "Empty=&Policy=oss%3A*(x)"
    assert pop_v1.canonical_query_string(params, variant="lax") == "Empty=&Policy=oss%3A*(x)"
    assert pop_v1.canonical_query_string(params) == "Empty=&Policy=oss%3A%2A%28x%29"


def test_lax_sorts_like_javascript_entries() -> None:
    # JavaScript sorts [name, value] pairs as "name,value" strings: "A!,2" < "A,1".
    params = [("A", "1"), ("A!", "2")]
    assert pop_v1.canonical_query_string(params) == "A=1&A%21=2"
    assert pop_v1.canonical_query_string(params, lax=True) == "A!=2&A=1"


def test_plus_encodes_space_as_plus() -> None:
    params = [("Policy", "a b")]
    assert pop_v1.canonical_query_string(params, variant="plus") == "Policy=a+b"
    assert pop_v1.string_to_sign("GET", params, variant="plus") == "GET&%2F&Policy%3Da%2Bb"


def test_contradictory_variant_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        pop_v1.string_to_sign("GET", BASE, lax=True, variant="plus")


@pytest.mark.parametrize("variant", pop_v1.VARIANTS)
def test_verify_accepts_each_client_variant(variant: pop_v1.Variant) -> None:
    params = [*BASE, ("Policy", '{"Resource": "acs:oss:*:*:b/(it\'s)!"}')]
    sts = pop_v1.string_to_sign("POST", params, variant=variant)
    assert pop_v1.verify("POST", params, "s3cret", pop_v1.signature("s3cret", sts)) is None


@given(params_strategy, st.text(max_size=30), st.sampled_from(["GET", "POST"]))
def test_sign_then_verify_round_trips(
    params: list[tuple[str, str]], secret: str, method: str
) -> None:
    sts = pop_v1.string_to_sign(method, params)
    assert pop_v1.verify(method, params, secret, pop_v1.signature(secret, sts)) is None
    assert pop_v1.verify(method, params, secret + "x", pop_v1.signature(secret, sts)) == sts


@given(params_strategy, names_strategy, st.text(max_size=20))
def test_any_added_parameter_breaks_the_signature(
    params: list[tuple[str, str]], name: str, value: str
) -> None:
    sts = pop_v1.string_to_sign("GET", params)
    changed = [*params, (name, value)]
    if dict(changed) == dict(params):
        return
    assert pop_v1.verify("GET", changed, "k", pop_v1.signature("k", sts)) is not None


@given(params_strategy, st.sampled_from(pop_v1.VARIANTS), st.sampled_from(pop_v1.VARIANTS))
def test_variants_never_accept_another_parameter_set(
    params: list[tuple[str, str]], signed_as: pop_v1.Variant, other: pop_v1.Variant
) -> None:
    """What one variant signed, no variant reads as a different set of parameters."""
    signed = pop_v1.canonical_query_string(params, variant=signed_as)
    for mutated in (params[:-1], [*params, ("x", "")], [(k, v + " ") for k, v in params]):
        if dict(mutated) != dict(params):
            assert pop_v1.canonical_query_string(mutated, variant=other) != signed


# ------------------------------------------------------------------------------------ Timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-08-18T03:15:45Z", calendar.timegm((2015, 8, 18, 3, 15, 45))),
        ("2026-12-04T19:16:43.985Z", calendar.timegm((2026, 12, 4, 19, 16, 43)) + 0.985),
        ("2024-02-29T23:59:59Z", calendar.timegm((2024, 2, 29, 23, 59, 59))),
        ("1970-01-01T00:00:00.000000001Z", 1e-9),
    ],
)
def test_parse_timestamp(text: str, expected: float) -> None:
    assert pop_v1.parse_timestamp(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2015-08-18T03:15:45",
        "2015-08-18 03:15:45Z",
        "2015-8-18T03:15:45Z",
        "2015-08-18T03:15:45z",
        "2015-08-18T03:15:45+08:00",
        "2015-08-18T03:15:45.Z",
        "2015-08-18T03:15:45.1234567890Z",
        "2015-13-18T03:15:45Z",
        "2023-02-29T03:15:45Z",
        "2015-08-18T24:00:00Z",
        "2015-08-18T23:60:00Z",
        "2015-08-18T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "\uff12\uff10\uff11\uff15-08-18T03:15:45Z",  # full-width digits
        " 2015-08-18T03:15:45Z",
    ],
)
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(TimestampInvalid):
        pop_v1.parse_timestamp(text)


@given(st.text(max_size=40))
def test_parse_timestamp_raises_only_timestamp_invalid(text: str) -> None:
    with contextlib.suppress(TimestampInvalid):
        pop_v1.parse_timestamp(text)
