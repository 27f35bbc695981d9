from __future__ import annotations

import base64
import dataclasses
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.crypto import Keyring
from tessera.errors import (
    SecurityTokenExpired,
    SecurityTokenInvalid,
    SecurityTokenMalformed,
    SecurityTokenMismatch,
)
from tessera.ids import SecureIds, sts_access_key_id
from tessera.sts.tokens import TOKEN_PREFIX, IssuedCredentials, SessionClaims, TokenService

T0 = 1_700_000_000
POLICY = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["oss:GetObject"],
                "Resource": [
                    f"acs:oss:*:*:bucket-{i * 7919 % 997}/u{i * 104729 % 99991}/*.jpg"
                    for i in range(60)
                ],
            }
        ],
    }
)[:2048]


def claims(**overrides: object) -> SessionClaims:
    values: dict[str, object] = {
        "account_id": "1234567890123456",
        "role_id": "300000000000000001",
        "role_name": "oss-objectmanager",
        "session_name": "alice@example.com",
        "caller_arn": "acs:ram::1234567890123456:user/appserver",
        "caller_principal_id": "200000000000000001",
        "access_key_id": "STS.NUgYrLnoC37mZZCNnAbez2abc",
        "issued_at": T0,
        "expires_at": T0 + 3600,
        "session_policy": POLICY,
        "source_identity": None,
    }
    values.update(overrides)
    return SessionClaims(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def service(keyring: Keyring) -> TokenService:
    return TokenService(keyring)


@pytest.fixture
def issued(service: TokenService) -> IssuedCredentials:
    return service.mint(claims())


# ------------------------------------------------------------------------------------ round trip


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"session_policy": None},
        {"session_policy": ""},
        {"session_policy": '{"Version":"1"}'},
        {"session_policy": "策略 " * 300},
        {"source_identity": "alice"},
        {"source_identity": "", "session_policy": None},
        {"role_name": "角色", "session_name": "s" * 64, "caller_arn": ""},
        {"issued_at": 0, "expires_at": 1},
        {"issued_at": -(2**40), "expires_at": 2**62},
    ],
)
def test_round_trip(service: TokenService, overrides: dict[str, object]) -> None:
    original = claims(**overrides)
    issued = service.mint(original)
    opened = service.open(issued.security_token, now=original.issued_at)
    assert opened == original
    assert opened.key_id == service.keyring.current.kid
    assert issued.access_key_id == original.access_key_id
    assert issued.expires_at == original.expires_at


def test_token_text_is_url_and_header_safe(issued: IssuedCredentials) -> None:
    token = issued.security_token
    assert token.startswith(TOKEN_PREFIX)
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


def test_tokens_are_compact(service: TokenService) -> None:
    assert len(POLICY) > 1900
    assert len(service.mint(claims()).security_token) < 1500
    assert len(service.mint(claims(session_policy=None)).security_token) < 400


def test_minting_twice_gives_different_tokens(service: TokenService) -> None:
    first, second = service.mint(claims()), service.mint(claims())
    assert first.security_token != second.security_token


def test_issued_credentials_repr_hides_the_secret(issued: IssuedCredentials) -> None:
    assert issued.access_key_secret not in repr(issued)


# ------------------------------------------------------------------------------------- secrets


def test_secret_is_deterministic_and_matches_mint(
    service: TokenService, issued: IssuedCredentials
) -> None:
    token = issued.security_token
    opened = service.open(token, now=T0)
    assert service.secret_for(token) == issued.access_key_secret
    assert service.secret_for(opened) == issued.access_key_secret
    fresh = TokenService(service.keyring)
    assert fresh.secret_for(token) == issued.access_key_secret


def test_secret_shape(issued: IssuedCredentials) -> None:
    secret = issued.access_key_secret
    assert len(secret) == 40 and secret.isalnum() and secret.isascii()


def test_secrets_differ_across_tokens(service: TokenService) -> None:
    ids = SecureIds()
    secrets = {
        service.mint(claims(access_key_id=sts_access_key_id(ids))).access_key_secret
        for _ in range(50)
    }
    assert len(secrets) == 50


def test_secrets_differ_across_keys(keyring: Keyring) -> None:
    other = TokenService(Keyring.generate())
    assert TokenService(keyring).mint(claims()).access_key_secret != (
        other.mint(claims()).access_key_secret
    )


def test_secret_for_claims_not_from_open_is_refused(service: TokenService) -> None:
    with pytest.raises(SecurityTokenMalformed):
        service.secret_for(claims())
    with pytest.raises(SecurityTokenMalformed):
        service.secret_for(claims(key_id="00000000"))


