from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.errors import IncompleteSignature
from tessera.signing import acs3

SIG = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
DOC_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-version": "2014-05-26",
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-content-sha256": acs3.EMPTY_PAYLOAD_SHA256,
}
DOC_SIGNED = tuple(sorted(DOC_HEADERS))
DOC_QUERY = [
    ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
    ("RegionId", "cn-shanghai"),
]


def _verify(**overrides: object) -> str | None:
    arguments: dict[str, object] = {
        "method": "POST",
        "canonical_uri": "/",
        "query_pairs": DOC_QUERY,
        "headers": DOC_HEADERS,
        "signed_headers": DOC_SIGNED,
        "hashed_payload": acs3.EMPTY_PAYLOAD_SHA256,
        "secret": "YourAccessKeySecret",
        "provided_signature": SIG,
    }
    arguments.update(overrides)
    return acs3.verify(**arguments)  # type: ignore[arg-type]


def test_documented_vector_verifies() -> None:
    assert _verify() is None
    assert _verify(provided_signature=SIG.upper()) is None


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},
        {"canonical_uri": "/x"},
        {"query_pairs": [*DOC_QUERY, ("Extra", "")]},
        {"query_pairs": DOC_QUERY[:1]},
        {"headers": {**DOC_HEADERS, "x-acs-action": "StopInstances"}},
        {"signed_headers": DOC_SIGNED[1:]},
        {"hashed_payload": "0" * 64},
        {"secret": "YourAccessKeySecret&"},
        {"provided_signature": "0" * 64},
        {"provided_signature": ""},
        {"provided_signature": "é"},
    ],
)
def test_any_change_is_a_mismatch_reporting_the_string_to_sign(change: dict[str, object]) -> None:
    result = _verify(**change)
    assert result is not None and result.startswith("ACS3-HMAC-SHA256\n")
    assert len(result.split("\n")[1]) == 64


def test_unsigned_headers_do_not_matter() -> None:
    assert _verify(headers={**DOC_HEADERS, "user-agent": "anything"}) is None


# ------------------------------------------------------------------------ canonical pieces


def test_canonical_query_string() -> None:
    pairs = [("b", "x y"), ("a", "*~"), ("Empty", ""), ("a", "last"), ("中", "é")]
    assert acs3.canonical_query_string(pairs) == "Empty=&a=last&b=x%20y&%E4%B8%AD=%C3%A9"
    assert acs3.canonical_query_string([]) == ""


def test_canonical_headers_follow_the_signed_list_as_sent() -> None:
    headers = {"host": "127.0.0.1:9800", "x-acs-date": "  2023-10-26T10:22:32Z \t"}
    signed = ("x-acs-date", "host", "x-acs-missing")
    assert acs3.canonical_headers(headers, signed) == (
        "x-acs-date:2023-10-26T10:22:32Z\nhost:127.0.0.1:9800\nx-acs-missing:\n"
    )


def test_canonical_request_layout() -> None:
    request = acs3.canonical_request("POST", "/", [], {"host": "h"}, ("host",), "abc")
    assert request == "POST\n/\n\nhost:h\n\nhost\nabc"


def test_collect_headers_joins_repeats_like_tea() -> None:
    pairs = [("Host", "h:1"), ("X-Acs-Tag", " b "), ("x-acs-tag", "a"), ("Accept", "x")]
    assert acs3.collect_headers(pairs) == {"host": "h:1", "x-acs-tag": "a,b", "accept": "x"}


