"""Point reads of a WAL-mode SQLite file, remembered while no transaction has committed since.

Owns: ``WalStamp``, the wal-index header of the file (the first 96 bytes of its ``-shm``
file: both copies of the header, https://www.sqlite.org/walformat.html §2.1), which every
connection of every process rewrites when it commits (the change counter, the last valid
frame, the salts and checksums), and leaves alone on a rollback; and ``StampedCache``,
values stored with the stamp read *before* they were read from the file and answered only
while the stamp is still the same, so a value is never older than the last commit — unless
its owner, knowing a commit changed none of them (one of its own, under SQLite's write lock),
moves them to the stamp after it (``rebase``).
Must not: interpret the header's fields (only equality is used), write to the ``-shm`` file,
or open it before the process holds a connection to the database (while one is open SQLite
never deletes or truncates it, so the stamp read is the live one), nor close it while the
process's connections are open: SQLite's locks on the ``-shm`` are POSIX record locks, which
the kernel drops for the whole process when *any* descriptor of that file is closed, and a
process that lost its lock lets the next one to open the database reset the wal-index under
it (measured: with the descriptor closed right after mapping, 7 of 70 ``--workers 2`` starts
under load lost a worker to SIGBUS when the other one reset the file under its map). So the
stamp keeps its descriptor, and the one Python's ``mmap`` duplicates for its map, until
``close`` (after the connections), and reads the header through a shared read-only map of the
file's first page: on the event loop, a ``pread`` per request was a system call that gave up
the GIL, and getting it back from the server's other threads cost more than the read (1-worker
PutObject throughput +7%, server CPU per request -8%, measured alternately against ``pread``).
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["StampedCache", "WalStamp"]

T = TypeVar("T")

#: two copies of the 48-byte wal-index header; a writer updates the second, then the first
HEADER_BYTES = 96


class WalStamp:
    """Reads the wal-index header of ``<database>-shm`` (``None`` when there is none yet)."""

    def __init__(self, database: str) -> None:
        self._path = database + "-shm"
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._lock = threading.Lock()
        self._settled = False

    @property
    def settled(self) -> bool:
        """Whether ``open`` was tried (or the stamp closed): a stamp is opened once, if ever."""
        return self._settled

    def open(self) -> None:
        """Open and map the ``-shm`` file; call only while this process holds a connection
        that has read the database (a missing file leaves the stamp unavailable for good)."""
        with self._lock:
            if self._settled:
                return
            self._settled = True
            try:
                fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return
            self._fd = fd  # kept until ``close``, like the descriptor the map holds
            try:
                if os.fstat(fd).st_size >= HEADER_BYTES:
                    self._map = mmap.mmap(fd, HEADER_BYTES, mmap.MAP_SHARED, mmap.PROT_READ)
            except (OSError, ValueError):
                self._map = None

    def read(self) -> bytes | None:
        header = self._map
        if header is None:
            return None
        try:
            return header[:HEADER_BYTES]
        except ValueError:  # closed meanwhile
            return None

    def close(self) -> None:
        with self._lock:
            self._settled = True
            header, self._map = self._map, None
            fd, self._fd = self._fd, None
        if header is not None:
            header.close()
        if fd is not None:
            os.close(fd)


class StampedCache(Generic[T]):
    """Values keyed by their read's arguments, each with the stamp taken before it was read.

    ``read`` answers from memory only under the current stamp; a new stamp empties the cache
    (everything in it is older than the commit that changed it). Bounded by entries and by
    weight (bytes of bodies, say); over either bound it is emptied, not scanned."""

    def __init__(
        self,
        stamp: Callable[[], bytes | None],
        *,
        max_entries: int = 4096,
        max_weight: int = 16 << 20,
    ) -> None:
        self._stamp = stamp
        self._max_entries = max_entries
        self._max_weight = max_weight
        self._seen: bytes | None = None
        self._entries: dict[Hashable, T] = {}
        self._weight = 0
        self._lock = threading.Lock()

    def rebase(self, before: bytes, after: bytes | None) -> None:
        """Keep what is remembered under ``before`` as remembered under ``after``: for a caller
        that knows nothing any value was read from changed between the two stamps (a commit
        of its own that touched none of it, while no other could commit). Under any other
        stamp, nothing changes: the next ``read`` empties the cache as usual."""
        if after is None:
            return
        with self._lock:
            if self._seen == before:
                self._seen = after

    def read(self, key: Hashable, load: Callable[[], tuple[T, int]]) -> T:
        """The value for ``key``: remembered if nothing committed since it was read, else
        ``load()`` (the value and its weight), remembered under the stamp read before."""
        stamp = self._stamp()
        if stamp is None:
            return load()[0]
        with self._lock:
            if stamp != self._seen:
                self._entries = {}
                self._weight = 0
                self._seen = stamp
            elif key in self._entries:
                return self._entries[key]
        value, weight = load()
        with self._lock:
            if stamp != self._seen:  # a commit was seen meanwhile: the value may be older
                return value
            if len(self._entries) >= self._max_entries or self._weight + weight > self._max_weight:
                self._entries = {}
                self._weight = 0
            if weight <= self._max_weight:
                self._entries[key] = value
                self._weight += weight
        return value
