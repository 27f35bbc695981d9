"""OSS Signature V1: ``Authorization: OSS <AK>:<base64 HMAC-SHA1>`` and its presigned query form.

Owns: the stages of spec/oss.md 2.1-2.2 in the spec's words (``canonical_resource``,
``canonicalized_oss_headers``, ``string_to_sign``, ``signature``), ``parse_authorization``,
``parse_presigned`` and ``verify``.
Must not: do I/O, read a clock, look up secrets, route (bucket and key come from the caller,
already decoded), or see the ASGI scope.

Server-side rules, matched against oss2 2.19.1, alibabacloud-oss-v2 1.4.1 and ali-oss 6.23.0:

- The Date slot holds ``x-oss-date`` when present, else ``Date``; for a presigned URL it holds
  the ``Expires`` value.
- CanonicalizedOSSHeaders: every ``x-oss-*`` header as ``name:trimmed value\\n`` sorted by name.
  The unsigned ``security-token`` header of alibabacloud-oss-v2's V1 mode is not ``x-oss-*`` and
  so stays out.
- CanonicalizedResource: ``/``, ``/<bucket>/`` or ``/<bucket>/<raw key>``, then the signed
  sub-resources (``oss_common.SUBRESOURCES``) present in the query, decoded, sorted by name,
  ``name=value`` or just ``name`` when the value is empty. ``OSSAccessKeyId``, ``Expires`` and
  ``Signature`` are never sub-resources.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tessera.errors import IncompleteSignature
from tessera.signing.mac import hmac_digest
from tessera.signing.oss_common import SUBRESOURCES

__all__ = [
    "V1Authorization",
    "V1Presigned",
    "canonical_resource",
    "canonicalized_oss_headers",
    "parse_authorization",
    "parse_presigned",
    "signature",
    "string_to_sign",
    "verify",
]

_log = logging.getLogger(__name__)
_SHA1_DIGEST_SIZE = 20


@dataclass(frozen=True, slots=True)
class V1Authorization:
    """The parsed ``Authorization: OSS <AccessKeyId>:<Signature>``."""

    access_key_id: str
    signature: str  # base64 of 20 bytes


@dataclass(frozen=True, slots=True)
class V1Presigned:
    """The parsed ``?OSSAccessKeyId=…&Expires=…&Signature=…``; ``expires`` is unchecked text."""

    access_key_id: str
    expires: str
    signature: str


def _check_base64_sha1(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise IncompleteSignature("Signature is not base64") from None
    if len(raw) != _SHA1_DIGEST_SIZE:
        raise IncompleteSignature("Signature is not a base64 HMAC-SHA1")
    return value


def parse_authorization(header: str) -> V1Authorization:
    """Parse ``OSS <AK>:<Signature>``; ``IncompleteSignature`` names what is wrong."""
    scheme, space, credentials = header.strip().partition(" ")
    if scheme != "OSS" or not space:
        raise IncompleteSignature("Authorization does not start with 'OSS '")
    access_key_id, colon, provided = credentials.strip().rpartition(":")
    if not colon:
        raise IncompleteSignature("Authorization has no ':' between AccessKeyId and Signature")
    if not access_key_id:
        raise IncompleteSignature("Authorization is missing the AccessKeyId")
    if not provided:
        raise IncompleteSignature("Authorization is missing the Signature")
    return V1Authorization(access_key_id, _check_base64_sha1(provided))


def _single(query_pairs: Sequence[tuple[str, str]], name: str) -> str:
    values = [value for key, value in query_pairs if key == name]
    if len(values) > 1:
        raise IncompleteSignature(f"query parameter {name} appears twice")
    if not values or not values[0]:
        raise IncompleteSignature(f"presigned URL is missing {name}")
    return values[0]


def parse_presigned(query_pairs: Sequence[tuple[str, str]]) -> V1Presigned:
    """Read ``OSSAccessKeyId``, ``Expires`` and ``Signature`` (each exactly once) from the query.

    ``Expires`` is returned as text; ``oss_common.check_presigned_expiry`` judges it.
    """
    access_key_id = _single(query_pairs, "OSSAccessKeyId")
    expires = _single(query_pairs, "Expires")
    provided = _check_base64_sha1(_single(query_pairs, "Signature"))
    return V1Presigned(access_key_id, expires, provided)


def canonical_resource(
    bucket: str | None, key: str | None, query_pairs: Sequence[tuple[str, str]]
) -> str:
    """``/``, ``/<bucket>/`` or ``/<bucket>/<key>`` plus ``?`` and the signed sub-resources."""
    path = f"/{bucket}/{key or ''}" if bucket else "/"
    signed = sorted((k, v) for k, v in query_pairs if k in SUBRESOURCES)
    if not signed:
        return path
    return path + "?" + "&".join(f"{k}={v}" if v else k for k, v in signed)


def canonicalized_oss_headers(headers: Mapping[str, str]) -> str:
    """``name:value\\n`` for every ``x-oss-*`` header, sorted by name (names are lower-case)."""
    signed = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-oss-"))
    return "".join(f"{k}:{v}\n" for k, v in signed)


def string_to_sign(
    method: str, headers: Mapping[str, str], resource: str, *, date: str | None = None
) -> str:
    """``VERB\\nContent-MD5\\nContent-Type\\nDate\\nCanonicalizedOSSHeaders+Resource``.

    ``date`` overrides the Date slot (presigned: the ``Expires`` value); otherwise it is
    ``x-oss-date`` when present, else ``Date``.
    """
    if date is None:
        date = headers.get("x-oss-date") or headers.get("date", "")
    return "\n".join(
        (
            method.upper(),
            headers.get("content-md5", "").strip(),
            headers.get("content-type", "").strip(),
            date.strip(),
            canonicalized_oss_headers(headers) + resource,
        )
    )


def signature(secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 of the UTF-8 string to sign, keyed with the secret."""
    key = secret.encode("utf-8", "surrogatepass")
    digest = hmac_digest(key, string_to_sign.encode("utf-8", "surrogatepass"), "sha1")
    return base64.b64encode(digest).decode("ascii")


def verify(
    method: str,
    headers: Mapping[str, str],
    resource: str,
    secret: str,
    provided_signature: str,
    *,
    date: str | None = None,
) -> str | None:
    """``None`` when ``provided_signature`` matches, else the server's string to sign.

    For a presigned URL pass ``date=`` the ``Expires`` text as received.
    """
    sts = string_to_sign(method, headers, resource, date=date)
    expected = signature(secret, sts).encode("ascii")
    if hmac.compare_digest(expected, provided_signature.encode("utf-8", "surrogatepass")):
        return None
    _log.debug("oss_v1: signature mismatch; server string to sign: %r", sts)
    return sts
