"""OSS Signature V2 (legacy, oss2 only): ``OSS2 AccessKeyId:…,AdditionalHeaders:…,Signature:…``.

Owns: the stages of spec/oss.md 3.3 in the spec's words (``canonical_resource``,
``canonicalized_oss_headers``, ``string_to_sign``, ``signature``), ``parse_authorization``,
``parse_presigned`` and ``verify``.
Must not: do I/O, read a clock, look up secrets, route, or see the ASGI scope.

Server-side rules, matched against oss2 2.19.1 ``ProviderAuthV2``:

- The Date slot is the ``Date`` header (never ``x-oss-date``); presigned: ``x-oss-expires``.
- Canonical headers: ``x-oss-*`` plus the AdditionalHeaders present, ``name:value\\n`` sorted,
  then the AdditionalHeaders names sorted and ``;``-joined, then ``\\n``.
- Canonical resource: RFC 3986 of ``/<bucket>/<key>`` (or ``/``) with ``/`` encoded too, then
  ``?`` and every query pair (presigned: except ``x-oss-signature``) RFC 3986 encoded, sorted,
  ``k=v`` or ``k``.
- Signature: base64 HMAC-SHA256 keyed with the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tessera.errors import IncompleteSignature
from tessera.signing.mac import hmac_digest
from tessera.signing.oss_common import (
    V2_ALGORITHM,
    parse_additional_headers,
    split_auth_fields,
    uri_encode,
)

__all__ = [
    "V2Authorization",
    "canonical_resource",
    "canonicalized_oss_headers",
    "parse_authorization",
    "parse_presigned",
    "signature",
    "string_to_sign",
    "verify",
]

_log = logging.getLogger(__name__)
_FIELDS = ("AccessKeyId", "AdditionalHeaders", "Signature")


@dataclass(frozen=True, slots=True)
class V2Authorization:
    """A parsed V2 credential; ``expires`` (absolute epoch text) is set for presigned URLs only."""

    access_key_id: str
    additional_headers: tuple[str, ...]
    signature: str  # base64 of 32 bytes
    expires: str = ""


def _check_base64_sha256(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise IncompleteSignature("Signature is not base64") from None
    if len(raw) != hashlib.sha256().digest_size:
        raise IncompleteSignature("Signature is not a base64 HMAC-SHA256")
    return value


def parse_authorization(header: str) -> V2Authorization:
    """Parse ``OSS2 AccessKeyId:<AK>[,AdditionalHeaders:<a;b>],Signature:<base64>``."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != V2_ALGORITHM:
        raise IncompleteSignature(f"Authorization does not start with {V2_ALGORITHM}")
    fields = split_auth_fields(rest, ":", _FIELDS)
    access_key_id = fields.get("AccessKeyId", "")
    if not access_key_id:
        raise IncompleteSignature("Authorization is missing AccessKeyId")
    provided = fields.get("Signature", "")
    if not provided:
        raise IncompleteSignature("Authorization is missing Signature")
    additional = parse_additional_headers(fields.get("AdditionalHeaders", ""))
    return V2Authorization(access_key_id, additional, _check_base64_sha256(provided))


def _single(query_pairs: Sequence[tuple[str, str]], name: str, *, required: bool = True) -> str:
    values = [value for key, value in query_pairs if key == name]
    if len(values) > 1:
        raise IncompleteSignature(f"query parameter {name} appears twice")
    if required and (not values or not values[0]):
        raise IncompleteSignature(f"presigned URL is missing {name}")
    return values[0] if values else ""


def parse_presigned(query_pairs: Sequence[tuple[str, str]]) -> V2Authorization:
    """Read ``x-oss-access-key-id``, ``x-oss-expires``, ``x-oss-additional-headers`` and
    ``x-oss-signature`` (each at most once) from a ``x-oss-signature-version=OSS2`` query."""
    if _single(query_pairs, "x-oss-signature-version") != V2_ALGORITHM:
        raise IncompleteSignature(f"x-oss-signature-version is not {V2_ALGORITHM}")
    access_key_id = _single(query_pairs, "x-oss-access-key-id")
    expires = _single(query_pairs, "x-oss-expires")
    additional = parse_additional_headers(
        _single(query_pairs, "x-oss-additional-headers", required=False)
    )
    provided = _check_base64_sha256(_single(query_pairs, "x-oss-signature"))
    return V2Authorization(access_key_id, additional, provided, expires)


def canonical_resource(
    bucket: str | None,
    key: str | None,
    query_pairs: Iterable[tuple[str, str]],
    *,
    presigned: bool = False,
) -> str:
    """RFC 3986 of ``/<bucket>/<key>`` (``/`` encoded too) plus ``?`` and every query pair."""
    path = uri_encode(f"/{bucket}/{key or ''}" if bucket else "/")
    encoded = sorted(
        (uri_encode(k), uri_encode(v))
        for k, v in query_pairs
        if not (presigned and k == "x-oss-signature")
    )
    if not encoded:
        return path
    return path + "?" + "&".join(f"{k}={v}" if v else k for k, v in encoded)


def canonicalized_oss_headers(headers: Mapping[str, str], additional_headers: Sequence[str]) -> str:
    """``name:value\\n`` for ``x-oss-*`` and the present AdditionalHeaders, sorted by name."""
    signed = sorted(
        (k, v.strip())
        for k, v in headers.items()
        if k.startswith("x-oss-") or k in additional_headers
    )
    return "".join(f"{k}:{v}\n" for k, v in signed)


def string_to_sign(
    method: str,
    headers: Mapping[str, str],
    additional_headers: Sequence[str],
    resource: str,
    *,
    date: str | None = None,
) -> str:
    """``VERB\\nContent-MD5\\nContent-Type\\nDate\\n`` + headers + ``a;b\\n`` + resource.

    ``date`` overrides the Date slot (presigned: the ``x-oss-expires`` value).
    """
    if date is None:
        date = headers.get("date", "")
    names = sorted(set(additional_headers))
    return "\n".join(
        (
            method.upper(),
            headers.get("content-md5", "").strip(),
            headers.get("content-type", "").strip(),
            date.strip(),
            canonicalized_oss_headers(headers, names) + ";".join(names),
            resource,
        )
    )


def signature(secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA256 of the UTF-8 string to sign, keyed with the secret."""
    key = secret.encode("utf-8", "surrogatepass")
    digest = hmac_digest(key, string_to_sign.encode("utf-8", "surrogatepass"), "sha256")
    return base64.b64encode(digest).decode("ascii")


def verify(
    *,
    method: str,
    bucket: str | None,
    key: str | None,
    query_pairs: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    auth: V2Authorization,
    secret: str,
) -> str | None:
    """``None`` when ``auth.signature`` matches, else the server's string to sign.

    A presigned ``auth`` (``expires`` set) signs ``x-oss-expires`` in the Date slot and leaves
    ``x-oss-signature`` out of the resource.
    """
    presigned = bool(auth.expires)
    resource = canonical_resource(bucket, key, query_pairs, presigned=presigned)
    sts = string_to_sign(
        method,
        headers,
        auth.additional_headers,
        resource,
        date=auth.expires if presigned else None,
    )
    expected = signature(secret, sts).encode("ascii")
    if hmac.compare_digest(expected, auth.signature.encode("ascii")):
        return None
    _log.debug("oss_v2: signature mismatch; server string to sign: %r", sts)
    return sts
