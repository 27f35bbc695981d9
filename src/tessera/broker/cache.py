"""Temporary credentials cached per (app user, template, variables), renewed before expiry.

Owns: reuse of a token while more than ``renew_before`` seconds of it remain (default 1800 s
of a 3600 s token, as Alibaba recommends — a client that caches what it got for its own
15 minutes still holds a valid token), single flight (a burst of requests for the same key
while a token is being issued awaits that one issuance: one AssumeRole, not one per
request), and a bound on the number of entries.
Must not: call STS itself (the caller passes ``issue``), or read the wall clock (injected).

The key holds the app user and every value the session policy was filled with, so two
devices of one user (``${device_id}``) never share a token. Issuance runs as its own task,
so a client that disconnects while waiting does not cancel it for the others; a failed
issuance is not cached — every waiter gets the error, the next request tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from tessera.clock import Clock


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """What AssumeRole returned; ``expires_at`` is ``expiration`` in epoch seconds."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: str
    expires_at: float
    role_session_name: str = ""
    sts_request_id: str = ""

    def __repr__(self) -> str:  # never the secret or the token
        return f"IssuedCredentials({self.access_key_id}, expires {self.expiration})"


Issue = Callable[[], Awaitable[IssuedCredentials]]


class TokenCache:
    def __init__(self, clock: Clock, renew_before: float, max_entries: int = 100_000) -> None:
        self.clock = clock
        self.renew_before = renew_before
        self.max_entries = max_entries
        self._entries: dict[Hashable, IssuedCredentials] = {}
        self._inflight: dict[Hashable, asyncio.Task[IssuedCredentials]] = {}

    def fresh(self, key: Hashable) -> IssuedCredentials | None:
        """The cached token for ``key`` if more than ``renew_before`` seconds of it remain."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at - self.clock.now() > self.renew_before:
            return entry
        return None

    async def get(self, key: Hashable, issue: Issue) -> tuple[IssuedCredentials, bool]:
        """``(credentials, served_from_cache)``; calls ``issue`` only when no fresh token
        is cached and none is being issued for ``key``."""
        entry = self.fresh(key)
        if entry is not None:
            return entry, True
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._issue(key, issue))
            self._inflight[key] = task
            return await asyncio.shield(task), False
        return await asyncio.shield(task), True

    async def _issue(self, key: Hashable, issue: Issue) -> IssuedCredentials:
        try:
            issued = await issue()
        finally:
            del self._inflight[key]
        if issued.expires_at - self.clock.now() > self.renew_before:
            self._entries.pop(key, None)  # re-insert at the end: dict order = age
            self._entries[key] = issued
            if len(self._entries) > self.max_entries:
                self._evict()
        return issued

    def _evict(self) -> None:
        now = self.clock.now()
        stale = [k for k, v in self._entries.items() if v.expires_at - now <= self.renew_before]
        for key in stale:
            del self._entries[key]
        for key in list(self._entries)[: max(0, len(self._entries) - self.max_entries)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
