"""Identifiers and secrets generation, as an injected dependency.

Owns: the formats of every generated id (AccessKeyId ``LTAI…``, STS ``STS.…``, numeric
user/role ids, ``g-`` group ids, request ids, 16-digit account ids). Randomness comes from
``secrets``; tests can inject a seeded source for reproducible ids, never for secrets.
"""

from __future__ import annotations

import os
import string
import threading
from typing import Protocol

_ALNUM = string.ascii_letters + string.digits


class IdSource(Protocol):
    def token(self, alphabet: str, length: int) -> str: ...


class _RandomPool:
    """Bytes from ``os.urandom`` read 4 KiB at a time and handed out once each: the same
    randomness as ``secrets.token_bytes``, without a system call per id."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._buffer = b""
        self._offset = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        with self._lock:
            start = self._offset
            if len(self._buffer) - start < count:
                self._buffer, start = os.urandom(max(self._chunk, count)), 0
            self._offset = start + count
            return self._buffer[start : start + count]


_POOL = _RandomPool()


class SecureIds:
    """The production id source: CSPRNG bytes mapped onto the alphabet by rejection
    sampling, so every character stays uniformly distributed."""

    def token(self, alphabet: str, length: int) -> str:
        size = len(alphabet)
        if not 0 < size <= 256:
            raise ValueError("alphabet must have 1 to 256 characters")
        limit = 256 - 256 % size
        chars: list[str] = []
        while len(chars) < length:
            for byte in _POOL.take(length + 8):
                if byte < limit:
                    chars.append(alphabet[byte % size])
                    if len(chars) == length:
                        break
        return "".join(chars)


def access_key_id(ids: IdSource) -> str:
    """Permanent AccessKeyId: ``LTAI`` + 20 alphanumerics."""
    return "LTAI" + ids.token(_ALNUM, 20)


def access_key_secret(ids: IdSource) -> str:
    """Permanent AccessKey secret: 30 alphanumerics."""
    return ids.token(_ALNUM, 30)


def sts_access_key_id(ids: IdSource) -> str:
    """Temporary AccessKeyId: ``STS.`` + 25 alphanumerics."""
    return "STS." + ids.token(_ALNUM, 25)


def numeric_id(ids: IdSource, length: int = 18) -> str:
    """User and role ids: numeric strings without a leading zero."""
    return ids.token("123456789", 1) + ids.token(string.digits, length - 1)


def account_id(ids: IdSource) -> str:
    """Account ids: 16 digits."""
    return numeric_id(ids, 16)


def group_id(ids: IdSource) -> str:
    return "g-" + ids.token(_ALNUM, 14)


def random_hex(nbytes: int) -> str:
    """``nbytes`` CSPRNG bytes as lower-case hex, from the pool (no system call per id)."""
    return _POOL.take(nbytes).hex()


def request_id() -> str:
    """RPC RequestId: an upper-case UUID (version 4 layout)."""
    raw = bytearray(_POOL.take(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex().upper()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
