"""Group commit for one SQLite file: queued write functions share transactions and fsyncs.

Owns: one writer thread with its own connection (``synchronous = FULL``: a commit is on disk
before it is reported), the queue callers put ``work(conn) -> result`` functions on, and the
batching: whatever is waiting when the writer comes round (up to ``max_batch``) runs in one
``BEGIN IMMEDIATE`` transaction, each function inside its own ``SAVEPOINT``, then one
``COMMIT`` — one WAL fsync for the whole batch. A function that raises rolls back to its
savepoint only; its caller gets the exception and the others still commit. A failed
``COMMIT`` fails every caller of the batch (none of their changes is stored).

Why: with a fsync per commit, small writes are bound by the disk's flush latency and by
threads queueing on SQLite's write lock (its busy handler sleeps); the same durability
costs one flush per batch here, and the write lock is taken once per batch. Between
processes (``serve --workers N``) the writers take turns on an ``flock`` of ``lock_path``
first, so a waiting writer wakes the moment the other commits instead of polling SQLite's
lock with sleeps of up to 100 ms.

Must not: know any table. Callers pass closures; ``sqlite3`` errors raised by them become
Tessera errors here (``translate_errors``), before their futures see them.
"""

from __future__ import annotations

import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from tessera.errors import InternalError

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]
Outcomes = list[tuple[Future[Any], Any, BaseException | None]]

__all__ = ["CommitQueue"]

_STOP = None


class CommitQueue:
    """``submit(work)`` → a future resolved after the transaction holding ``work`` commits."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        translate: Callable[[BaseException], BaseException],
        *,
        lock_path: str | None = None,
        max_batch: int = 128,
        name: str = "tessera-commit",
    ) -> None:
        self._connect = connect
        self._lock_path = lock_path
        self._translate = translate
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Future[Any], Work] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise InternalError("the store is closed")
            self._queue.put((future, work))
        return future

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    # ---- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        turn: int | None = None
        stopping = False
        while not stopping:
            batch: list[tuple[Future[Any], Work]] = []
            item = self._queue.get()
            while item is not _STOP:
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is _STOP
            live = [(f, w) for f, w in batch if f.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                if conn is None:
                    conn = self._connect()
                if turn is None and self._lock_path is not None:
                    turn = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                if turn is not None:
                    fcntl.flock(turn, fcntl.LOCK_EX)
                try:
                    outcomes = self._apply(conn, live)
                finally:
                    if turn is not None:
                        fcntl.flock(turn, fcntl.LOCK_UN)
                # the turn is given back first: another process's writer need not wait while
                # this one wakes its waiters, and a waiter woken finds the turn free
                _resolve(outcomes)
            except BaseException as exc:  # the connection itself failed: fail the batch
                error = self._translate(exc)
                for future, _ in live:
                    if not future.done():
                        future.set_exception(error)
        if conn is not None:
            conn.close()
        if turn is not None:
            os.close(turn)

    def _apply(self, conn: sqlite3.Connection, batch: list[tuple[Future[Any], Work]]) -> Outcomes:
        """Run the batch in one transaction; each work's result or error, once committed."""
        outcomes: Outcomes = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for future, work in batch:
                conn.execute("SAVEPOINT work")
                try:
                    result = work(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO work")
                    conn.execute("RELEASE work")
                    outcomes.append((future, None, self._translate(exc)))
                else:
                    conn.execute("RELEASE work")
                    outcomes.append((future, result, None))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes


def _resolve(outcomes: Outcomes) -> None:
    for future, result, error in outcomes:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
