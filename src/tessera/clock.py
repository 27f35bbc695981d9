"""Time as an injected dependency.

Owns: the ``Clock`` protocol, the system clock and a settable clock for tests, and the one
ISO-8601 format the RPC APIs emit. Nothing else in Tessera reads the wall clock directly.
"""

from __future__ import annotations

import functools
import re
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


_ISO_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,18})?Z")


@functools.lru_cache(maxsize=4096)
def parse_iso8601(text: str) -> float:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (UTC) to epoch seconds; raises ``ValueError``.

    Cached: stored timestamps (an object's Last-Modified) are parsed on every read."""
    match = _ISO_UTC.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO-8601 UTC timestamp: {text[:64]!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    parsed = datetime(year, month, day, hour, minute, second, tzinfo=UTC)  # checks the ranges
    fraction = match.group(7)
    return parsed.timestamp() + (float("0" + fraction) if fraction else 0.0)
