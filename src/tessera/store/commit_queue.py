"""Group commit for one SQLite file: queued write functions share transactions and fsyncs.

Owns: one writer thread with its own connection (``synchronous = FULL``: a commit is on disk
before it is reported), the queue callers put ``work(conn) -> result`` functions on, and the
batching: whatever is waiting when the writer comes round (up to ``max_batch``) runs in one
``BEGIN IMMEDIATE`` transaction, each function inside its own ``SAVEPOINT`` (unless it
changes nothing when it raises: ``savepoint=False``), then one ``COMMIT`` — one WAL fsync for
the whole batch. A function that raises rolls back to its
savepoint only; its caller gets the exception and the others still commit. A failed
``COMMIT`` fails every caller of the batch (none of their changes is stored).

Why: with a fsync per commit, small writes are bound by the disk's flush latency and by
threads queueing on SQLite's write lock (its busy handler sleeps); the same durability
costs one flush per batch here, and the write lock is taken once per batch. Between
processes (``serve --workers N``) the writers take turns on an ``flock`` of ``lock_path``
first, so a waiting writer wakes the moment the other commits instead of polling SQLite's
lock with sleeps of up to 100 ms.

Work submitted from an event loop's thread with ``submit_here`` (small writes awaited on the
loop) runs on that loop, inside the writer's open transaction: the writer begins, hands the
connection to the loop with one callback, waits, then runs its own works and commits. Run on
the writer instead, each statement's step gives up the GIL and getting it back from the busy
loop took ~150 us per PutObject (measured); this way the loop and the writer trade the
connection twice per batch. A loop that does not take its turn within ``loop_patience``
(stopped, or blocked) has its works run by the writer. Their outcomes reach the loop as
``Commit`` futures, all of a batch in one callback (not a thread-safe future per work, each
with its own wake-up of the loop).

Must not: know any table. Callers pass closures; ``sqlite3`` errors raised by them become
Tessera errors here (``translate_errors``), before their futures see them.
"""

from __future__ import annotations

import asyncio
import contextlib
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


class Commit(asyncio.Future[T]):
    """The outcome of a work submitted from an event loop (``submit_here``), resolved on that
    loop once the transaction holding the work has committed, or has failed.

    It cannot be cancelled: the work may already be inside the open transaction, so its
    outcome is always delivered. A task cancelled while awaiting one gets ``CancelledError``
    when it resolves, and can still read the outcome (to free what the write released)."""

    def cancel(self, msg: Any | None = None) -> bool:
        return False


#: a caller's future: a thread's (``submit``) or a loop's (``submit_here``)
Waiter = Future[Any] | Commit[Any]
#: a work, its caller's future, the loop to run it on (``None``: the writer thread), and
#: whether it runs inside a savepoint of its own
Item = tuple[Waiter, Work, asyncio.AbstractEventLoop | None, bool]
#: a work to run in the open transaction: its future, the work, whether in a savepoint
Entry = tuple[Waiter, Work, bool]
Outcomes = list[tuple[Waiter, Any, BaseException | None]]

