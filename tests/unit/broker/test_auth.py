"""App-user authentication: API keys, and JWTs with every edge case that must fail."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from tests.unit.broker.support import (
    ALICE_KEY,
    AUDIENCE,
    BOB_KEY,
    ISSUER,
    START,
    SigningKey,
    b64,
    claims,
    ec_key,
    jwks,
    rsa_key,
    settings_from,
    unsigned_token,
)

from tessera.broker.auth import (
    API_KEY,
    JWT,
    ApiKeys,
    Authenticator,
    JwtVerifier,
    KeySet,
    Presented,
    RemoteJwks,
    StaticJwks,
    check_api_key_strength,
    generate_api_key,
    hash_api_key,
)
from tessera.broker.config import JwtSettings
from tessera.broker.errors import InvalidCredentials, JwksUnavailable, Unauthenticated
from tessera.clock import FixedClock

RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")
OTHER = rsa_key("rsa-1")  # same kid, different key: a forger's


def jwt_settings(**overrides: Any) -> JwtSettings:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": (AUDIENCE,),
        "jwks_url": "https://login.example.com/jwks",
        "leeway_seconds": 60.0,
    }
    values.update(overrides)
    return JwtSettings(**values)


def verifier(clock: FixedClock | None = None, **overrides: Any) -> JwtVerifier:
    return JwtVerifier(
        jwt_settings(**overrides), clock or FixedClock(START), StaticJwks(jwks(RSA, EC))
    )


def refused(token: str, v: JwtVerifier | None = None) -> str:
    with pytest.raises(InvalidCredentials) as caught:
        (v or verifier()).verify(token)
    assert caught.value.code == "InvalidCredentials"
    return caught.value.message


# ---- API keys ---------------------------------------------------------------------------------


def test_generated_keys_are_long_random_and_hash_as_configured() -> None:
    key = generate_api_key()
    assert key.startswith("tsk_") and len(key) >= 43 and "." not in key
    assert key != generate_api_key()
    check_api_key_strength(key)
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()


@pytest.mark.parametrize("key", ["short", "a" * 31, "tsk_" + "a" * 30 + ".b", "tsk_ " + "a" * 40])
def test_weak_or_ambiguous_keys_are_refused_by_hash_key(key: str) -> None:
    with pytest.raises(ValueError, match="API key"):
        check_api_key_strength(key)


def test_api_keys_authenticate_by_hash() -> None:
    keys = ApiKeys(settings_from().api_keys)
    alice = keys.authenticate(ALICE_KEY)
    assert (alice.user_id, alice.method, alice.templates) == ("alice", API_KEY, None)
    bob = keys.authenticate(BOB_KEY)
    assert bob.templates == frozenset({"download"}) and not bob.may_use("user-prefix")
    for wrong in ["", ALICE_KEY[:-1], ALICE_KEY + "x", hash_api_key(ALICE_KEY), ALICE_KEY.upper()]:
        with pytest.raises(InvalidCredentials):
            keys.authenticate(wrong)


def test_the_config_holds_no_key_only_its_hash() -> None:
    settings = settings_from()
    assert ALICE_KEY not in repr(settings)
    digest = hashlib.sha256(ALICE_KEY.encode()).hexdigest()
    assert hmac.compare_digest(settings.api_keys[0].key_sha256, digest)


def authenticator(query_api_key: bool = True, with_jwt: bool = True) -> Authenticator:
    return Authenticator(
        ApiKeys(settings_from().api_keys), verifier() if with_jwt else None, query_api_key
    )


def run(presented: Presented, auth: Authenticator | None = None) -> Any:
    return asyncio.run((auth or authenticator()).authenticate(presented))


def test_where_credentials_may_be_presented() -> None:
    assert run(Presented(authorization=f"Bearer {ALICE_KEY}")).user_id == "alice"
    assert run(Presented(authorization=f"bearer   {ALICE_KEY} ")).user_id == "alice"
    assert run(Presented(api_key_header=ALICE_KEY)).user_id == "alice"
    assert run(Presented(api_key_query=ALICE_KEY)).user_id == "alice"
    token = RSA.sign(claims())
    user = run(Presented(authorization=f"Bearer {token}"))
    assert (user.user_id, user.method) == ("user-42", JWT)


@pytest.mark.parametrize(
    ("presented", "error", "message"),
    [
        (Presented(), Unauthenticated, "no credentials"),
        (Presented(authorization="Basic YWxpY2U6cHc="), InvalidCredentials, "Bearer"),
        (Presented(authorization="Bearer"), InvalidCredentials, "Bearer"),
        (Presented(authorization="Bearer "), InvalidCredentials, "Bearer"),
        (Presented(authorization=f"Token {ALICE_KEY}"), InvalidCredentials, "Bearer"),
        (Presented(authorization="Bearer not-a-key"), InvalidCredentials, "not valid"),
        (Presented(api_key_header="nope"), InvalidCredentials, "not valid"),
        (Presented(authorization="Bearer a.b.c"), InvalidCredentials, "malformed"),
    ],
)
def test_authentication_failures(
    presented: Presented, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        run(presented)
    assert type(caught.value) is error


def test_query_keys_only_when_turned_on() -> None:
    with pytest.raises(InvalidCredentials, match="turned off"):
        run(Presented(api_key_query=ALICE_KEY), authenticator(query_api_key=False))


def test_a_jwt_to_a_broker_without_jwt_is_refused() -> None:
    with pytest.raises(InvalidCredentials, match="no JWTs"):
        run(Presented(authorization=f"Bearer {RSA.sign(claims())}"), authenticator(with_jwt=False))


# ---- JWT ----------------------------------------------------------------------------------------


def test_a_valid_token_gives_the_user_and_string_claims() -> None:
    user = verifier().verify(RSA.sign(claims(groups=["a"], n=3)))
    assert user.user_id == "user-42"
    assert (
        user.claims["tenant"] == "acme" and "groups" not in user.claims and "n" not in user.claims
    )
    assert verifier().verify(EC.sign(claims())).user_id == "user-42"


def test_user_claim_and_audience_list_are_configurable() -> None:
    v = verifier(user_claim="email", audience=("other", AUDIENCE))
    assert v.verify(RSA.sign(claims(email="a@example.com"))).user_id == "a@example.com"
    assert "email" in refused(RSA.sign(claims()), v)


def test_expiry_with_clock_skew() -> None:
    clock = FixedClock(START)
    v = verifier(clock)
    token = RSA.sign(claims(exp=int(START) + 10))
    clock.advance(10 + 60)  # exactly at exp + leeway: still accepted
    assert v.verify(token).user_id == "user-42"
    clock.advance(1)
    assert refused(token, v) == "the token has expired"


def test_not_before_and_issued_at_in_the_future() -> None:
    assert "nbf" in refused(RSA.sign(claims(nbf=int(START) + 61)))
    assert verifier().verify(RSA.sign(claims(nbf=int(START) + 60))).user_id
    assert "future" in refused(RSA.sign(claims(iat=int(START) + 61)))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (claims(aud="someone-else"), "not meant for this broker"),
        (claims(aud=["x", "y"]), "not meant for this broker"),
        (claims(iss="https://evil.example.com/"), "another issuer"),
        (claims(exp=None), "no exp claim"),
        (claims(aud=None), "no aud claim"),
        (claims(iss=None), "no iss claim"),
        (claims(sub=None), "no sub claim"),
        (claims(sub=42), "not a string"),
        (claims(sub=""), "not a string"),
        (claims(exp="tomorrow"), "not a number"),
        (claims(exp=True), "not a number"),
    ],
)
def test_claims_that_must_fail(payload: dict[str, Any], message: str) -> None:
    assert message in refused(RSA.sign(payload))


def test_bad_signature() -> None:
    forged = OTHER.sign(claims())  # same kid, another private key
    assert refused(forged) == "the token's signature is not valid"
    header, _payload, signature = RSA.sign(claims()).split(".")
    tampered = b64(json.dumps(claims(sub="admin")).encode())
    assert refused(f"{header}.{tampered}.{signature}") == "the token's signature is not valid"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_is_refused(alg: str) -> None:
    token = unsigned_token(claims(), {"alg": alg, "typ": "JWT", "kid": RSA.kid})
    assert "algorithm is not allowed" in refused(token)


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """Key confusion: the attacker signs HS256 using the (public) RSA key as the HMAC secret."""
    secret = RSA.public_pem()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": RSA.kid}).encode())
    body = b64(json.dumps(claims()).encode())
    signature = b64(hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest())
    token = f"{header}.{body}.{signature}"
    assert "algorithm is not allowed" in refused(token)
    # even a broker that (wrongly) listed HS256 could not be fooled: the key is RS256's
    v = JwtVerifier(
        jwt_settings(algorithms=("RS256", "HS256")),
        FixedClock(START),
        StaticJwks(jwks(RSA)),
    )
    assert "not match its key" in refused(token, v)


def test_an_algorithm_other_than_the_keys_is_refused() -> None:
    # a PS256 token for the RS256-bound key: allowed algorithm, wrong for this key
    token = jwt.encode(claims(), RSA.private, algorithm="PS256", headers={"kid": RSA.kid})
    v = verifier(algorithms=("RS256", "PS256"))
    assert "not match its key" in refused(token, v)


def test_missing_or_unknown_kid() -> None:
    no_kid = jwt.encode(claims(), RSA.private, algorithm="RS256")
    assert refused(no_kid) == "the token has no kid"
    unknown = SigningKey("rsa-9", RSA.private, "RS256").sign(claims())
    assert "kid names no key" in refused(unknown)


@pytest.mark.parametrize("token", ["x", "a.b.c", "....", "eyJ.eyJ.sig", b64(b"{}") + ".x.y"])
def test_garbage_tokens(token: str) -> None:
    assert "malformed" in refused(token) or "not allowed" in refused(token)


def test_symmetric_and_kidless_keys_in_a_jwks_are_ignored() -> None:
    document = jwks(RSA)
    document["keys"].append({"kty": "oct", "kid": "hmac", "k": b64(b"secret"), "alg": "HS256"})
    document["keys"].append({key: value for key, value in EC.public_jwk().items() if key != "kid"})
    keys = KeySet(document)
    assert "hmac" not in keys and len(keys) == 1
    with pytest.raises(ValueError, match="no usable"):
        StaticJwks({"keys": [{"kty": "oct", "kid": "hmac", "k": b64(b"secret")}]})


# ---- JWKS from a URL ----------------------------------------------------------------------------


class Fetcher:
    def __init__(self, *documents: Any) -> None:
        self.documents = list(documents)
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        document = self.documents[min(self.calls, len(self.documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return document


def test_remote_jwks_is_cached_and_refreshed_for_a_new_kid_at_most_every_so_often() -> None:
    clock = FixedClock(START)
    rotated = rsa_key("rsa-2")
    fetch = Fetcher(jwks(RSA), jwks(RSA, rotated))
    source = RemoteJwks(
        "https://x/jwks", clock, cache_seconds=300, min_refresh_seconds=30, fetch=fetch
    )
    v = JwtVerifier(jwt_settings(), clock, source)
    assert v.verify(RSA.sign(claims())).user_id == "user-42"
    assert v.verify(RSA.sign(claims())).user_id == "user-42"
    assert fetch.calls == 1
    # a new kid right away: no refetch yet (a flood of made-up kids costs the IdP nothing)
    new_token = rotated.sign(claims())
    refused(new_token, v)
    assert fetch.calls == 1
    clock.advance(30)
    assert v.verify(new_token).user_id == "user-42"
    assert fetch.calls == 2
    for _ in range(5):
        refused(SigningKey("made-up", RSA.private, "RS256").sign(claims(iat=int(clock.now()))), v)
    assert fetch.calls == 2


def test_remote_jwks_keeps_old_keys_when_a_refresh_fails_and_fails_cleanly_without_any() -> None:
    clock = FixedClock(START)
    fetch = Fetcher(jwks(RSA), OSError("down"))
    source = RemoteJwks("https://x/jwks", clock, cache_seconds=60, fetch=fetch)
    v = JwtVerifier(jwt_settings(), clock, source)
    v.verify(RSA.sign(claims()))
    clock.advance(61)
    assert v.verify(RSA.sign(claims(iat=int(clock.now()), exp=int(clock.now()) + 60))).user_id
    assert fetch.calls == 2
    never = RemoteJwks("https://x/jwks", clock, fetch=Fetcher(OSError("down")))
    with pytest.raises(JwksUnavailable):
        JwtVerifier(jwt_settings(), clock, never).verify(RSA.sign(claims()))


def test_a_remote_source_is_verified_off_the_event_loop() -> None:
    clock = FixedClock(START)
    source = RemoteJwks("https://x/jwks", clock, fetch=Fetcher(jwks(RSA)))
    auth = Authenticator(ApiKeys(()), JwtVerifier(jwt_settings(), clock, source), False)
    user = run(Presented(authorization=f"Bearer {RSA.sign(claims())}"), auth)
    assert user.user_id == "user-42"
