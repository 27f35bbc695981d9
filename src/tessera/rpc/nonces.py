"""``SignatureNonce`` replay protection: each (AccessKeyId, nonce) is accepted once.

Owns: the ``NonceGuard`` interface the RPC pipeline calls after a signature verified, and its
two implementations — ``NonceCache`` (in this process's memory: one serving process) and
``SharedNonceStore`` (a small SQLite file every worker process of one ``tessera serve
--workers N`` shares, so a request replayed to another worker is refused as well).
Must not: verify signatures or timestamps (``rpc.app`` does, before asking here).

A nonce is remembered for twice the timestamp window: a request older than the window is
refused as expired anyway, so nothing older needs remembering. Neither implementation
survives a restart, on purpose: the shared file is recreated when the server starts, as the
in-memory cache is; a replay across a restart inside the window is the accepted gap.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from tessera.errors import NonceReused
from tessera.store.sqlite import enable_wal

__all__ = ["NonceCache", "NonceGuard", "SharedNonceStore"]


class NonceGuard(Protocol):
    def check_and_remember(self, access_key_id: str, nonce: str, now: float) -> None:
        """Remember the pair; ``NonceReused`` if it was seen within the window."""
        ...


class NonceCache:
    """Remembers (AccessKeyId, nonce) pairs for the timestamp window; bounded in size."""

    def __init__(self, window_seconds: float, max_entries: int = 2_000_000) -> None:
        self._window = window_seconds
        self._max = max_entries
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_remember(self, access_key_id: str, nonce: str, now: float) -> None:
        key = (access_key_id, nonce)
        with self._lock:
            self._expire(now)
            if key in self._seen:
                raise NonceReused()
            if len(self._seen) >= self._max:
                self._seen.popitem(last=False)
            self._seen[key] = now + 2 * self._window

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest_key = next(iter(seen))
            if seen[oldest_key] > now:
                return
            del seen[oldest_key]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
    digest BLOB PRIMARY KEY,
    expires REAL NOT NULL
) WITHOUT ROWID
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    enable_wal(conn, 30.0)  # retried: the switch is refused at once while another one runs
    conn.execute("PRAGMA synchronous = OFF")
    return conn


class SharedNonceStore:
    """``NonceGuard`` on a SQLite file shared by the worker processes of one server.

    One row per pair, keyed by a 16-byte BLAKE2b digest of (AccessKeyId, nonce), so a long
    nonce costs no more than a short one; the primary key makes "seen before" an insert that
    fails. Expired rows are deleted every ``purge_every`` inserts. The file holds nothing
    worth keeping across a crash, so it runs without fsync (``synchronous = OFF``) and
    ``reset`` recreates it at start.
    """

    def __init__(
        self, path: str | os.PathLike[str], window_seconds: float, purge_every: int = 1000
    ) -> None:
        self._path = Path(path)
        self._window = window_seconds
        self._purge_every = purge_every
        self._local = threading.local()
        self._inserts = 0
        with contextlib.closing(_connect(self._path)) as conn:
            conn.execute(_SCHEMA)

    @classmethod
    def reset(cls, path: str | os.PathLike[str]) -> None:
        """Recreate the file, in WAL mode and with its table, before any worker opens it (the
        server is starting; nothing runs): workers switching a new file to WAL at the same
        moment were answered "database is locked" at once, which stopped the server."""
        base = Path(path)
        for suffix in ("", "-wal", "-shm"):
            base.with_name(base.name + suffix).unlink(missing_ok=True)
        fd = os.open(base, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        with contextlib.closing(_connect(base)) as conn:
            conn.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self._path)
        return conn

    def check_and_remember(self, access_key_id: str, nonce: str, now: float) -> None:
        digest = hashlib.blake2b(
            f"{access_key_id}\0{nonce}".encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        conn = self._connection()
        try:
            conn.execute(
                "INSERT INTO nonces (digest, expires) VALUES (?, ?)",
                (digest, now + 2 * self._window),
            )
        except sqlite3.IntegrityError:
            row = conn.execute("SELECT expires FROM nonces WHERE digest = ?", (digest,)).fetchone()
            if row is not None and row[0] > now:
                raise NonceReused() from None
            # an expired row not yet purged: the pair may be used again
            conn.execute(
                "UPDATE nonces SET expires = ? WHERE digest = ?", (now + 2 * self._window, digest)
            )
        self._inserts += 1
        if self._inserts % self._purge_every == 0:
            conn.execute("DELETE FROM nonces WHERE expires <= ?", (now,))

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
