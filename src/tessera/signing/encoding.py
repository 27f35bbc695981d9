"""Percent-encoding variants and query-string decoding shared by the signature schemes.

Owns: the three ways official clients percent-encode a parameter when they sign, and the one way
Tessera decodes a query string or form body from the wire.
Must not: do I/O, read a clock, or know anything about a particular signature scheme.

- ``percent_encode``: RFC 3986. Unreserved ``A-Z a-z 0-9 - _ . ~`` stay; every other byte of the
  UTF-8 form becomes ``%XX`` (upper-case hex). Space is ``%20``, ``*`` is ``%2A``. Used by the docs,
  aliyun-python-sdk-core, tea-openapi, pop-core, the Go SDK and the CLI.
- ``percent_encode_lax``: Node's ``encodeURIComponent``/``querystring.escape``, which also leave
  ``! ' ( ) *`` alone. Used by ``@alicloud/sts-sdk`` (spec/sts-ram.md 2.3).
- ``percent_encode_plus``: Python's ``quote_plus``: RFC 3986 except that space becomes ``+``.
  Used by ``alibabacloud-credentials`` (``utils/parameter_helper.compose_string_to_sign``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl


def _encoder(keep: bytes = b"", space: bytes = b"%20", doc: str = "") -> Callable[[str], str]:
    """The encoder leaving unreserved characters and ``keep`` alone, ``space`` for a space.

    Strings of unreserved characters only (most names and values) are returned as they are;
    otherwise one regular-expression pass over the UTF-8 bytes replaces only the bytes that
    need it (a 1.2 KB base64 token with ~40 of them: 22 µs, against 62 µs for a table lookup
    per byte; a credential scope: 2.2 against 3.3 µs)."""
    escaped = {b: space if b == 0x20 else b"%%%02X" % b for b in range(256)}
    needs_escape = re.compile(b"[^A-Za-z0-9_.~" + re.escape(keep) + b"-]")

    def replace(match: re.Match[bytes]) -> bytes:
        return escaped[match.group()[0]]

    def encode(s: str) -> str:
        return needs_escape.sub(replace, s.encode("utf-8", "surrogatepass")).decode("ascii")

    def encoder(s: str) -> str:
        return s if _ALL_UNRESERVED(s) else encode(s)

    encoder.__doc__ = doc
    return encoder


_ALL_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch  # most values: returned as they are

# the encoders themselves, not functions calling them: signing a request encodes every
# query name and value, and a call layer each was measurable
percent_encode = _encoder(doc="RFC 3986 percent-encoding of the UTF-8 form (never raises).")
percent_encode_lax = _encoder(
    keep=b"!'()*",
    doc="Node's ``encodeURIComponent``: ``percent_encode`` leaving ``! ' ( ) *`` alone.",
)
percent_encode_plus = _encoder(
    space=b"+", doc="Python's ``quote_plus``: like ``percent_encode`` but a space becomes ``+``."
)


def encode_canonical(canonical: str) -> str:
    """Percent-encode a canonical query string with the encoder that built it.

    A canonical string holds only unreserved characters, ``%``, ``=``, ``&``, plus ``! ' ( ) *``
    when built by ``percent_encode_lax`` (which leaves them alone again) or ``+`` when built by
    ``percent_encode_plus`` (which encodes it as ``%2B``). Four replacements therefore give
    exactly what that encoder would, without a pass per byte.
    """
    return canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26").replace("+", "%2B")


def decode_query(raw: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=%20x`` (a query string or a form body) into ordered pairs.

    Empty values are kept (``SignatureType=`` is signed), ``+`` means space as in HTML forms, and a
    byte sequence that is not UTF-8 decodes to U+FFFD (the signature then simply fails to match).
    """
    return parse_qsl(raw, keep_blank_values=True, errors="replace")
