"""Time as an injected dependency.

Owns: the ``Clock`` protocol, the system clock and a settable clock for tests, and the one
ISO-8601 format the RPC APIs emit. Nothing else in Tessera reads the wall clock directly.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Protocol

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = when


def iso8601(epoch: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, no fraction: the only form the SDKs all parse."""
    return _iso8601_seconds(int(epoch))


@functools.lru_cache(maxsize=256)
def _iso8601_seconds(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime(ISO_SECONDS)


def parse_iso8601(text: str) -> float:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (UTC) to epoch seconds; raises ``ValueError``."""
    if not text.endswith("Z") or len(text) < 20 or len(text) > 40:
        raise ValueError(f"not an ISO-8601 UTC timestamp: {text!r}")
    base, _, fraction = text[:-1].partition(".")
    if fraction and not fraction.isdigit():
        raise ValueError(f"bad fraction in {text!r}")
    parsed = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return parsed.timestamp() + (float("0." + fraction) if fraction else 0.0)
