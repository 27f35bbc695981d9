"""Request signatures: canonicalisation + HMAC, one module per scheme.

Owns: ``pop_v1`` (RPC Signature V1, HMAC-SHA1), ``acs3`` (RPC Signature V3, ACS3-HMAC-SHA256),
the OSS schemes ``oss_v1``, ``oss_v2``, ``oss_v4`` with ``oss_common`` (classification, token
placement, time checks), and the shared ``encoding`` helpers. Each module exposes its stages
in the spec's words and a ``verify`` that returns ``None`` on a match or the server's string
to sign.
Must not: do I/O, read a clock, look up secrets, or import from ``store``, ``web``, ``rpc`` or
``oss``. ``memo`` remembers verified presigned inputs (a pure, bounded memo); ``mac`` keeps
keyed HMAC states for the schemes' signatures.
"""

from __future__ import annotations

from tessera.signing import acs3, encoding, oss_common, oss_v1, oss_v2, oss_v4, pop_v1
from tessera.signing.acs3 import Acs3Authorization
from tessera.signing.encoding import (
    decode_query,
    percent_encode,
    percent_encode_lax,
    percent_encode_plus,
)

__all__ = [
    "Acs3Authorization",
    "acs3",
    "decode_query",
    "encoding",
    "oss_common",
    "oss_v1",
    "oss_v2",
    "oss_v4",
    "percent_encode",
    "percent_encode_lax",
    "percent_encode_plus",
    "pop_v1",
]