def test_string_to_sign_and_signature_of_the_documented_vector() -> None:
    request = acs3.canonical_request(
        "POST", "/", DOC_QUERY, DOC_HEADERS, DOC_SIGNED, acs3.EMPTY_PAYLOAD_SHA256
    )
    sts = acs3.string_to_sign(request)
    assert sts == (
        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    assert acs3.signature("YourAccessKeySecret", sts) == SIG


def test_hashed_payload() -> None:
    assert acs3.hashed_payload(b"") == acs3.EMPTY_PAYLOAD_SHA256
    assert acs3.hashed_payload(b"a=1") == (
        "c22fea5d7428e5cf47ef6354c97c9223c95d6dcdc3e0d2300ff79056b1ff3d85"
    )


def test_unsigned_headers() -> None:
    present = ["Host", "Content-Type", "X-Acs-Action", "x-acs-date", "User-Agent", "Authorization"]
    assert acs3.unsigned_headers(present, ("host", "x-acs-date")) == (
        "content-type",
        "x-acs-action",
    )
    assert (
        acs3.unsigned_headers(present, ("host", "content-type", "x-acs-action", "x-acs-date")) == ()
    )


# ------------------------------------------------------------------------------ Authorization

GOOD = (
    "ACS3-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId,"
    f"SignedHeaders=host;x-acs-date,Signature={SIG}"
)


def test_parse_authorization() -> None:
    parsed = acs3.parse_authorization(GOOD)
    assert parsed == acs3.Acs3Authorization("LTAI5tTestAccessKeyId", ("host", "x-acs-date"), SIG)


def test_parse_authorization_tolerates_spaces_and_upper_hex() -> None:
    text = f"  ACS3-HMAC-SHA256 Credential=AK , SignedHeaders=host ,Signature={SIG.upper()} "
    parsed = acs3.parse_authorization(text)
    assert parsed == acs3.Acs3Authorization("AK", ("host",), SIG)


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("", "does not start with ACS3-HMAC-SHA256"),
        ("acs AK:sig", "does not start with ACS3-HMAC-SHA256"),
        (GOOD.replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3"), "unsupported signature algorithm"),
        (GOOD.replace("ACS3-HMAC-SHA256", "ACS3-RSA-SHA256"), "unsupported signature algorithm"),
        ("ACS3-HMAC-SHA256", "missing Credential"),
        (GOOD.replace("Credential=LTAI5tTestAccessKeyId,", ""), "missing Credential"),
        (GOOD.replace("Credential=LTAI5tTestAccessKeyId", "Credential="), "missing Credential"),
        (GOOD.replace("SignedHeaders=host;x-acs-date,", ""), "missing SignedHeaders"),
        (GOOD.replace(f",Signature={SIG}", ""), "missing Signature"),
        (GOOD.replace(SIG, SIG[:-1]), "not 64 hexadecimal digits"),
        (GOOD.replace(SIG, "z" * 64), "not 64 hexadecimal digits"),
        (GOOD.replace("host;x-acs-date", "host;;x-acs-date"), "empty or padded name"),
        (GOOD.replace("host;x-acs-date", "host; x-acs-date"), "empty or padded name"),
        (GOOD + ",Signature=" + SIG, "Signature appears twice"),
        (GOOD + ",junk", "has no '='"),
    ],
)
def test_parse_authorization_names_what_is_wrong(header: str, detail: str) -> None:
    with pytest.raises(IncompleteSignature) as caught:
        acs3.parse_authorization(header)
    assert detail in caught.value.message


@given(st.text(max_size=200))
def test_parse_authorization_raises_only_incomplete_signature(header: str) -> None:
    with contextlib.suppress(IncompleteSignature):
        acs3.parse_authorization(header)


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=30)), max_size=8),
    st.dictionaries(
        st.from_regex(r"x-acs-[a-z]{1,8}", fullmatch=True), st.text(max_size=30), max_size=5
    ),
    st.text(max_size=20),
)
def test_sign_then_verify_round_trips(
    query: list[tuple[str, str]], extra: dict[str, str], secret: str
) -> None:
    headers = {"host": "127.0.0.1:9800", **extra}
    signed = tuple(sorted(headers))
    request = acs3.canonical_request("POST", "/", query, headers, signed, acs3.EMPTY_PAYLOAD_SHA256)
    provided = acs3.signature(secret, acs3.string_to_sign(request))
    common = {
        "method": "POST",
        "canonical_uri": "/",
        "query_pairs": query,
        "headers": headers,
        "signed_headers": signed,
        "hashed_payload": acs3.EMPTY_PAYLOAD_SHA256,
    }
    assert acs3.verify(**common, secret=secret, provided_signature=provided) is None  # type: ignore[arg-type]
    assert acs3.verify(**common, secret=secret + "x", provided_signature=provided) is not None  # type: ignore[arg-type]
