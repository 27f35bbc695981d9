"""App-user authentication: static API keys and OIDC/JWT bearer tokens.

Owns: turning what a request presents (``Authorization: Bearer …``, ``X-Api-Key``, and — only
when ``broker.query_api_key`` is on — ``?api_key=``) into an ``AppUser``, or refusing it with
``Unauthenticated`` / ``InvalidCredentials`` (401).
Must not: know about templates, STS or HTTP responses; log a key or a token.

API keys. The config holds only the SHA-256 of each key. Keys made by ``tessera broker
hash-key`` carry 256 random bits, so a fast hash is enough at rest (nobody can search a
2^256 space; a slow KDF would only slow every request). The presented key is hashed and
looked up by its digest; the stored digest is then compared with ``hmac.compare_digest``.
Lookup by digest leaks, at most, timing about the digest of the attacker's own guess, which
says nothing about any real key — and keeps the cost flat for thousands of app users.

JWT. Verified with PyJWT against a JWKS (file, or URL refreshed every
``jwks_cache_seconds``; an unknown ``kid`` refetches at most every
``jwks_min_refresh_seconds``). Rules: the header ``alg`` must be in the configured
allow-list, which may only hold asymmetric algorithms (``none`` and ``HS*`` are refused
when the config is read, and symmetric ``oct`` keys in a JWKS are ignored — a JWKS is public);
``kid`` is required and must name a key of the set; the key's own ``alg`` (if it names one)
must match; ``exp``, ``iss``, ``aud`` and the user claim are required; ``exp``, ``nbf`` and
``iat`` are checked here against the injected clock with ``leeway_seconds`` of clock skew
(PyJWT would read the wall clock itself).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
import jwt
from jwt import PyJWK, PyJWKClient

from tessera.broker.config import ApiKeyEntry, JwtSettings
from tessera.broker.errors import InvalidCredentials, JwksUnavailable, Unauthenticated
from tessera.clock import Clock

log = logging.getLogger("tessera.broker")

API_KEY_PREFIX = "tsk_"
MIN_API_KEY_LENGTH = 32
API_KEY = "api_key"
JWT = "jwt"


@dataclass(frozen=True, slots=True)
class AppUser:
    """An authenticated app user. ``templates``: the templates it may use (None: all).
    ``claims``: the JWT's top-level string claims (empty for API-key users)."""

    user_id: str
    method: str
    templates: frozenset[str] | None = None
    claims: Mapping[str, str] = field(default_factory=dict)

    def may_use(self, template: str) -> bool:
        return self.templates is None or template in self.templates


@dataclass(frozen=True, slots=True)
class Presented:
    """The credentials a request carries, as found in its headers and query."""

    authorization: str | None = None
    api_key_header: str | None = None
    api_key_query: str | None = None


# --------------------------------------------------------------------------- API keys


