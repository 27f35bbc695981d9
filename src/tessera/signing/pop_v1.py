"""RPC ("POP") Signature V1: HMAC-SHA1 over the sorted, percent-encoded parameters.

Owns: the stages of spec/sts-ram.md 2.3 in the spec's words (``canonical_query_string``,
``string_to_sign``, ``signature``), ``verify``, and the parsing of the ``Timestamp`` parameter.
Must not: do I/O, read a clock, look up secrets, or see the ASGI scope. The caller passes the
union of query and form parameters exactly as decoded from the wire.

Parameters are a sequence of ``(name, value)`` pairs. When a name occurs more than once the
last occurrence is the value (official clients build their parameters in a dict and never send a
name twice; the RPC layer reads the same pairs the same way).

Encoding variants (see ``tessera.signing.encoding``):

- ``strict``: RFC 3986, per the docs; every client except the two below.
- ``lax``: ``@alicloud/sts-sdk``. Node's ``querystring``/``encodeURIComponent`` leave ``! ' ( ) *``
  unescaped, and ``[name, value]`` entries are sorted the way JavaScript's
  ``Array.prototype.sort`` does (as ``"name,value"`` strings in UTF-16 order). The sts-sdk also
  leaves empty values out of its string to sign, but its sender never transmits them either, so
  empty values stay signed here: a parameter is never accepted without being signed.
- ``plus``: ``alibabacloud-credentials`` (RamRoleArn, RsaKeyPair) signs with ``quote_plus``, so a
  space in a value (a pretty-printed ``Policy``) is ``+`` rather than ``%20``.

``verify`` tries ``strict`` first and falls back to the other variants only when they would
produce a different string; a mismatch reports the strict string to sign. The three encodings
cannot be confused with one another (only ``plus`` has a bare ``+``; only ``lax`` has bare
``! ' ( ) *``), so the fallbacks accept no parameter set that the client did not sign.
"""

from __future__ import annotations

import base64
import calendar
import hmac
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from tessera.errors import TimestampInvalid
from tessera.signing.encoding import (
    encode_canonical,
    percent_encode,
    percent_encode_lax,
    percent_encode_plus,
)
from tessera.signing.mac import hmac_digest

__all__ = [
    "VARIANTS",
    "Variant",
    "canonical_query_string",
    "parse_timestamp",
    "signature",
    "string_to_sign",
    "verify",
]

Variant = Literal["strict", "lax", "plus"]
VARIANTS: tuple[Variant, ...] = ("strict", "lax", "plus")

_log = logging.getLogger(__name__)
_ENCODERS: dict[Variant, Callable[[str], str]] = {
    "strict": percent_encode,
    "lax": percent_encode_lax,
    "plus": percent_encode_plus,
}
_LAX_CHARS = frozenset("!'()*")
# Names made of these sort the same as "name,value" strings (all are above ",").
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]*")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z"
)


def _last_wins(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Drop ``Signature``; a repeated name keeps its last value."""
    merged = dict(params)
    merged.pop("Signature", None)
    return merged


def _javascript_entry_order(item: tuple[str, str]) -> bytes:
    return f"{item[0]},{item[1]}".encode("utf-16-be", "surrogatepass")


def _sorted_items(merged: dict[str, str], variant: Variant) -> list[tuple[str, str]]:
    if variant == "lax":
        return sorted(merged.items(), key=_javascript_entry_order)
    return sorted(merged.items())


def _canonical(merged: dict[str, str], variant: Variant) -> str:
    encode = _ENCODERS[variant]
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in _sorted_items(merged, variant))


def _resolve(lax: bool, variant: Variant | None) -> Variant:
    if variant is None:
        return "lax" if lax else "strict"
    if lax and variant != "lax":
        raise ValueError("lax=True contradicts variant=" + variant)
    return variant


def canonical_query_string(
    params: Sequence[tuple[str, str]], *, lax: bool = False, variant: Variant | None = None
) -> str:
    """Sorted, percent-encoded ``name=value`` pairs joined with ``&`` (spec 2.3 steps 1-3).

    ``lax=True`` is shorthand for ``variant="lax"``.
    """
    return _canonical(_last_wins(params), _resolve(lax, variant))


def _string_to_sign(method: str, canonical: str) -> str:
    return f"{method}&%2F&{encode_canonical(canonical)}"


def string_to_sign(
    method: str,
    params: Sequence[tuple[str, str]],
    *,
    lax: bool = False,
    variant: Variant | None = None,
) -> str:
    """``METHOD&%2F&percentEncode(CanonicalizedQueryString)`` (spec 2.3 step 4)."""
    chosen = _resolve(lax, variant)
    return _string_to_sign(method, canonical_query_string(params, variant=chosen))


def signature(secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``secret + "&"`` (spec 2.3 step 5)."""
    key = (secret + "&").encode("utf-8", "surrogatepass")
    digest = hmac_digest(key, string_to_sign.encode("utf-8", "surrogatepass"), "sha1")
    return base64.b64encode(digest).decode("ascii")


def _differs(merged: dict[str, str], variant: Variant) -> bool:
    """Whether ``variant`` can yield another string than ``strict`` for these parameters."""
    if variant == "plus":
        return any(" " in v or " " in k for k, v in merged.items())
    return any(
        _PLAIN_NAME.fullmatch(k) is None or not _LAX_CHARS.isdisjoint(v) for k, v in merged.items()
    )


def _matches(secret: str, sts: str, provided: bytes) -> bool:
    return hmac.compare_digest(signature(secret, sts).encode("ascii"), provided)


def verify(
    method: str, params: Sequence[tuple[str, str]], secret: str, provided_signature: str
) -> str | None:
    """``None`` when ``provided_signature`` matches, else the server's (strict) string to sign.

    ``method`` is the HTTP method as received (``GET`` or ``POST``); ``params`` is the union of
    query and form parameters (``Signature`` among them is ignored).
    """
    merged = _last_wins(params)
    provided = provided_signature.encode("utf-8", "surrogatepass")
    strict = _string_to_sign(method, _canonical(merged, "strict"))
    if _matches(secret, strict, provided):
        return None
    for variant in VARIANTS[1:]:
        if _differs(merged, variant):
            candidate = _string_to_sign(method, _canonical(merged, variant))
            if _matches(secret, candidate, provided):
                _log.debug("pop_v1: signature matched with the %s encoding", variant)
                return None
    _log.debug("pop_v1: signature mismatch; server string to sign: %s", strict)
    return strict


def parse_timestamp(text: str) -> float:
    """``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (UTC) to epoch seconds; raises ``TimestampInvalid``.

    The fraction (``.985Z`` from ``Date.toISOString``) is accepted with 1-9 digits.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise TimestampInvalid(f"{text[:64]!r} is not yyyy-MM-ddTHH:mm:ssZ")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise TimestampInvalid(f"{text!r} is not a calendar date")
    if hour > 23 or minute > 59 or second > 59:
        raise TimestampInvalid(f"{text!r} is not a time of day")
    epoch = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = match.group(7)
    return epoch + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
