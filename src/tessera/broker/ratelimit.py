"""Token-bucket rate limits, keyed (one bucket per app user) or global (key ``""``).

Owns: the bucket arithmetic on an injected clock, and bounding the number of buckets kept.
Must not: know about HTTP (the caller turns a wait into 429 + ``Retry-After``) or sleep.

A bucket holds up to ``burst`` tokens and gains ``rate`` per second; a request takes one. A
bucket that is full again is indistinguishable from a new one, so when more than
``max_keys`` are kept the full ones are dropped — memory stays bounded however many app
users come and go; if every bucket is in use, the fullest are forgotten first.
"""

from __future__ import annotations

from tessera.clock import Clock


class RateLimiter:
    def __init__(self, clock: Clock, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        # key -> (tokens, updated_at)
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str = "") -> float:
        """Take one token for ``key``: 0.0 if granted, else the seconds until one is there."""
        if self.rate <= 0:
            return 0.0
        now = self.clock.now()
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget full buckets; if that is not enough, the fullest ones down to 90 % of
        ``max_keys`` (forgetting a bucket refills it, so the emptiest — the users being
        limited right now — are kept)."""
        level = {
            key: tokens + (now - updated) * self.rate
            for key, (tokens, updated) in self._buckets.items()
        }
        for key, tokens in level.items():
            if tokens >= self.burst:
                del self._buckets[key]
        target = int(self.max_keys * 0.9)
        if len(self._buckets) > target:
            fullest = sorted(self._buckets, key=level.__getitem__, reverse=True)
            for key in fullest[: len(self._buckets) - target]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
