"""Group commit for one SQLite file: queued write functions share transactions and fsyncs.

Owns: the writer thread with its own connection, the queue callers put ``work(conn) ->
result`` functions on, and the batching: whatever is waiting when the writer comes round (up
to ``max_batch``) runs in one ``BEGIN IMMEDIATE`` transaction, each function inside its own
``SAVEPOINT`` (unless it changes nothing when it raises: ``savepoint=False``), then one
``COMMIT`` — one WAL fsync for the whole batch. A function that raises rolls back to its
savepoint only; its caller gets the exception and the others still commit. A failed
``COMMIT`` fails every caller of the batch (none of their changes is stored).

Why: with a fsync per commit, small writes are bound by the disk's flush latency and by
threads queueing on SQLite's write lock (its busy handler sleeps); the same durability
costs one flush per batch here, and the write lock is taken once per batch. Between
processes (``serve --workers N``) the writers take turns on an ``flock`` of ``lock_path``
first, so a waiting writer wakes the moment the other commits instead of polling SQLite's
lock with sleeps of up to 100 ms.

Works submitted from an event loop with ``submit_here`` (small writes awaited on the loop)
are committed by that loop itself (``_LoopCommitter``): the works a loop submits while it
runs its ready callbacks are committed together in one callback it schedules, which takes
the turn and SQLite's write lock without waiting, runs them, commits without a sync
(``synchronous = NORMAL`` on the loop's own connection) and gives the turn back; a later
callback of the same loop fsyncs the write-ahead log and resolves their ``Commit`` futures
(after the loop's other ready callbacks: if those submitted works, whose commit comes next in
the same pass, one fsync covers both commits). What a caller is told is stored is on
disk, as with ``synchronous = FULL``; a reader may see a commit a moment before its sync. If
the turn or the lock is busy, the loop runs nothing: the writer thread waits for the turn
(committing nothing in it), then wakes the loop to try again. Checkpoints of the loops'
commits run on a thread of their own every ``checkpoint_every`` commits, the last of their
two passes holding the turn so that each one catches up with the log and the log starts over
(``_checkpoint_now_and_then``).

Why on the loop, sync included: any hand-off between the loop and another thread costs a
GIL hand-off, and the busy loop gives the GIL up rarely. Before, the writer took the turn,
lent its connection to the loop, waited for the loop to call back, then committed: ~1 ms a
batch, during which the loop sat idle a quarter of the time with all 16 requests of the
benchmark waiting for commits (PutObject throughput rose with more connections: 3,438 req/s
at 16, 3,813 at 32, 4,393 at 64). A syncer thread after a loop commit was no better (it
waited for the GIL twice per sync). Now the loop waits ~0.1-0.3 ms per batch for the fsync,
and nobody waits for the GIL (1 worker: +5% PUT throughput, -11% server CPU per PUT).

A store may pass a ``CommitWatch``, told of each transaction as it begins (write lock held)
and once it has committed, with whether every work in it promised to leave the watched rows
alone (``keeps_watched``): the OSS store keeps its remembered buckets across its own
PutObject commits that way.

Must not: know any table. Callers pass closures; ``sqlite3`` errors raised by them become
Tessera errors here (``translate_errors``), before their futures see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from tessera.errors import InternalError

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]


class Commit(asyncio.Future[T]):
    """The outcome of a work submitted from an event loop (``submit_here``), resolved on that
    loop once the transaction holding the work has committed and been synced, or has failed.

    It cannot be cancelled: the work may already be committed, so its outcome is always
    delivered. A task cancelled while awaiting one gets ``CancelledError`` when it resolves,
    and can still read the outcome (to free what the write released)."""

    def cancel(self, msg: Any | None = None) -> bool:
        return False


#: a caller's future: a thread's (``submit``) or a loop's (``submit_here``)
Waiter = Future[Any] | Commit[Any]
#: a work, its caller's future, whether it runs inside a savepoint of its own, and whether it
#: leaves alone what the queue's ``CommitWatch`` watches
Entry = tuple[Waiter, Work, bool, bool]


class CommitWatch(Protocol):
    """Told of every transaction the queue commits. ``begin`` is called once SQLite's write
    lock is held, before the works run: until the transaction ends no other connection can
    commit, so whatever changes in the file meanwhile is the transaction's own doing.
    ``committed`` follows its COMMIT with ``begin``'s answer, and ``kept`` true when every
    work in it was submitted with ``keeps_watched=True`` (the caller's promise that it changes
    none of what the watch cares for). A failed COMMIT is not reported."""

    def begin(self) -> object: ...

    def committed(self, before: object, kept: bool) -> None: ...


Outcomes = list[tuple[Waiter, Any, BaseException | None]]

__all__ = ["Commit", "CommitQueue", "CommitWatch"]

log = logging.getLogger("tessera.store")

_STOP = None


class CommitQueue:
    """``submit(work)`` → a future resolved after the transaction holding ``work`` commits."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        translate: Callable[[BaseException], BaseException],
        *,
        lock_path: str | None = None,
        log_path: str | None = None,
        max_batch: int = 128,
        checkpoint_every: int = 100,
        name: str = "tessera-commit",
        watch: CommitWatch | None = None,
    ) -> None:
        self._connect = connect
        self._watch = watch
        self._lock_path = lock_path
        self._log_path = log_path
        self._translate = translate
        self._max_batch = max_batch
        self._checkpoint_every = checkpoint_every
        self._name = name
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._checkpoints: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        self._loop_commits = 0
        self._committers: dict[asyncio.AbstractEventLoop, _LoopCommitter] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._checkpointer: threading.Thread | None = None  # with the first loop committer

    def submit(
        self,
        work: Callable[[sqlite3.Connection], T],
        *,
        savepoint: bool = True,
        keeps_watched: bool = False,
    ) -> Future[T]:
        """Queue ``work`` to run on the writer thread. ``savepoint=False``: the work changes
        nothing when it raises (a single statement, say, or one that takes its own savepoint
        when it needs one), so it runs without a savepoint of its own. ``keeps_watched``: it
        changes nothing the ``CommitWatch`` watches."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise InternalError("the store is closed")
            self._queue.put((future, work, savepoint, keeps_watched))
        return future

    def submit_here(
        self,
        work: Callable[[sqlite3.Connection], T],
        *,
        savepoint: bool = True,
        keeps_watched: bool = False,
    ) -> Commit[T]:
        """Have the event loop running in this thread commit ``work`` (with the other works
        it submits meanwhile) once it has run its ready callbacks. For small works only: the
        loop runs them and commits (without a sync) before it goes on. ``savepoint`` and
        ``keeps_watched`` as for ``submit``."""
        loop = asyncio.get_running_loop()
        commit: Commit[T] = Commit(loop=loop)
        committer = self._committers.get(loop)
        if committer is None:
            committer = self._committer_for(loop)
        committer.add((commit, work, savepoint, keeps_watched))
        return commit

    def _committer_for(self, loop: asyncio.AbstractEventLoop) -> _LoopCommitter:
        with self._lock:
            if self._closed:
                raise InternalError("the store is closed")
            if self._log_path is None:
                raise InternalError("loop commits need the write-ahead log's path")
            if self._checkpointer is None:
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_now_and_then, name=f"{self._name}-ckpt", daemon=True
                )
                self._checkpointer.start()
            committer = _LoopCommitter(self, loop)
            self._committers = {**self._committers, loop: committer}
            return committer

    def close(self) -> None:
        """Commit what is queued for the writer, then stop the threads. Works a loop has not
        committed yet are dropped: their loop, which alone could tell their callers, has
        stopped."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
            committers = list(self._committers.values())
        self._thread.join()
        for committer in committers:
            committer.close()
        if self._checkpointer is not None:
            self._checkpoints.put(_STOP)
            self._checkpointer.join()

    # ---- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        turn: int | None = None
        stopping = False
        while not stopping:
            batch: list[Entry] = []
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
                    turn = _open_turn(self._lock_path)
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
                _resolve([(entry[0], None, error) for entry in live])
        if conn is not None:
            conn.close()
        if turn is not None:
            os.close(turn)

    def _apply(self, conn: sqlite3.Connection, batch: list[Entry]) -> Outcomes:
        """Run the batch in one transaction; each work's result or error, once committed."""
        conn.execute("BEGIN IMMEDIATE")
        return self._apply_and_commit(conn, batch)

    def _apply_and_commit(self, conn: sqlite3.Connection, works: list[Entry]) -> Outcomes:
        """In the open transaction (SQLite's write lock held): run the works, then commit (or
        roll all back and raise), telling the watch."""
        watch = self._watch
        before = watch.begin() if watch is not None else None
        try:
            outcomes = self._apply_works(conn, works)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if watch is not None:
            watch.committed(before, all(entry[3] for entry in works))
        return outcomes

    def _apply_works(self, conn: sqlite3.Connection, works: list[Entry]) -> Outcomes:
        """Each work in the open transaction, inside its own savepoint unless it needs none.
        A transaction SQLite has rolled back by itself (a full disk, say) fails them all."""
        outcomes: Outcomes = []
        for future, work, savepoint, _ in works:
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

    # ---- the checkpointer thread ------------------------------------------------------------

    def _committed_on_a_loop(self) -> None:
        """Count a loop's commit; every ``checkpoint_every`` of them, wake the checkpointer."""
        self._loop_commits += 1
        if self._loop_commits % self._checkpoint_every == 0:
            self._checkpoints.put(True)

    def _checkpoint_now_and_then(self) -> None:
        """Checkpoints for the loops' connections (which never checkpoint inside a commit), on
        a connection of its own, the second of two passes holding the turn (``_checkpoint``):
        no commit lands during it, so the checkpoint copies the whole log and the next commit
        starts the log over from its beginning. A failure is logged, and the next one tries
        again.

        Why the turn: a checkpoint racing steady commits never caught up with them, and
        SQLite starts the log over only after one has. The log then grew without end
        (368 MB after 35k small PUTs) and every commit appended to new pages of the file,
        which the kernel allocated and zeroed: 13.5% of the loop's CPU went to ``pwrite``
        (perf). Held for a whole checkpoint of ``checkpoint_every`` commits, the turn gave
        PUT throughput +4-8% in one process, +9-13% with two (alternating runs, ``wrk
        -c16``), the log staying near 10 MB; held for the catching-up pass only, +1 to +8%
        more in one process (four alternating runs), the log staying at 11 MB."""
        conn: sqlite3.Connection | None = None
        turn: int | None = None
        while self._checkpoints.get() is not _STOP:
            try:
                if conn is None:
                    conn = self._connect()
                if turn is None and self._lock_path is not None:
                    turn = _open_turn(self._lock_path)
                _checkpoint(conn, turn)
            except Exception:
                log.warning("checkpoint of %s failed", self._log_path, exc_info=True)
        if conn is not None:
            conn.close()
        if turn is not None:
            os.close(turn)


