"""Differential tests: the official SDKs' own signing functions against Tessera's, on random input.

The golden vectors pin a few real requests; these tests feed hypothesis-generated parameters and
headers to aliyun-python-sdk-core, tea-openapi and alibabacloud-credentials, and require that
Tessera computes the same string to sign and signature for the same decoded input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.signing import acs3, pop_v1

tea_utils = pytest.importorskip("alibabacloud_tea_openapi.utils")
core_composer = pytest.importorskip("aliyunsdkcore.auth.composer.rpc_signature_composer")
credentials_helper = pytest.importorskip("alibabacloud_credentials.utils.parameter_helper")
darabonba_request = pytest.importorskip("darabonba.request")

# The SDKs encode str with UTF-8 'strict': lone surrogates are not text any client can send.
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
# "Signature" is removed before any SDK composes its string, as it is by pop_v1.
names = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12).filter(
    lambda name: name != "Signature"
)
params = st.dictionaries(names, text, max_size=10)
secrets = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
methods = st.sampled_from(["GET", "POST"])


def _core_string_to_sign(method: str, queries: dict[str, str]) -> str:
    compose = getattr(core_composer, "__compose_string_to_sign")
    return str(compose(method, dict(queries)))


@given(params, methods)
def test_core_string_to_sign(queries: dict[str, str], method: str) -> None:
    pairs = list(queries.items())
    assert pop_v1.string_to_sign(method, pairs) == _core_string_to_sign(method, queries)


@given(params, methods, secrets)
def test_tea_v1_signature(queries: dict[str, str], method: str, secret: str) -> None:
    expected = tea_utils.Utils.get_rpcsignature(dict(queries), method, secret)
    sts = pop_v1.string_to_sign(method, list(queries.items()))
    assert pop_v1.signature(secret, sts) == expected
    assert pop_v1.verify(method, list(queries.items()), secret, expected) is None


@given(params, secrets)
def test_credentials_plus_variant(queries: dict[str, str], secret: str) -> None:
    sts = credentials_helper.compose_string_to_sign("GET", dict(queries))
    expected = credentials_helper.sign_string(sts, secret + "&")
    assert pop_v1.string_to_sign("GET", list(queries.items()), variant="plus") == sts
    assert pop_v1.verify("GET", list(queries.items()), secret, expected) is None


# Tea writes query names into the canonical request unencoded; RPC names only ever use
# unreserved characters, for which Tessera's encoding of names is the identity.
plain_names = st.text(alphabet="ABCXYZabcxyz0189._-~", min_size=1, max_size=12)
header_names = st.from_regex(r"x-acs-[a-z0-9-]{1,12}", fullmatch=True)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@settings(max_examples=200)
@given(
    st.dictionaries(plain_names, text, max_size=8),
    st.dictionaries(header_names, header_values, max_size=6),
    methods,
    st.sampled_from(["/", "/path/x"]),
    st.binary(max_size=64),
    secrets,
)
def test_tea_v3_authorization(
    query: dict[str, str],
    extra_headers: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    secret: str,
) -> None:
    request: Any = darabonba_request.DaraRequest()
    request.method, request.pathname, request.query = method, path, dict(query)
    request.headers = {"host": "127.0.0.1:9800", **extra_headers}
    payload = hashlib.sha256(body).hexdigest()
    authorization = tea_utils.Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", payload, "AK", secret
    )
    parsed = acs3.parse_authorization(authorization)
    headers = acs3.collect_headers(request.headers.items())
    mismatch = acs3.verify(
        method=method,
        canonical_uri=path,
        query_pairs=list(query.items()),
        headers=headers,
        signed_headers=parsed.signed_headers,
        hashed_payload=acs3.hashed_payload(body),
        secret=secret,
        provided_signature=parsed.signature,
    )
    assert mismatch is None


def test_core_signature_helper_is_what_we_think() -> None:
    """Guard: the core signer is base64 HMAC-SHA1 with key secret + '&'."""
    from aliyunsdkcore.auth.algorithm import sha_hmac1  # type: ignore[import-untyped]

    expected = base64.b64encode(hmac.digest(b"k&", b"m", "sha1")).decode()
    assert sha_hmac1.get_sign_string("m", "k&") == expected == pop_v1.signature("k", "m")
