"""Signatures already verified: a bounded memo of a pure check's successes.

Owns: remembering that a signature check passed for exactly these inputs under this secret,
so that an identical request — apps reuse a presigned GET URL until it expires — skips
rebuilding the canonical request and its HMAC. Only the cryptographic check is remembered:
time checks (expiry, skew), the token and AccessKey checks and authorization still run on
every request, so an expired URL or a revoked key fails as before.
Must not: remember a failure, be keyed on less than every input of the verification (the
caller builds the key), or be shared between threads (one event loop uses it).
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["SignatureMemo"]


class SignatureMemo:
    """The last ``capacity`` verified inputs (least recently used evicted first)."""

    def __init__(self, capacity: int = 2048) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def verified(self, inputs: Hashable, secret: str) -> bool:
        """Whether ``inputs`` were verified before under this same ``secret``."""
        known = self._entries.get(inputs)
        if known is None:
            return False
        if not hmac.compare_digest(known, secret.encode("utf-8", "surrogatepass")):
            return False
        self._entries.move_to_end(inputs)
        return True

    def remember(self, inputs: Hashable, secret: str) -> None:
        """Record that the signature over ``inputs`` matched under ``secret``."""
        self._entries[inputs] = secret.encode("utf-8", "surrogatepass")
        self._entries.move_to_end(inputs)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