def test_secret_is_not_derived_from_the_encryption_subkey(keyring: Keyring) -> None:
    # Different purposes give different subkeys: the secret reveals nothing usable to decrypt.
    from tessera.crypto import derive_key

    material = keyring.current.material
    assert derive_key(material, "sts-token/v1/encrypt") != derive_key(
        material, "sts-token/v1/secret"
    )


# ------------------------------------------------------------------------- expiry and mismatch


@pytest.mark.parametrize(
    ("now", "outcome"),
    [
        (T0 - 10, None),
        (T0, None),
        (T0 + 3599, None),
        (T0 + 3599.999, None),
        (T0 + 3600, SecurityTokenExpired),
        (T0 + 3600.001, SecurityTokenExpired),
        (T0 + 10**9, SecurityTokenExpired),
    ],
)
def test_expiry_boundary(
    service: TokenService, issued: IssuedCredentials, now: float, outcome: type[Exception] | None
) -> None:
    if outcome is None:
        service.open(issued.security_token, now=now)
    else:
        with pytest.raises(outcome):
            service.open(issued.security_token, now=now)


def test_expiry_is_checked_on_cached_tokens_too(
    service: TokenService, issued: IssuedCredentials
) -> None:
    service.open(issued.security_token, now=T0)
    with pytest.raises(SecurityTokenExpired):
        service.open(issued.security_token, now=T0 + 3600)


@pytest.mark.parametrize(
    ("access_key_id", "outcome"),
    [
        (None, None),
        ("STS.NUgYrLnoC37mZZCNnAbez2abc", None),
        ("STS.NUgYrLnoC37mZZCNnAbez2abd", SecurityTokenMismatch),
        ("LTAI5tTestAccessKeyId", SecurityTokenMismatch),
        ("", SecurityTokenMismatch),
        ("sts.nugyrlnoc37mzzcnnabez2abc", SecurityTokenMismatch),
    ],
)
def test_access_key_mismatch(
    service: TokenService,
    issued: IssuedCredentials,
    access_key_id: str | None,
    outcome: type[Exception] | None,
) -> None:
    for _ in range(2):  # uncached, then cached
        if outcome is None:
            service.open(issued.security_token, now=T0, access_key_id=access_key_id)
        else:
            with pytest.raises(outcome):
                service.open(issued.security_token, now=T0, access_key_id=access_key_id)


def test_mismatch_is_reported_before_expiry(
    service: TokenService, issued: IssuedCredentials
) -> None:
    with pytest.raises(SecurityTokenMismatch):
        service.open(issued.security_token, now=T0 + 10**6, access_key_id="STS.other")


# ------------------------------------------------------------------------------------- rotation


def test_rotation_and_retirement() -> None:
    keyring = Keyring.generate()
    service = TokenService(keyring)
    old = service.mint(claims())
    rotated = keyring.rotate(now=T0)
    service.update_keyring(rotated)
    new = service.mint(claims())
    assert service.open(new.security_token, now=T0).key_id == rotated.current.kid
    assert service.open(old.security_token, now=T0).key_id == keyring.current.kid
    assert service.secret_for(old.security_token) == old.access_key_secret
    service.update_keyring(rotated.retire(keyring.current.kid))
    with pytest.raises(SecurityTokenMalformed):
        service.open(old.security_token, now=T0)
    with pytest.raises(SecurityTokenMalformed):
        service.secret_for(old.security_token)
    assert service.open(new.security_token, now=T0).key_id == rotated.current.kid


def test_retired_key_also_invalidates_cached_claims() -> None:
    keyring = Keyring.generate()
    service = TokenService(keyring)
    old = service.mint(claims())
    opened = service.open(old.security_token, now=T0)
    service.update_keyring(keyring.rotate(now=T0).retire(keyring.current.kid))
    with pytest.raises(SecurityTokenMalformed):
        service.secret_for(opened)


def test_another_keyring_cannot_open(issued: IssuedCredentials) -> None:
    with pytest.raises(SecurityTokenMalformed):
        TokenService(Keyring.generate()).open(issued.security_token, now=T0)


def test_swapped_key_material_under_the_same_kid(
    keyring: Keyring, issued: IssuedCredentials
) -> None:
    impostor = Keyring.from_dict(
        {
            "format": 1,
            "current": keyring.current.kid,
            "keys": [{"kid": keyring.current.kid, "key": base64.b64encode(b"\x01" * 32).decode()}],
        }
    )
    with pytest.raises(SecurityTokenMalformed):
        TokenService(impostor).open(issued.security_token, now=T0)


# ------------------------------------------------------------------------------------ tampering


def _blob(token: str) -> bytearray:
    body = token[len(TOKEN_PREFIX) :]
    return bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _text(blob: bytes | bytearray) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(bytes(blob)).rstrip(b"=").decode()