def generate_api_key() -> str:
    """A new API key: ``tsk_`` + 43 URL-safe characters (256 random bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The value to put in ``[[api_keys]] key_sha256``."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_api_key_strength(key: str) -> None:
    """Refuse a key too short to be safe under a plain SHA-256, or one that looks like a JWT."""
    if len(key) < MIN_API_KEY_LENGTH:
        raise ValueError(f"an API key needs at least {MIN_API_KEY_LENGTH} characters")
    if "." in key or any(ch.isspace() for ch in key):
        raise ValueError("an API key cannot contain '.' or white space")


class ApiKeys:
    def __init__(self, entries: tuple[ApiKeyEntry, ...]) -> None:
        self._by_digest = {bytes.fromhex(entry.key_sha256): entry for entry in entries}

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate(self, key: str) -> AppUser:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        entry = self._by_digest.get(digest)
        if entry is None or not hmac.compare_digest(bytes.fromhex(entry.key_sha256), digest):
            raise InvalidCredentials("the API key is not valid")
        return AppUser(entry.user_id, API_KEY, entry.templates)


# --------------------------------------------------------------------------- JWKS


class KeySet:
    """The usable keys of a JWKS document, by ``kid``; ``PyJWK`` objects built once."""

    def __init__(self, document: Any) -> None:
        raw = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw, list):
            raise ValueError("not a JWKS document (no 'keys' list)")
        self._jwks: dict[str, dict[str, Any]] = {}
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("kid"), str):
                continue
            if item.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # symmetric keys in a public document would let anyone sign
            if item.get("use", "sig") != "sig":
                continue
            self._jwks[item["kid"]] = item
        self._built: dict[tuple[str, str], PyJWK] = {}

    def __contains__(self, kid: str) -> bool:
        return kid in self._jwks

    def __len__(self) -> int:
        return len(self._jwks)

    def key(self, kid: str, alg: str) -> PyJWK:
        """The key for ``kid`` used with ``alg``; ``InvalidCredentials`` if that cannot be."""
        cached = self._built.get((kid, alg))
        if cached is not None:
            return cached
        jwk_data = self._jwks.get(kid)
        if jwk_data is None:
            raise InvalidCredentials("the token's kid names no key of the issuer")
        if "alg" in jwk_data and jwk_data["alg"] != alg:
            raise InvalidCredentials("the token's alg does not match its key")
        try:
            built = PyJWK(jwk_data, algorithm=alg)
        except jwt.PyJWTError:
            raise InvalidCredentials("the token's alg does not fit its key") from None
        self._built[(kid, alg)] = built
        return built


class JwkSource(Protocol):
    #: True when ``keys`` may block on the network (then it is called in a worker thread)
    blocking: bool

    def keys(self, kid: str) -> KeySet: ...


class StaticJwks:
    """A JWKS read once from a file."""

    blocking = False

    def __init__(self, document: Any) -> None:
        self._set = KeySet(document)
        if not len(self._set):
            raise ValueError("the JWKS has no usable signing key with a kid")

    def keys(self, kid: str) -> KeySet:
        return self._set


class RemoteJwks:
    """A JWKS fetched from a URL, kept ``cache_seconds``; an unknown ``kid`` triggers a refetch
    at most every ``min_refresh_seconds``. A failed fetch keeps the keys already known."""

    blocking = True

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        timeout: float = 5.0,
        fetch: Callable[[], Any] | None = None,
    ) -> None:
        self._url = url
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._fetch = fetch or PyJWKClient(url, cache_jwk_set=False, timeout=timeout).fetch_data
        self._lock = threading.Lock()
        self._set: KeySet | None = None
        self._fetched_at: float | None = None
        self.fetches = 0

    def keys(self, kid: str) -> KeySet:
        with self._lock:
            now = self._clock.now()
            age = None if self._fetched_at is None else now - self._fetched_at
            stale = age is None or age >= self._cache_seconds
            unknown = self._set is None or kid not in self._set
            if stale or (unknown and (age is None or age >= self._min_refresh)):
                self._refresh(now)
            if self._set is None:
                raise JwksUnavailable("the identity provider's JWKS could not be fetched")
            return self._set

    def _refresh(self, now: float) -> None:
        self._fetched_at = now
        self.fetches += 1
        try:
            self._set = KeySet(self._fetch())
        except Exception as exc:  # network, JSON, shape: keep the keys we had
            log.warning("JWKS fetch from %s failed: %s", self._url, type(exc).__name__)


# --------------------------------------------------------------------------- JWT


def _number(payload: Mapping[str, Any], claim: str) -> float | None:
    value = payload.get(claim)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidCredentials(f"the token's {claim} claim is not a number")
    return float(value)


_JWT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.InvalidSignatureError, "the token's signature is not valid"),
    (jwt.InvalidAudienceError, "the token is not meant for this broker (aud)"),
    (jwt.InvalidIssuerError, "the token comes from another issuer (iss)"),
    (jwt.exceptions.InvalidSubjectError, "the token's sub is not a string"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not allowed"),
    (jwt.DecodeError, "the token is malformed"),
)


class JwtVerifier:
    def __init__(self, settings: JwtSettings, clock: Clock, source: JwkSource) -> None:
        self.settings = settings
        self.clock = clock
        self.source = source
        self._require = sorted({"exp", "iss", "aud", settings.user_claim})

    def verify(self, token: str) -> AppUser:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidCredentials("the token is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise InvalidCredentials("the token's algorithm is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidCredentials("the token has no kid")
        key = self.source.keys(kid).key(kid, alg)
        try:
            payload = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(self.settings.audience),
                issuer=self.settings.issuer,
                options={
                    "require": self._require,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidCredentials(f"the token has no {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            for kind, message in _JWT_ERRORS:
                if isinstance(exc, kind):
                    raise InvalidCredentials(message) from None
            raise InvalidCredentials("the token is not valid") from None
        self._check_times(payload)
        user_id = payload.get(self.settings.user_claim)
        if not isinstance(user_id, str) or not user_id:
            raise InvalidCredentials(f"the token's {self.settings.user_claim} is not a string")
        claims = {name: value for name, value in payload.items() if isinstance(value, str)}
        return AppUser(user_id, JWT, self.settings.templates, claims)

    def _check_times(self, payload: Mapping[str, Any]) -> None:
        now = self.clock.now()
        leeway = self.settings.leeway_seconds
        exp = _number(payload, "exp")
        nbf = _number(payload, "nbf")
        iat = _number(payload, "iat")
        if exp is not None and now > exp + leeway:
            raise InvalidCredentials("the token has expired")
        if nbf is not None and now + leeway < nbf:
            raise InvalidCredentials("the token is not valid yet (nbf)")
        if iat is not None and now + leeway < iat:
            raise InvalidCredentials("the token was issued in the future (iat)")


# --------------------------------------------------------------------------- dispatch


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class Authenticator:
    """Chooses the method from what the request presents; API keys never contain '.', JWTs
    always have two, so one ``Authorization: Bearer`` header serves both."""

    def __init__(
        self, api_keys: ApiKeys, jwt_verifier: JwtVerifier | None, query_api_key: bool
    ) -> None:
        self.api_keys = api_keys
        self.jwt = jwt_verifier
        self.query_api_key = query_api_key

    async def authenticate(self, presented: Presented) -> AppUser:
        if presented.authorization is not None:
            scheme, _, token = presented.authorization.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise InvalidCredentials("use Authorization: Bearer <API key or JWT>")
            if _looks_like_jwt(token):
                return await self._verify_jwt(token)
            return self._api_key(token)
        if presented.api_key_header is not None:
            return self._api_key(presented.api_key_header.strip())
        if presented.api_key_query is not None:
            if not self.query_api_key:
                raise InvalidCredentials(
                    "API keys in the URL are turned off (broker.query_api_key)"
                )
            return self._api_key(presented.api_key_query)
        raise Unauthenticated("no credentials: send Authorization: Bearer <API key or JWT>")

    def _api_key(self, key: str) -> AppUser:
        if not len(self.api_keys):
            raise InvalidCredentials("this broker accepts no API keys")
        return self.api_keys.authenticate(key)

    async def _verify_jwt(self, token: str) -> AppUser:
        verifier = self.jwt
        if verifier is None:
            raise InvalidCredentials("this broker accepts no JWTs")
        if verifier.source.blocking:
            return await anyio.to_thread.run_sync(verifier.verify, token)
        return verifier.verify(token)
