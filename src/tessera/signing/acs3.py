"""RPC Signature V3: ``ACS3-HMAC-SHA256`` over a canonical request (spec/sts-ram.md 2.4).

Owns: parsing the ``Authorization`` header, the stages in the spec's words
(``canonical_query_string``, ``canonical_headers``, ``canonical_request``, ``string_to_sign``,
``signature``) and ``verify``.
Must not: do I/O, read a clock, look up secrets, or see the ASGI scope.

Server-side rules, matched against tea-openapi 0.4.6 (``utils.get_authorization``):

- CanonicalURI is the request path as received (``/`` for RPC).
- Query parameters are decoded from the wire first, then each name and value is RFC 3986
  encoded; pairs are sorted by the decoded name; an empty value gives ``name=``. A repeated name
  keeps its last value. (tea leaves names unencoded; every RPC parameter name is made of
  unreserved characters, for which both agree.)
- CanonicalHeaders are rebuilt from the ``SignedHeaders`` list exactly as sent, in the order sent:
  ``name:value\\n`` with the value trimmed (``str.strip``, as tea does). A header that was
  received several times is its values trimmed, sorted and joined with ``,`` (``collect_headers``).
  A signed header that is absent counts as the empty value: tea only signs headers it sends, so
  such a request was altered in transit and will not match anyway.
- The hashed payload is the lower-hex SHA-256 of the body as received (``hashed_payload``); the
  caller also checks that ``x-acs-content-sha256`` carries the same value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tessera.errors import IncompleteSignature
from tessera.signing.encoding import percent_encode
from tessera.signing.mac import hmac_digest
from tessera.signing.pop_v1 import parse_timestamp

__all__ = [
    "ALGORITHM",
    "EMPTY_PAYLOAD_SHA256",
    "Acs3Authorization",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "collect_headers",
    "hashed_payload",
    "parse_authorization",
    "parse_timestamp",
    "signature",
    "string_to_sign",
    "unsigned_headers",
    "verify",
]

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()

_log = logging.getLogger(__name__)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class Acs3Authorization:
    """The parsed ``Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…``."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str  # 64 lower-case hex digits


def _split_fields(rest: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = part.partition("=")
        if not eq:
            raise IncompleteSignature(f"Authorization field {name[:32]!r} has no '='")
        if name in fields:
            raise IncompleteSignature(f"Authorization field {name[:32]} appears twice")
        fields[name] = value.strip()
    return fields


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise IncompleteSignature(f"Authorization is missing {name}")
    return value


def _signed_header_names(value: str) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if any(not name or name != name.strip() for name in names):
        raise IncompleteSignature("SignedHeaders contains an empty or padded name")
    return names


def parse_authorization(header: str) -> Acs3Authorization:
    """Parse the V3 ``Authorization`` header; ``IncompleteSignature`` names what is wrong."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        if algorithm.startswith("ACS3-"):
            raise IncompleteSignature(f"unsupported signature algorithm {algorithm[:40]}")
        raise IncompleteSignature(f"Authorization does not start with {ALGORITHM}")
    fields = _split_fields(rest)
    access_key_id = _required(fields, "Credential")
    signed_headers = _signed_header_names(_required(fields, "SignedHeaders"))
    provided = _required(fields, "Signature")
    if _HEX64.fullmatch(provided) is None:
        raise IncompleteSignature("Signature is not 64 hexadecimal digits")
    return Acs3Authorization(access_key_id, signed_headers, provided.lower())


def collect_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Received ``(name, value)`` pairs to ``{lower name: value}``, joining repeats as tea does."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name.lower(), []).append(value.strip())
    return {name: ",".join(sorted(values)) for name, values in grouped.items()}


def unsigned_headers(header_names: Iterable[str], signed_headers: Sequence[str]) -> tuple[str, ...]:
    """Present headers that the V3 docs require to be signed (``host``, ``content-type``,
    ``x-acs-*``) but that are not in ``SignedHeaders``; sorted, lower-case.
    """
    signed = {name.lower() for name in signed_headers}
    required = {
        low
        for low in (name.lower() for name in header_names)
        if low in ("host", "content-type") or low.startswith("x-acs-")
    }
    return tuple(sorted(required - signed))


def hashed_payload(body: bytes) -> str:
    """Lower-hex SHA-256 of the request body (``HashedRequestPayload``)."""
    return hashlib.sha256(body).hexdigest()


def canonical_query_string(query_pairs: Sequence[tuple[str, str]]) -> str:
    """Decoded pairs, sorted by name, RFC 3986 encoded, ``name=value`` joined with ``&``."""
    merged = dict(query_pairs)
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(merged.items()))


def canonical_headers(headers: Mapping[str, str], signed_headers: Sequence[str]) -> str:
    """``name:trimmed value\\n`` for each signed header, in the order of ``signed_headers``.

    ``headers`` has lower-case names (see ``collect_headers``); an absent header is empty.
    """
    return "".join(f"{name}:{headers.get(name.lower(), '').strip()}\n" for name in signed_headers)


def canonical_request(
    method: str,
    canonical_uri: str,
    query_pairs: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    hashed_payload: str,
) -> str:
    """``METHOD\\nURI\\nQuery\\nCanonicalHeaders\\nSignedHeaders\\nHashedRequestPayload``."""
    return "\n".join(
        (
            method,
            canonical_uri,
            canonical_query_string(query_pairs),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            hashed_payload,
        )
    )


def string_to_sign(canonical_request: str) -> str:
    """``ACS3-HMAC-SHA256\\n`` + lower-hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{ALGORITHM}\n{digest}"


def signature(secret: str, string_to_sign: str) -> str:
    """Lower-hex HMAC-SHA256 of the string to sign, keyed with the secret itself (no ``&``)."""
    key, message = (
        secret.encode("utf-8", "surrogatepass"),
        string_to_sign.encode("utf-8", "surrogatepass"),
    )
    return hmac_digest(key, message, "sha256").hex()


def verify(
    *,
    method: str,
    canonical_uri: str,
    query_pairs: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    hashed_payload: str,
    secret: str,
    provided_signature: str,
) -> str | None:
    """``None`` when ``provided_signature`` matches, else the server's string to sign.

    ``signed_headers`` and ``provided_signature`` come from ``parse_authorization``; the
    canonical request behind a mismatch is logged at debug level (never the secret).
    """
    request = canonical_request(
        method, canonical_uri, query_pairs, headers, signed_headers, hashed_payload
    )
    sts = string_to_sign(request)
    expected = signature(secret, sts).encode("ascii")
    provided = provided_signature.lower().encode("utf-8", "surrogatepass")
    if hmac.compare_digest(expected, provided):
        return None
    _log.debug("acs3: signature mismatch; server canonical request:\n%s", request)
    return sts