__all__ = ["Commit", "CommitQueue"]

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
        loop_patience: float = 0.1,
        name: str = "tessera-commit",
    ) -> None:
        self._connect = connect
        self._lock_path = lock_path
        self._translate = translate
        self._max_batch = max_batch
        self._loop_patience = loop_patience
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(
        self, work: Callable[[sqlite3.Connection], T], *, savepoint: bool = True
    ) -> Future[T]:
        """Queue ``work`` to run on the writer thread. ``savepoint=False``: the work changes
        nothing when it raises (a single statement, say, or one that takes its own savepoint
        when it needs one), so it runs without a savepoint of its own."""
        future: Future[T] = Future()
        self._put((future, work, None, savepoint))
        return future

    def submit_here(
        self, work: Callable[[sqlite3.Connection], T], *, savepoint: bool = True
    ) -> Commit[T]:
        """Queue ``work`` to run on the event loop running in this thread, when the writer
        hands it the open transaction. For small works only: the loop waits while they run.
        ``savepoint`` as for ``submit``."""
        loop = asyncio.get_running_loop()
        commit: Commit[T] = Commit(loop=loop)
        self._put((commit, work, loop, savepoint))
        return commit

    def _put(self, item: Item) -> None:
        with self._lock:
            if self._closed:
                raise InternalError("the store is closed")
            self._queue.put(item)

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
            batch: list[Item] = []
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
            live = [entry for entry in batch if _wanted(entry[0])]
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
                _resolve([(future, None, error) for future, *_ in live])
        if conn is not None:
            conn.close()
        if turn is not None:
            os.close(turn)

    def _apply(self, conn: sqlite3.Connection, batch: list[Item]) -> Outcomes:
        """Run the batch in one transaction (each loop's works on that loop, the others
        here); each work's result or error, once committed."""
        here: list[Entry] = []
        by_loop: dict[asyncio.AbstractEventLoop, list[Entry]] = {}
        for future, work, loop, savepoint in batch:
            entry = (future, work, savepoint)
            (here if loop is None else by_loop.setdefault(loop, [])).append(entry)
        outcomes: Outcomes = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for loop, works in by_loop.items():
                outcomes += self._apply_on(loop, conn, works)
            outcomes += self._apply_works(conn, works=here)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    def _apply_on(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: sqlite3.Connection,
        works: list[Entry],
    ) -> Outcomes:
        """Lend the connection to ``loop`` to run ``works``; run them here if it is closed or
        does not start within ``loop_patience``."""
        loan = _Loan(lambda: self._apply_works(conn, works))
        try:
            loop.call_soon_threadsafe(loan.on_loop)
            waiting = True
        except RuntimeError:  # the loop is closed: nothing will call back
            waiting = False
        if not (waiting and loan.finished.wait(self._loop_patience)) and loan.take():
            loan.apply()
        loan.finished.wait()
        return loan.result()

    def _apply_works(self, conn: sqlite3.Connection, works: list[Entry]) -> Outcomes:
        """Each work in the open transaction, inside its own savepoint unless it needs none.
        A transaction SQLite has rolled back by itself (a full disk, say) fails them all."""
        outcomes: Outcomes = []
        for future, work, savepoint in works:
            if savepoint:
                conn.execute("SAVEPOINT work")
            try:
                result = work(conn)
            except Exception as exc:
                if not conn.in_transaction:
                    raise
                if savepoint:
                    conn.execute("ROLLBACK TO work")
                    conn.execute("RELEASE work")
                outcomes.append((future, None, self._translate(exc)))
            else:
                if savepoint:
                    conn.execute("RELEASE work")
                outcomes.append((future, result, None))
        return outcomes


class _Loan:
    """The writer's connection lent to a loop for one batch: taken once, by the loop (its
    callback) or by the writer (out of patience), so the two never use it together."""

    def __init__(self, apply: Callable[[], Outcomes]) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._taken = False
        self._outcomes: Outcomes = []
        self._error: BaseException | None = None
        self.finished = threading.Event()

    def take(self) -> bool:
        with self._lock:
            if self._taken:
                return False
            self._taken = True
            return True

    def on_loop(self) -> None:
        if self.take():
            self.apply()

    def apply(self) -> None:
        try:
            self._outcomes = self._apply()
        except BaseException as exc:  # the connection failed: the writer fails the batch
            self._error = exc
        finally:
            self.finished.set()

    def result(self) -> Outcomes:
        if self._error is not None:
            raise self._error
        return self._outcomes


def _wanted(future: Waiter) -> bool:
    """Whether to run a work: a thread's future may have been cancelled while queued (it is
    marked running otherwise); a loop's ``Commit`` cannot be."""
    return isinstance(future, Commit) or future.set_running_or_notify_cancel()


def _resolve(outcomes: Outcomes) -> None:
    """Resolve threads' futures here, and each loop's ``Commit`` futures on their loop, in one
    callback per loop (a closed loop has nobody left to tell)."""
    by_loop: dict[asyncio.AbstractEventLoop, Outcomes] = {}
    for outcome in outcomes:
        future = outcome[0]
        if isinstance(future, Commit):
            by_loop.setdefault(future.get_loop(), []).append(outcome)
        else:
            _settle_one(outcome)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: Outcomes) -> None:
    for outcome in outcomes:
        _settle_one(outcome)


def _settle_one(outcome: tuple[Waiter, Any, BaseException | None]) -> None:
    future, result, error = outcome
    if future.done():  # a batch failing after some of its outcomes were delivered
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
