"""STS SecurityTokens: self-contained, versioned, authenticated-encrypted session claims.

Owns: the token format, minting, opening (with expiry and AccessKeyId checks) and the derivation
of the temporary AccessKeySecret (DESIGN.md, "Temporary credentials: stateless by design").
Must not: read a clock (``now`` is passed in), touch the store, or cache anything but opened
tokens in memory.

Format (version 1)::

    token = "CAIS" + base64url_nopad(blob)
    blob  = version (1 byte) || kid (4 bytes) || nonce (12) || AES-256-GCM(payload) || tag (16)
    aad   = "CAIS" || version || kid

``payload`` is ``>qqB`` (issued_at, expires_at, flags) followed by length-prefixed (``>H``)
UTF-8 fields: account_id, role_id, role_name, session_name, caller_arn, caller_principal_id,
access_key_id, [source_identity], [session_policy; raw-deflated when that is shorter].

Keys come from a ``tessera.crypto.Keyring``: each key's material yields two subkeys, one that
encrypts tokens and one that derives secrets. The AccessKeySecret is 40 alphanumerics taken from
HMAC-SHA512(secret subkey of the token's key, AccessKeyId): never stored, the same for the same
token, different for every token. The caller generates the ``STS.`` AccessKeyId
(``tessera.ids.sts_access_key_id``: random, so unique per token) and puts it in the claims; the
token is bound to it, and ``open`` fills in ``SessionClaims.key_id`` so that ``secret_for`` also
works from opened claims.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import string
import struct
import zlib
from dataclasses import dataclass, field

from tessera.crypto import NONCE_BYTES, TAG_BYTES, Aead, Keyring, derive_key
from tessera.errors import SecurityTokenExpired, SecurityTokenMalformed, SecurityTokenMismatch

__all__ = [
    "TOKEN_FORMAT",
    "TOKEN_PREFIX",
    "IssuedCredentials",
    "SessionClaims",
    "TokenService",
]

TOKEN_PREFIX = "CAIS"  # noqa: S105 - a format marker, not a password
TOKEN_FORMAT = 1
MAX_TOKEN_CHARS = 16384
SECRET_LENGTH = 40

_PREFIX_BYTES = TOKEN_PREFIX.encode("ascii")
_HEADER_BYTES = 5  # version + kid
_HEAD = struct.Struct(">qqB")
_LEN = struct.Struct(">H")
_HAS_SOURCE, _HAS_POLICY, _DEFLATED = 1, 2, 4
_KNOWN_FLAGS = _HAS_SOURCE | _HAS_POLICY | _DEFLATED
_MAX_FIELD = 0xFFFF
_SECRET_ALPHABET = (string.ascii_letters + string.digits).encode("ascii")
_SECRET_TABLE = bytes(_SECRET_ALPHABET[i % len(_SECRET_ALPHABET)] for i in range(256))
_SECRET_INFO = b"tessera:sts-secret/v1\x00"


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a SecurityToken says. Times are whole epoch seconds (UTC)."""

    account_id: str
    role_id: str
    role_name: str
    session_name: str
    caller_arn: str  # ARN of the identity that called AssumeRole
    caller_principal_id: str
    access_key_id: str  # the "STS." id this token belongs to
    issued_at: int
    expires_at: int
    session_policy: str | None = None  # the raw JSON text as sent
    source_identity: str | None = None
    key_id: str | None = field(default=None, compare=False)  # set by open(); ignored by mint()

    def __post_init__(self) -> None:
        if not self.access_key_id.startswith("STS."):
            raise ValueError("a temporary AccessKeyId starts with 'STS.'")
        if type(self.issued_at) is not int or type(self.expires_at) is not int:
            raise ValueError("issued_at and expires_at are int epoch seconds")
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """What AssumeRole returns. The secret is left out of ``repr``."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class _Opened:
    claims: SessionClaims
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class _TokenKey:
    aead: Aead
    secret_key: bytes = field(repr=False)


def _token_keys(keyring: Keyring) -> dict[str, _TokenKey]:
    return {
        entry.kid: _TokenKey(
            Aead(derive_key(entry.material, "sts-token/v1/encrypt")),
            derive_key(entry.material, "sts-token/v1/secret"),
        )
        for entry in keyring
    }


# ------------------------------------------------------------------------------- payload codec


def _field(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if len(raw) > _MAX_FIELD:
        raise ValueError(f"a token field is at most {_MAX_FIELD} bytes")
    return _LEN.pack(len(raw)) + raw


def _policy_bytes(policy: str) -> tuple[bytes, int]:
    raw = policy.encode("utf-8")
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = packer.compress(raw) + packer.flush()
    return (deflated, _DEFLATED) if len(deflated) < len(raw) else (raw, 0)


def _pack(claims: SessionClaims) -> bytes:
    flags, tail = 0, []
    if claims.source_identity is not None:
        flags |= _HAS_SOURCE
        tail.append(_field(claims.source_identity))
    if claims.session_policy is not None:
        policy, deflated = _policy_bytes(claims.session_policy)
        flags |= _HAS_POLICY | deflated
        tail.append(_field(policy))
    fixed = (
        claims.account_id,
        claims.role_id,
        claims.role_name,
        claims.session_name,
        claims.caller_arn,
        claims.caller_principal_id,
        claims.access_key_id,
    )
    head = _HEAD.pack(claims.issued_at, claims.expires_at, flags)
    return head + b"".join(_field(v) for v in fixed) + b"".join(tail)


def _read_fields(payload: bytes, offset: int, count: int) -> list[bytes]:
    fields = []
    for _ in range(count):
        (length,) = _LEN.unpack_from(payload, offset)
        offset += _LEN.size
        if offset + length > len(payload):
            raise ValueError("field runs past the payload")
        fields.append(payload[offset : offset + length])
        offset += length
    if offset != len(payload):
        raise ValueError("trailing bytes in the payload")
    return fields


def _inflate(data: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15)
    raw = unpacker.decompress(data, _MAX_FIELD + 1)
    if not unpacker.eof or unpacker.unconsumed_tail or len(raw) > _MAX_FIELD:
        raise ValueError("bad deflated policy")
    return raw


def _unpack(payload: bytes, key_id: str) -> SessionClaims:
    issued_at, expires_at, flags = _HEAD.unpack_from(payload, 0)
    if flags & ~_KNOWN_FLAGS or (flags & _DEFLATED and not flags & _HAS_POLICY):
        raise ValueError("unknown flags")
    optional = bool(flags & _HAS_SOURCE) + bool(flags & _HAS_POLICY)
    raw = _read_fields(payload, _HEAD.size, 7 + optional)
    if flags & _DEFLATED:
        raw[-1] = _inflate(raw[-1])
    text = [item.decode("utf-8") for item in raw]
    account_id, role_id, role_name, session_name, caller_arn, principal_id, ak_id = text[:7]
    return SessionClaims(
        account_id=account_id,
        role_id=role_id,
        role_name=role_name,
        session_name=session_name,
        caller_arn=caller_arn,
        caller_principal_id=principal_id,
        access_key_id=ak_id,
        issued_at=issued_at,
        expires_at=expires_at,
        session_policy=text[-1] if flags & _HAS_POLICY else None,
        source_identity=text[7] if flags & _HAS_SOURCE else None,
        key_id=key_id,
    )


# ---------------------------------------------------------------------------------- token text


def _encode_text(blob: bytes) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def _decode_text(token: str) -> bytes:
    """The blob, or ``SecurityTokenMalformed``; only the canonical encoding is accepted."""
    if len(token) > MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
        raise SecurityTokenMalformed()
    body = token[len(TOKEN_PREFIX) :]
    try:
        blob = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SecurityTokenMalformed() from None
    if _encode_text(blob) != token:
        raise SecurityTokenMalformed()
    return blob


def key_id_of(security_token: str) -> str | None:
    """The key id a token names in its (authenticated, not secret) header, or ``None`` for
    text that is not a token; lets a node notice a key it has not loaded yet."""
    try:
        blob = _decode_text(security_token)
    except SecurityTokenMalformed:
        return None
    return blob[1:_HEADER_BYTES].hex() if len(blob) >= _HEADER_BYTES else None


def _secret(key: _TokenKey, access_key_id: str) -> str:
    message = _SECRET_INFO + access_key_id.encode("utf-8", "surrogatepass")
    digest = hmac.digest(key.secret_key, message, hashlib.sha512)
    return digest[:SECRET_LENGTH].translate(_SECRET_TABLE).decode("ascii")


# ------------------------------------------------------------------------------------- service


class TokenService:
    """Mints and opens SecurityTokens with the keys of a keyring.

    Opened tokens are kept in a bounded LRU keyed by the token text (claims and derived secret,
    in process memory only); it is emptied whenever the keyring changes. Expiry and the
    AccessKeyId are checked on every ``open``, cached or not.
    """

    def __init__(self, keyring: Keyring, *, cache_size: int = 4096) -> None:
        self._keyring = keyring
        self._keys = _token_keys(keyring)
        self._opened = functools.lru_cache(maxsize=cache_size)(self._decode)

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def update_keyring(self, keyring: Keyring) -> None:
        """Use a rotated or pruned keyring from now on; forgets every opened token."""
        self._keys = _token_keys(keyring)
        self._keyring = keyring
        self._opened.cache_clear()

    def mint(self, claims: SessionClaims) -> IssuedCredentials:
        """Seal ``claims`` with the current key and derive the matching AccessKeySecret."""
        kid = self._keyring.current.kid
        key = self._keys[kid]
        header = bytes((TOKEN_FORMAT,)) + bytes.fromhex(kid)
        blob = header + key.aead.seal(_pack(claims), _PREFIX_BYTES + header)
        return IssuedCredentials(
            access_key_id=claims.access_key_id,
            access_key_secret=_secret(key, claims.access_key_id),
            security_token=_encode_text(blob),
            expires_at=claims.expires_at,
        )

    def open(
        self, security_token: str, *, now: float, access_key_id: str | None = None
    ) -> SessionClaims:
        """The token's claims, after checking that it belongs to ``access_key_id`` (when given)
        and has not expired (``now >= expires_at`` is expired).

        Raises ``SecurityTokenMalformed``, ``SecurityTokenMismatch`` or ``SecurityTokenExpired``,
        in that order of checking, and never any other exception for any input string.
        """
        claims = self._opened_now(security_token).claims
        if access_key_id is not None and access_key_id != claims.access_key_id:
            raise SecurityTokenMismatch()
        if now >= claims.expires_at:
            raise SecurityTokenExpired()
        return claims

    def secret_for(self, claims_or_token: SessionClaims | str) -> str:
        """The AccessKeySecret of a token, given its text or the claims ``open`` returned.

        Expiry is ``open``'s business. Raises ``SecurityTokenMalformed`` for a bad token text,
        or for claims whose key is unknown or retired (or that did not come from ``open``).
        """
        if isinstance(claims_or_token, str):
            return self._opened_now(claims_or_token).secret
        kid = claims_or_token.key_id
        key = None if kid is None else self._keys.get(kid)
        if key is None:
            raise SecurityTokenMalformed()
        return _secret(key, claims_or_token.access_key_id)

    def _opened_now(self, token: str) -> _Opened:
        """The cached or freshly decoded token, provided its key is still in the keyring.

        The key check also covers a token cached by a reader racing ``update_keyring``.
        """
        opened = self._opened(token)
        if opened.claims.key_id not in self._keys:
            raise SecurityTokenMalformed()
        return opened

    def _decode(self, token: str) -> _Opened:
        if not isinstance(token, str):
            raise SecurityTokenMalformed()
        blob = _decode_text(token)
        if len(blob) < _HEADER_BYTES + NONCE_BYTES + TAG_BYTES or blob[0] != TOKEN_FORMAT:
            raise SecurityTokenMalformed()
        kid = blob[1:_HEADER_BYTES].hex()
        key = self._keys.get(kid)
        if key is None:
            raise SecurityTokenMalformed()
        payload = key.aead.open(blob[_HEADER_BYTES:], _PREFIX_BYTES + blob[:_HEADER_BYTES])
        if payload is None:
            raise SecurityTokenMalformed()
        try:
            claims = _unpack(payload, kid)
        except (struct.error, ValueError, zlib.error):
            raise SecurityTokenMalformed() from None
        return _Opened(claims, _secret(key, claims.access_key_id))