class _LoopCommitter:
    """Commits the works one event loop submits, on that loop (see the module docstring).
    Everything but ``close`` runs on the loop's thread."""

    def __init__(self, queue: CommitQueue, loop: asyncio.AbstractEventLoop) -> None:
        self._queue = queue
        self._loop = loop
        self._pending: list[Entry] = []
        self._scheduled = False
        self._waiting_for_turn = False
        self._unsynced: Outcomes = []  # committed, their log not synced yet
        self._sync_scheduled = False
        self._deferred = False  # a sync left to the next commit of the same pass
        self._conn: sqlite3.Connection | None = None
        self._synced_at_commit = False  # a rollback journal: SQLite syncs at COMMIT itself
        self._log: int | None = None  # the write-ahead log, which the loop syncs
        self._turn: int | None = None  # its own descriptor: a turn apart from the writer's
        self._guard = threading.Lock()  # a commit in progress, against ``close``
        self._closed = False

    def add(self, entry: Entry) -> None:
        self._pending.append(entry)
        if not self._scheduled and not self._waiting_for_turn:
            self._scheduled = True
            self._loop.call_soon(self._commit)

    def _commit(self) -> None:
        """Commit every pending work now if the turn and SQLite's write lock are both free;
        else have the writer thread wait for the turn and call back. The sync follows in a
        callback of its own (``_sync_soon``)."""
        self._scheduled = False
        self._waiting_for_turn = False
        works, self._pending = self._pending, []
        if not works:
            self._sync_now()  # a sync left to this commit, which has nothing to add
            return
        with self._guard:
            if self._closed:
                _settle([(entry[0], None, InternalError("the store is closed")) for entry in works])
                self._sync_now()
                return
            try:
                outcomes = self._try(works)
            except BaseException as exc:  # the connection failed: a fresh one next time
                self._drop_connection()
                error = self._queue._translate(exc)
                _settle([(entry[0], None, error) for entry in works])
                self._sync_now()
                return
        if outcomes is None:  # busy: try again once the turn is free
            self._pending = works + self._pending
            self._sync_now()  # what is committed already is told now, not after the wait
            self._wait_for_turn()
            return
        if self._synced_at_commit:
            _settle(outcomes)
            return
        self._unsynced += outcomes
        self._queue._committed_on_a_loop()
        if not self._sync_scheduled:
            self._sync_scheduled = True
            self._loop.call_soon(self._sync_soon)

    def _sync_soon(self) -> None:
        """Sync the log and tell the committed works, after the loop's other ready callbacks:
        if those submitted more works, whose commit is due next in this pass, that commit's
        sync covers both (once: an answer waits for one more commit at most)."""
        self._sync_scheduled = False
        if self._scheduled and not self._deferred:
            self._deferred = True
            return
        self._sync_now()

    def _sync_now(self) -> None:
        outcomes, self._unsynced = self._unsynced, []
        self._deferred = False
        if not outcomes:
            return
        with self._guard:
            try:
                if self._closed:
                    raise OSError("the store is closed")
                self._sync_log()  # under the guard: ``close`` closes the descriptor
            except OSError:  # not known to be on disk: nobody is told it is stored
                log.exception("fsync of %s failed", self._queue._log_path)
                error = InternalError("the write-ahead log could not be synced")
                outcomes = [(future, None, error) for future, _, _ in outcomes]
        _settle(outcomes)

    def _sync_log(self) -> None:
        if self._log is None:
            assert self._queue._log_path is not None
            self._log = os.open(self._queue._log_path, os.O_RDONLY | os.O_CLOEXEC)
        os.fsync(self._log)

    def _try(self, works: list[Entry]) -> Outcomes | None:
        if self._conn is None:
            self._conn = self._open()
        conn = self._conn
        if self._turn is not None:
            try:
                fcntl.flock(self._turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                    return None  # a writer that takes no turn (the identity store's)
                raise
            return self._queue._apply_and_commit(conn, works)
        finally:
            if self._turn is not None:
                fcntl.flock(self._turn, fcntl.LOCK_UN)

    def _open(self) -> sqlite3.Connection:
        conn = self._queue._connect()
        # read with the connection's own busy timeout: a first read of the file can meet
        # another connection's brief lock (opening the wal-index, say)
        self._synced_at_commit = conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        if not self._synced_at_commit:
            # COMMIT writes the log without syncing it (the loop syncs it after, with the turn
            # given back) and never checkpoints (the checkpointer thread does, off the loop)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("PRAGMA busy_timeout = 0")  # from now on the loop never waits for a lock
        if self._queue._lock_path is not None and self._turn is None:
            self._turn = _open_turn(self._queue._lock_path)
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _wait_for_turn(self) -> None:
        """The writer takes the turn and SQLite's lock (waiting as long as they are busy),
        commits nothing, and gives them back; then this loop tries again."""
        self._waiting_for_turn = True
        try:
            waited = self._queue.submit(_nothing, savepoint=False, keeps_watched=True)
        except InternalError as exc:  # closed meanwhile
            self._waiting_for_turn = False
            works, self._pending = self._pending, []
            _settle([(entry[0], None, exc) for entry in works])
            return
        waited.add_done_callback(self._turn_came)

    def _turn_came(self, _: Future[None]) -> None:  # on the writer thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to commit for
            self._loop.call_soon_threadsafe(self._commit)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            self._drop_connection()
            for fd in (self._turn, self._log):
                if fd is not None:
                    os.close(fd)
            self._turn = self._log = None


def _checkpoint(conn: sqlite3.Connection, turn: int | None) -> None:
    """Copy the log into the database file in two passes: the first while commits go on,
    the second holding the turn (if any), to copy what they added meanwhile. PASSIVE: it
    never waits on SQLite's locks; a reader still on an old snapshot leaves the rest of the
    log for the next checkpoint.

    Why two: holding the turn for a whole checkpoint of 100 loop commits (~2,000 small PUTs)
    took 18 ms (median of 40), during which no commit landed and the loop, its requests all
    waiting for commits, sat idle: 8% of a run under ``wrk -c16``. The second pass copies
    only the commits of the first pass's few ms."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    if turn is None:  # no other writer to keep out: the one pass is the whole checkpoint
        return
    fcntl.flock(turn, fcntl.LOCK_EX)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        fcntl.flock(turn, fcntl.LOCK_UN)


def _nothing(conn: sqlite3.Connection) -> None:
    """The writer's work while it holds the turn for a loop that found it busy."""


def _open_turn(lock_path: str) -> int:
    return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


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