def assert_malformed(service: TokenService, token: str) -> None:
    with pytest.raises(SecurityTokenMalformed):
        service.open(token, now=T0)
    with pytest.raises(SecurityTokenMalformed):
        service.secret_for(token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "CAIS",
        "CAIS=",
        "CAIS====",
        "CAISA",
        "CAISAAAA",
        "not a token",
        "CAIS" + "A" * 200,
        "CAIS" + "!" * 100,
        "CAIS" + "é" * 100,
        "CAIS" + "A" * 20000,
        "caisQUJD",
        "\x00",
        "\ud800",
    ],
)
def test_garbage_is_malformed(service: TokenService, token: str) -> None:
    assert_malformed(service, token)


def test_every_truncation_is_malformed(service: TokenService, issued: IssuedCredentials) -> None:
    token = issued.security_token
    for length in range(len(token)):
        assert_malformed(service, token[:length])


def test_every_byte_flip_of_the_blob_is_malformed(
    service: TokenService, issued: IssuedCredentials
) -> None:
    blob = _blob(issued.security_token)
    for index in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[index] ^= bit
            assert_malformed(service, _text(tampered))


def test_every_character_change_of_the_text_is_malformed(
    service: TokenService, issued: IssuedCredentials
) -> None:
    token = issued.security_token
    for index, char in enumerate(token):
        replacement = "B" if char != "B" else "C"
        assert_malformed(service, token[:index] + replacement + token[index + 1 :])


def test_non_canonical_base64_is_malformed(
    service: TokenService, issued: IssuedCredentials
) -> None:
    blob = _blob(issued.security_token)
    text = _text(blob)
    if len(blob) % 3 == 0:  # no spare bits to play with: add a byte so that there are
        blob = blob[:-1]
        text = _text(blob)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(text[-1])
    twin = text[:-1] + alphabet[last + 1]  # same bytes decoded, different text
    assert _blob(twin) == blob
    assert_malformed(service, twin)
    assert_malformed(service, text + "=")
    assert_malformed(
        service,
        text.replace("-", "+").replace("_", "/") if "-" in text or "_" in text else text + "\n",
    )


def test_wrong_version_and_unknown_kid_are_malformed(
    service: TokenService, issued: IssuedCredentials
) -> None:
    blob = _blob(issued.security_token)
    for version in (0, 2, 255):
        assert_malformed(service, _text(bytes([version]) + blob[1:]))
    assert_malformed(service, _text(blob[:1] + b"\xde\xad\xbe\xef" + blob[5:]))


def test_appended_bytes_are_malformed(service: TokenService, issued: IssuedCredentials) -> None:
    blob = _blob(issued.security_token)
    assert_malformed(service, _text(blob + b"\x00"))
    assert_malformed(service, _text(blob + blob))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_fuzz_text_only_ever_raises_malformed(service: TokenService, text: str) -> None:
    for candidate in (text, TOKEN_PREFIX + text):
        try:
            service.open(candidate, now=T0)
        except SecurityTokenInvalid as exc:
            assert type(exc) is SecurityTokenMalformed
        else:
            pytest.fail(f"opened {candidate!r}")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_mutated_tokens_only_ever_raise_malformed(
    service: TokenService, issued: IssuedCredentials, data: st.DataObject
) -> None:
    blob = _blob(issued.security_token)
    start = data.draw(st.integers(0, len(blob)))
    end = data.draw(st.integers(start, len(blob)))
    insert = data.draw(st.binary(max_size=8))
    mutated = bytes(blob[:start]) + insert + bytes(blob[end:])
    if mutated == bytes(blob):
        return
    try:
        service.open(_text(mutated), now=T0)
    except SecurityTokenInvalid as exc:
        assert type(exc) is SecurityTokenMalformed
    else:
        pytest.fail("a mutated token opened")


# ---------------------------------------------------------------------------------- claim rules


@pytest.mark.parametrize(
    "overrides",
    [
        {"access_key_id": "LTAI5tTestAccessKeyId"},
        {"issued_at": T0, "expires_at": T0},
        {"issued_at": T0 + 1, "expires_at": T0},
        {"issued_at": float(T0)},
        {"expires_at": True},
    ],
)
def test_claims_reject_impossible_values(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        claims(**overrides)


def test_oversized_fields_are_refused_at_mint(service: TokenService) -> None:
    with pytest.raises(ValueError):
        service.mint(claims(role_name="r" * 70000))


def test_key_id_does_not_affect_equality_or_minting(service: TokenService) -> None:
    original = claims()
    assert dataclasses.replace(original, key_id="ffffffff") == original
    issued = service.mint(dataclasses.replace(original, key_id="ffffffff"))
    assert service.open(issued.security_token, now=T0).key_id == service.keyring.current.kid
