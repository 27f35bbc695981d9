"""tessera.store.commit_queue: group commit on one SQLite file.

Works are plain ``work(conn)`` closures on a scratch table. To queue several works behind one
another deterministically, a first work (``Gate``) holds the writer thread until the test
releases it; everything submitted meanwhile is waiting when the writer comes round again. The
SQL trace of the writer's connection (``set_trace_callback`` through the ``connect`` function)
shows how many transactions ran; a second connection shows what was committed.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tessera.errors import AlreadyExists, InternalError, TesseraError
from tessera.store.commit_queue import Commit, CommitQueue
from tessera.store.oss_base import Bucket, MultipartUpload, ObjectMeta, Part
from tessera.store.oss_sqlite import SqliteOssStore, open_sqlite_oss_store
from tessera.store.sqlite import as_tessera_error

WAIT = 30.0  # upper bound for an event that must come; never reached when all is well
_names = itertools.count()

SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE parents (id INTEGER PRIMARY KEY);
CREATE TABLE bodies (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE children (
    id INTEGER PRIMARY KEY,
    parent INTEGER NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED
);
"""


class Writer:
    """The ``connect`` function of a queue: connections in autocommit mode (the queue issues
    BEGIN/COMMIT itself), every statement traced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.statements: list[str] = []
        self.traced: list[tuple[str, int]] = []  # each statement and the thread it ran on
        self.connections: list[sqlite3.Connection] = []

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.set_trace_callback(self._trace)
        self.connections.append(conn)
        return conn

    def _trace(self, statement: str) -> None:
        self.statements.append(statement)
        self.traced.append((statement, threading.get_ident()))

    def clear(self) -> None:
        self.statements.clear()
        self.traced.clear()

    def count(self, statement: str) -> int:
        return sum(1 for s in self.statements if s.strip().upper() == statement)

    def ran_on(self, statement: str) -> list[int]:
        """The threads ``statement`` ran on, in order."""
        return [t for s, t in self.traced if s.strip().upper() == statement]


class Gate:
    """A work that holds the writer thread (inside its transaction) until ``open``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def work(self, conn: sqlite3.Connection) -> str:
        self.entered.set()
        assert self.opened.wait(WAIT), "the test never opened the gate"
        return "gate"

    def hold(self, queue: CommitQueue) -> Future[str]:
        future = queue.submit(self.work)
        assert self.entered.wait(WAIT), "the writer never ran the gate"
        return future

    def open(self) -> None:
        self.opened.set()


def insert(name: str) -> Callable[[sqlite3.Connection], str]:
    def work(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
        return name

    return work


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "queue.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    conn.close()
    return path


@pytest.fixture
def writer(db: Path) -> Writer:
    return Writer(db)


def thread_name() -> str:
    return f"test-commit-{next(_names)}"


def open_queue(writer: Writer, **options: Any) -> CommitQueue:
    """A queue on the test database as the SQLite stores open theirs: a turn to take between
    processes, and the write-ahead log's path (loops sync it after their commits)."""
    options.setdefault("lock_path", f"{writer.path}-commit.lock")
    options.setdefault("log_path", f"{writer.path}-wal")
    return CommitQueue(writer.connect, as_tessera_error, name=thread_name(), **options)


@pytest.fixture
def queue(writer: Writer) -> Iterator[CommitQueue]:
    opened = open_queue(writer)
    try:
        yield opened
    finally:
        opened.close()


@contextmanager
def turn_held_elsewhere(writer: Writer) -> Iterator[Callable[[], None]]:
    """The turn taken by another process's writer (another descriptor of the lock file);
    yields the function that gives it back."""
    other = os.open(f"{writer.path}-commit.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        yield lambda: fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)


def committed(db: Path) -> set[str]:
    """The item names a separate connection sees."""
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM items")}
    finally:
        conn.close()


def held(gate: Gate, queue: CommitQueue, works: list[Callable[[sqlite3.Connection], Any]]) -> Any:
    """Submit ``works`` while the writer is held by ``gate``, then release it: the works are
    all waiting together when the writer comes round."""
    gate_future = gate.hold(queue)
    try:
        futures = [queue.submit(work) for work in works]
    finally:
        gate.open()
    assert gate_future.result(WAIT) == "gate"
    return futures


# ---- batching --------------------------------------------------------------------------------


def test_works_queued_together_share_one_transaction(writer: Writer, queue: CommitQueue) -> None:
    names = [f"n{i}" for i in range(20)]
    gate = Gate()
    gate_future = gate.hold(queue)
    writer.statements.clear()  # from here: the gate's end, then whatever follows
    futures = [queue.submit(insert(name)) for name in names]
    gate.open()
    assert [f.result(WAIT) for f in futures] == names
    assert gate_future.result(WAIT) == "gate"
    assert writer.count("COMMIT") == 2  # the gate's transaction, then one for all twenty
    assert writer.count("BEGIN IMMEDIATE") == 1
    assert writer.count("SAVEPOINT WORK") == 20
    assert committed(writer.path) == set(names)


def test_a_batch_holds_at_most_max_batch_works(writer: Writer) -> None:
    queue = CommitQueue(writer.connect, as_tessera_error, max_batch=8, name=thread_name())
    try:
        gate = Gate()
        gate.hold(queue)
        writer.statements.clear()
        futures = [queue.submit(insert(f"n{i}")) for i in range(20)]
        gate.open()
        assert [f.result(WAIT) for f in futures] == [f"n{i}" for i in range(20)]
        assert writer.count("BEGIN IMMEDIATE") == 3  # 8 + 8 + 4
        assert writer.count("COMMIT") == 4  # and the gate's
    finally:
        queue.close()


# ---- failures ----------------------------------------------------------------------------------


def test_a_raising_work_rolls_back_alone(writer: Writer, queue: CommitQueue) -> None:
    def insert_then_raise(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO items (name) VALUES ('b')")
        conn.execute("INSERT INTO items (name) VALUES ('b2')")
        raise ValueError("boom")

    def missing_table(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO items (name) VALUES ('f')")
        conn.execute("SELECT * FROM no_such_table")
        return "unreachable"

    works: list[Callable[[sqlite3.Connection], Any]] = [
        insert("a"),
        insert_then_raise,
        insert("c"),
        insert("a"),  # UNIQUE violation: 'a' was inserted by the first work of this batch
        missing_table,
        insert("e"),
    ]
    commits_before = writer.count("COMMIT")
    futures = held(Gate(), queue, works)
    assert futures[0].result(WAIT) == "a"
    with pytest.raises(ValueError, match="boom"):
        futures[1].result(WAIT)
    assert futures[2].result(WAIT) == "c"
    with pytest.raises(AlreadyExists):
        futures[3].result(WAIT)
    with pytest.raises(InternalError) as internal:
        futures[4].result(WAIT)
    assert not isinstance(internal.value, sqlite3.Error)
    assert futures[5].result(WAIT) == "e"
    assert committed(writer.path) == {"a", "c", "e"}
    assert writer.count("COMMIT") - commits_before == 2  # the gate's batch and this one


def test_sqlite_errors_reach_the_caller_as_tessera_errors(queue: CommitQueue) -> None:
    assert queue.submit(insert("dup")).result(WAIT) == "dup"
    with pytest.raises(AlreadyExists) as caught:
        queue.submit(insert("dup")).result(WAIT)
    assert isinstance(caught.value, TesseraError)
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)


def test_a_failed_commit_fails_every_work_of_its_batch(writer: Writer, queue: CommitQueue) -> None:
    def orphan_child(conn: sqlite3.Connection) -> str:
        # a deferred foreign key: accepted now, refused by the COMMIT
        conn.execute("INSERT INTO children (id, parent) VALUES (1, 999)")
        return "child"

    futures = held(Gate(), queue, [insert("a"), orphan_child, insert("c")])
    for future in futures:
        with pytest.raises(InternalError):
            future.result(WAIT)
    assert committed(writer.path) == set()
    conn = sqlite3.connect(writer.path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM children").fetchone()[0] == 0
    finally:
        conn.close()
    # the writer recovers: the next batch commits
    assert queue.submit(insert("after")).result(WAIT) == "after"
    assert committed(writer.path) == {"after"}


def test_a_failed_connect_fails_the_batch_and_is_retried(writer: Writer) -> None:
    attempts: list[int] = []

    def connect() -> sqlite3.Connection:
        attempts.append(1)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("unable to open database file")
        return writer.connect()

    queue = CommitQueue(connect, as_tessera_error, name=thread_name())
    try:
        with pytest.raises(InternalError):
            queue.submit(insert("first")).result(WAIT)
        assert queue.submit(insert("second")).result(WAIT) == "second"
    finally:
        queue.close()
    assert committed(writer.path) == {"second"}
    assert len(attempts) == 2


def try_lock(path: Path) -> bool:
    """Whether another open file description can take the exclusive flock of ``path`` now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_the_writer_holds_the_commit_lock_while_it_applies_a_batch(
    writer: Writer, tmp_path: Path
) -> None:
    lock = tmp_path / "queue.db-commit.lock"
    queue = CommitQueue(writer.connect, as_tessera_error, lock_path=str(lock), name=thread_name())
    try:
        assert queue.submit(lambda conn: try_lock(lock)).result(WAIT) is False  # held: a turn

        def orphan_child(conn: sqlite3.Connection) -> bool:
            conn.execute("INSERT INTO children (id, parent) VALUES (1, 999)")
            return try_lock(lock)

        with pytest.raises(InternalError):  # the COMMIT fails ...
            queue.submit(orphan_child).result(WAIT)
        assert try_lock(lock)  # ... and the turn is given back all the same
        # submitted during another holder's turn: it commits once that turn ends
        held_fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(held_fd, fcntl.LOCK_EX)
            waiting = queue.submit(insert("after"))
        finally:
            fcntl.flock(held_fd, fcntl.LOCK_UN)
            os.close(held_fd)
        assert waiting.result(WAIT) == "after"
        assert try_lock(lock)
    finally:
        queue.close()
    assert committed(writer.path) == {"after"}


def test_a_work_without_a_savepoint_runs_bare_and_fails_alone(
    writer: Writer, queue: CommitQueue
) -> None:
    """``savepoint=False``: no SAVEPOINT around the work; its error reaches its caller only
    (it changed nothing: a statement SQLite refused is undone by SQLite), the others commit."""

    def duplicate(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO items (name) VALUES ('a')")  # refused: 'a' exists
        return "never"

    gate = Gate()
    gate_future = gate.hold(queue)
    writer.statements.clear()
    first = queue.submit(insert("a"), savepoint=False)
    refused = queue.submit(duplicate, savepoint=False)
    last = queue.submit(insert("b"))
    gate.open()
    assert gate_future.result(WAIT) == "gate"
    assert first.result(WAIT) == "a" and last.result(WAIT) == "b"
    with pytest.raises(TesseraError):
        refused.result(WAIT)
    assert writer.count("SAVEPOINT WORK") == 1  # the last work's only
    assert committed(writer.path) == {"a", "b"}


def test_a_work_that_loses_the_transaction_fails_the_batch(
    writer: Writer, queue: CommitQueue
) -> None:
    """If the transaction is gone when a work raises (SQLite rolls it back by itself on a
    full disk, say; here the work does), no later work may run outside it: the batch fails."""

    def lose_it(conn: sqlite3.Connection) -> str:
        conn.execute("ROLLBACK")
        raise sqlite3.OperationalError("database or disk is full")

    gate = Gate()
    gate_future = gate.hold(queue)
    before = queue.submit(insert("before"), savepoint=False)
    losing = queue.submit(lose_it, savepoint=False)
    after = queue.submit(insert("after"), savepoint=False)
    gate.open()
    assert gate_future.result(WAIT) == "gate"  # the batch before
    for future in (before, losing, after):
        with pytest.raises(TesseraError):
            future.result(WAIT)
    assert committed(writer.path) == set()
    assert queue.submit(insert("next")).result(WAIT) == "next"  # the writer goes on


# ---- works run on an event loop (submit_here) -------------------------------------------------


def insert_noting_thread(name: str, threads: dict[str, int]) -> Callable[[sqlite3.Connection], str]:
    def work(conn: sqlite3.Connection) -> str:
        threads[name] = threading.get_ident()
        conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
        return name

    return work


def test_loop_works_are_committed_by_their_loop(writer: Writer, queue: CommitQueue) -> None:
    """Works a loop submits in one pass run on that loop's thread, in one transaction it
    begins and commits; a raising one rolls back alone; a thread's work goes to the writer."""
    threads: dict[str, int] = {}

    def boom(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO items (name) VALUES ('boom')")
        raise ValueError("boom")

    async def main() -> tuple[int, list[Any]]:
        writer.clear()
        on_loop = [queue.submit_here(insert_noting_thread(name, threads)) for name in ("l1", "l2")]
        raising = queue.submit_here(boom)
        on_writer = queue.submit(insert_noting_thread("w1", threads))
        results = [await f for f in on_loop] + [await asyncio.wrap_future(on_writer)]
        with pytest.raises(ValueError, match="boom"):
            await raising
        return threading.get_ident(), results

    loop_thread, results = asyncio.run(main())
    writer_thread = queue._thread.ident
    assert results == ["l1", "l2", "w1"]
    assert threads["l1"] == threads["l2"] == loop_thread
    assert threads["w1"] == writer_thread
    # both loop works in one transaction of the loop's (the writer may also have waited for
    # the turn on the loop's behalf, if the loop found it taken by the writer's own work)
    assert writer.ran_on("BEGIN IMMEDIATE").count(loop_thread) == 1
    assert writer.ran_on("COMMIT").count(loop_thread) == 1
    assert committed(writer.path) == {"l1", "l2", "w1"}


class Watch:
    """A ``CommitWatch`` that numbers the transactions it is told of, and checks at ``begin``
    that no other connection could commit then (SQLite's write lock is held)."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.begun = 0
        self.committed_as: list[tuple[object, bool]] = []

    def begin(self) -> object:
        other = sqlite3.connect(self.writer.path, isolation_level=None, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
        self.begun += 1
        return self.begun

    def committed(self, before: object, kept: bool) -> None:
        self.committed_as.append((before, kept))


def test_the_watch_is_told_of_each_commit_and_whether_every_work_kept_the_watched(
    writer: Writer,
) -> None:
    watch = Watch(writer)
    queue = open_queue(writer, watch=watch)

    async def main() -> None:
        first = [queue.submit_here(insert(n), keeps_watched=True) for n in ("k1", "k2")]
        for each in first:
            await each
        mixed = [
            queue.submit_here(insert("k3"), keeps_watched=True),
            queue.submit_here(insert("x")),
        ]
        for each in mixed:
            await each

    try:
        asyncio.run(main())
        queue.submit(insert("t1"), keeps_watched=True).result(WAIT)
        queue.submit(insert("t2")).result(WAIT)
    finally:
        queue.close()
    # the loop's two transactions, then the writer's two, each reported after its COMMIT
    assert watch.committed_as == [(1, True), (2, False), (3, True), (4, False)]
    assert committed(writer.path) == {"k1", "k2", "k3", "x", "t1", "t2"}


def test_a_loop_commit_is_reported_only_once_the_log_is_synced(
    writer: Writer, queue: CommitQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's connection commits without a sync (``synchronous = NORMAL``); the loop
    then fsyncs the ``-wal`` file itself, and only then resolves the works' futures."""
    synced: list[tuple[str, bool]] = []
    waiting: list[Commit[str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), any(f.done() for f in waiting)))
        real_fsync(fd)

    async def main() -> str:
        waiting.append(queue.submit_here(insert("l1")))
        monkeypatch.setattr(os, "fsync", fsync)
        return await waiting[0]

    assert asyncio.run(main()) == "l1"
    assert synced == [(f"{writer.path}-wal", False)]  # once, before anyone was told
    loop_connection = writer.connections[-1]
    assert loop_connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert loop_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    assert committed(writer.path) == {"l1"}


def test_a_commit_due_in_the_same_pass_shares_the_sync(
    writer: Writer, queue: CommitQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Works submitted after a commit, while its sync still waits for the loop's other ready
    callbacks, are committed next and covered by one fsync with it; the sync waits for one
    more commit at most."""
    syncs: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        syncs.append(fd)
        real_fsync(fd)

    async def main() -> list[str]:
        await queue.submit_here(insert("warm"))  # the loop's connection and log, opened
        monkeypatch.setattr(os, "fsync", fsync)
        loop = asyncio.get_running_loop()
        later: list[Commit[str]] = []
        first = queue.submit_here(insert("a"))  # its commit runs next, then schedules its sync
        loop.call_soon(lambda: later.append(queue.submit_here(insert("b"))))  # before that sync
        return [await first, await later[0]]

    assert asyncio.run(main()) == ["a", "b"]
    assert len(syncs) == 1
    assert writer.count("COMMIT") >= 3  # warm, a, b: two commits, one sync
    assert committed(writer.path) == {"warm", "a", "b"}


def test_a_failed_sync_tells_no_caller_its_write_is_stored(
    writer: Writer, queue: CommitQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log could not be made durable (EIO): the works committed but not synced are
    reported failed, never stored; the next commit syncs again."""

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    async def main() -> tuple[BaseException | None, str]:
        monkeypatch.setattr(os, "fsync", broken_fsync)
        failed: BaseException | None = None
        try:
            await queue.submit_here(insert("unsynced"))
        except Exception as exc:
            failed = exc
        monkeypatch.undo()
        return failed, await queue.submit_here(insert("synced"))

    failed, later = asyncio.run(main())
    assert isinstance(failed, TesseraError), failed
    assert later == "synced"


def test_a_busy_turn_keeps_the_loop_waiting_without_running_its_work(
    writer: Writer, queue: CommitQueue
) -> None:
    """Another process's writer holds the turn: the loop, which never waits for it, runs
    nothing; once the turn is free, the writer wakes the loop, which commits the work."""
    threads: dict[str, int] = {}

    async def main(give_back: Callable[[], None]) -> tuple[int, str]:
        commit = queue.submit_here(insert_noting_thread("late", threads))
        await asyncio.sleep(0.3)
        assert not commit.done() and "late" not in threads  # found it busy, ran nothing
        give_back()
        return threading.get_ident(), await commit

    with turn_held_elsewhere(writer) as give_back:
        loop_thread, result = asyncio.run(main(give_back))
    assert result == "late"
    assert threads["late"] == loop_thread
    assert committed(writer.path) == {"late"}


def test_a_stopped_loops_uncommitted_works_are_dropped(writer: Writer) -> None:
    """Works of a loop that stops while it waits for the turn are never committed: the loop
    alone could have told their callers. Nothing waits for them, closing included."""
    queue = open_queue(writer)
    loop = asyncio.new_event_loop()

    async def submit() -> Commit[str]:
        commit = queue.submit_here(insert("orphan"))
        await asyncio.sleep(0.1)  # the loop tries, finds the turn busy, waits for the writer
        return commit

    with turn_held_elsewhere(writer) as give_back:
        commit = loop.run_until_complete(submit())
        loop.close()
        give_back()
    assert queue.submit(insert("after")).result(WAIT) == "after"  # the writer goes on
    queue.close()
    assert not commit.done()
    assert committed(writer.path) == {"after"}


def test_a_commit_outlives_the_cancellation_of_its_awaiter(
    writer: Writer, queue: CommitQueue
) -> None:
    """A task cancelled while it awaits a Commit is cancelled only once the commit is
    delivered (the work may be committed already), and can read its outcome."""

    async def main(give_back: Callable[[], None]) -> tuple[bool, str]:
        commit = queue.submit_here(insert("kept"))

        async def awaiter() -> str:
            return await commit

        task = asyncio.create_task(awaiter())
        await asyncio.sleep(0.05)
        assert not commit.cancel()
        task.cancel()
        await asyncio.sleep(0.05)
        still_waiting = not task.done()  # the cancellation waits for the commit
        give_back()
        with pytest.raises(asyncio.CancelledError):
            await task
        return still_waiting, commit.result()

    with turn_held_elsewhere(writer) as give_back:
        assert asyncio.run(main(give_back)) == (True, "kept")
    assert committed(writer.path) == {"kept"}


def test_a_connection_failure_on_the_loop_fails_its_whole_commit(
    writer: Writer, queue: CommitQueue
) -> None:
    """Not a work's own error: the loop's connection failing under its works (here its
    savepoints refused) fails every work of that commit; the next commit gets a fresh
    connection, and the writer's works are not concerned."""

    def break_savepoints(conn: sqlite3.Connection) -> str:
        def refuse(action: int, *_: object) -> int:
            return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_SAVEPOINT else sqlite3.SQLITE_OK

        conn.set_authorizer(refuse)
        return "armed"

    async def outcome(future: Future[str] | Commit[str]) -> str | BaseException:
        try:
            return await (future if isinstance(future, Commit) else asyncio.wrap_future(future))
        except Exception as exc:
            return exc

    async def main() -> tuple[list[str | BaseException], str]:
        futures = [
            queue.submit_here(break_savepoints),
            queue.submit_here(insert("l1")),
            queue.submit(insert("w1")),
        ]
        outcomes = [await outcome(f) for f in futures]
        return outcomes, await queue.submit_here(insert("l2"))

    outcomes, later = asyncio.run(main())
    assert [type(o) for o in outcomes[:2]] == [InternalError, InternalError], outcomes
    assert outcomes[2] == "w1" and later == "l2"
    assert committed(writer.path) == {"w1", "l2"}


def test_loop_commits_are_checkpointed_off_the_loop_every_so_many(writer: Writer) -> None:
    queue = open_queue(writer, checkpoint_every=3)

    async def main() -> int:
        for name in ("a", "b", "c", "d", "e", "f", "g"):
            await queue.submit_here(insert(name))
        return threading.get_ident()

    try:
        loop_thread = asyncio.run(main())
    finally:
        queue.close()
    passes = writer.ran_on("PRAGMA WAL_CHECKPOINT(PASSIVE)")
    assert len(passes) == 2 * 2 and loop_thread not in passes  # two checkpoints of two passes
    assert committed(writer.path) == set("abcdefg")


def checkpoints_run(writer: Writer, count: int) -> bool:
    """Whether ``count`` checkpoints have run, waiting up to ``WAIT`` seconds for them."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if writer.count("PRAGMA WAL_CHECKPOINT(PASSIVE)") >= count:
            return True
        pause.wait(0.01)
    return False


def test_a_checkpoint_catches_up_holding_the_turn(writer: Writer) -> None:
    """A checkpoint's first pass runs while commits go on; its second, which copies what
    they added meanwhile, holds the turn: while another process's writer has it, only the
    first has run; once it is given back, the second does."""
    queue = open_queue(writer, checkpoint_every=2)

    async def main() -> str:
        return await queue.submit_here(insert("a"))  # starts the checkpointer

    try:
        assert asyncio.run(main()) == "a"
        with turn_held_elsewhere(writer) as give_back:
            queue._committed_on_a_loop()  # the second loop commit: a checkpoint is due
            assert checkpoints_run(writer, 1)
            threading.Event().wait(0.3)
            assert writer.count("PRAGMA WAL_CHECKPOINT(PASSIVE)") == 1
            give_back()
            assert checkpoints_run(writer, 2)
    finally:
        queue.close()


def test_the_log_starts_over_under_steady_loop_commits(writer: Writer) -> None:
    """Loop commits that never pause leave the write-ahead log bounded: each checkpoint
    catches up with it, so SQLite starts it over instead of appending for ever."""
    queue = open_queue(writer, checkpoint_every=10)
    rows_per_task, tasks, size = 120, 16, 4000  # a body: about a page of the log

    def store(body: bytes) -> Callable[[sqlite3.Connection], None]:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO bodies (data) VALUES (?)", (body,))

        return work

    async def writes(task: int) -> None:
        for index in range(rows_per_task):
            await queue.submit_here(store(bytes([task, index]) * (size // 2)))

    async def main() -> None:
        await asyncio.gather(*(writes(task) for task in range(tasks)))

    try:
        asyncio.run(main())
        log_size = os.path.getsize(f"{writer.path}-wal")
    finally:
        queue.close()
    conn = sqlite3.connect(writer.path)
    try:
        assert conn.execute("SELECT count(*) FROM bodies").fetchone()[0] == rows_per_task * tasks
    finally:
        conn.close()
    written = rows_per_task * tasks * size
    assert log_size < written / 4, (log_size, written)


# ---- cancellation, visibility, close -----------------------------------------------------------


def test_a_cancelled_work_never_runs(writer: Writer, queue: CommitQueue) -> None:
    ran = threading.Event()

    def tracked(conn: sqlite3.Connection) -> str:
        ran.set()
        conn.execute("INSERT INTO items (name) VALUES ('cancelled')")
        return "cancelled"

    gate = Gate()
    gate_future = gate.hold(queue)
    try:
        assert not gate_future.cancel()  # running: too late to cancel
        doomed = queue.submit(tracked)
        assert doomed.cancel()
        after = queue.submit(insert("after"))
    finally:
        gate.open()
    assert after.result(WAIT) == "after"
    assert gate_future.result(WAIT) == "gate"
    assert doomed.cancelled()
    assert not ran.is_set()
    assert committed(writer.path) == {"after"}


def test_a_result_is_reported_only_once_committed(writer: Writer, queue: CommitQueue) -> None:
    reader = sqlite3.connect(writer.path, isolation_level=None)
    try:
        first, second = Gate(), Gate()
        first.hold(queue)
        try:
            written = queue.submit(insert("v"))
            queue.submit(second.work)  # same batch as ``written``, after it
        finally:
            first.open()
        try:
            assert second.entered.wait(WAIT)
            # ``written`` has run inside the open transaction: neither reported nor visible
            assert not written.done()
            assert reader.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
        finally:
            second.open()
        assert written.result(WAIT) == "v"
        assert [r[0] for r in reader.execute("SELECT name FROM items")] == ["v"]
    finally:
        reader.close()


def test_close_commits_queued_work_then_refuses_new_work(writer: Writer) -> None:
    name = thread_name()
    queue = CommitQueue(writer.connect, as_tessera_error, name=name)
    gate = Gate()
    gate_future = gate.hold(queue)
    names = [f"q{i}" for i in range(10)]
    queued = [queue.submit(insert(n)) for n in names]
    closer = threading.Thread(target=queue.close)
    closer.start()
    # submit until the queue refuses: every accepted work was queued before close's stop mark
    probes: list[Future[bool]] = []
    try:
        while True:
            try:
                probes.append(queue.submit(lambda conn: True))
            except InternalError:
                break
    finally:
        gate.open()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert gate_future.result(0) == "gate"
    assert [f.result(0) for f in queued] == names  # resolved by the time close() returned
    assert all(f.result(0) is True for f in probes)
    assert committed(writer.path) == set(names)
    with pytest.raises(InternalError):
        queue.submit(insert("late"))
    assert name not in {t.name for t in threading.enumerate()}
    for conn in writer.connections:  # the writer's connection is closed
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    queue.close()  # idempotent


def test_close_with_nothing_queued_stops_the_thread(writer: Writer) -> None:
    name = thread_name()
    queue = CommitQueue(writer.connect, as_tessera_error, name=name)
    assert name in {t.name for t in threading.enumerate()}
    queue.close()
    assert name not in {t.name for t in threading.enumerate()}
    assert writer.connections == []  # never connected: nothing was submitted
    with pytest.raises(InternalError):
        queue.submit(insert("x"))


# ---- SqliteConnections._submit: the store's queue ----------------------------------------------

BUCKET = Bucket("b", "1234567890123456", "cn-hangzhou", "2024-01-01T00:00:00Z")


def small_object(key: str, blob_id: str) -> ObjectMeta:
    return ObjectMeta(
        bucket="b",
        key=key,
        blob_id=blob_id,
        size=2,
        etag="E",
        crc64=1,
        last_modified="2024-01-01T00:00:00Z",
    )


async def put_from_a_loop(store: SqliteOssStore, meta: ObjectMeta) -> str | None:
    return await store.submit_put_object(meta, body=b"hi")


async def submit_from_a_loop(store: SqliteOssStore, meta: ObjectMeta) -> Commit[str | None]:
    return store.submit_put_object(meta, body=b"hi")


def test_store_writes_commit_through_its_queue(tmp_path: Path) -> None:
    """A PutObject from a loop is one statement in a transaction of the loop's own
    connection (``synchronous = NORMAL``: the loop syncs the log); the writer's connection
    and the readers' keep ``FULL``."""
    statements: list[str] = []
    store = open_sqlite_oss_store(tmp_path / "tessera.db", on_statement=statements.append)
    meta = small_object("k", "0" * 32)
    try:
        store.create_bucket(BUCKET)
        statements.clear()
        assert asyncio.run(put_from_a_loop(store, meta)) is None
        assert store.read_inline("0" * 32) == b"hi"
        # the loop's new connection, then a new key: one statement between BEGIN and COMMIT
        # (the trace repeats it for each statement of the view's trigger), no savepoint
        traced = [s.partition(" (")[0] for s in statements]
        begin, commit = traced.index("BEGIN IMMEDIATE"), traced.index("COMMIT")
        assert "PRAGMA synchronous = NORMAL" in traced[:begin]
        assert set(traced[begin + 1 : commit]) == {"INSERT INTO oss_new_objects"}
        writer_level = store._submit(lambda conn: conn.execute("PRAGMA synchronous").fetchone())
        assert writer_level.result(WAIT)[0] == 2  # FULL, on the writer's connection
        assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        store.close()
    with pytest.raises(InternalError):
        asyncio.run(put_from_a_loop(store, meta))


def test_a_put_submitted_from_the_event_loop_runs_its_statements_on_the_loop(
    tmp_path: Path,
) -> None:
    """PutObject of a small body awaits its commit on the loop: its statements run there (no
    GIL traded per statement with the writer); from any other thread, on the writer."""
    threads: dict[str, set[int]] = {}

    def note(statement: str) -> None:
        if "objects" in statement and "INSERT" in statement.upper():
            threads.setdefault(statement.split("'")[3], set()).add(threading.get_ident())

    store = open_sqlite_oss_store(tmp_path / "tessera.db", on_statement=note)
    try:
        store.create_bucket(BUCKET)

        async def put() -> int:
            pending = store.submit_put_object(small_object("from-loop", "2" * 32), body=b"hi")
            assert await pending is None
            return threading.get_ident()

        loop_thread = asyncio.run(put())
        store.put_object(small_object("from-thread", "3" * 32), body=b"hi")
        assert threads["from-loop"] == {loop_thread}
        assert threads["from-thread"] == {store._commits._thread.ident}  # type: ignore[union-attr]
        assert store.read_inline("2" * 32) == store.read_inline("3" * 32) == b"hi"
    finally:
        store.close()


def test_a_store_write_during_close_starts_no_new_writer(tmp_path: Path) -> None:
    """close() detaches the queue, then waits for it, then marks the store closed: a write
    submitted in between must be refused, not given a fresh writer thread nobody closes."""
    path = tmp_path / "tessera.db"
    store = open_sqlite_oss_store(path)
    store.create_bucket(BUCKET)
    gate = Gate()
    gate_future = store._submit(gate.work)
    assert gate.entered.wait(WAIT)
    closer = threading.Thread(target=store.close)
    late: Commit[str | None] | None = None
    try:
        closer.start()
        while store._commits is not None:  # close() has taken the queue and waits for it
            pass
        try:
            late = asyncio.run(submit_from_a_loop(store, small_object("late", "1" * 32)))
        except InternalError:
            late = None
    finally:
        gate.open()
        closer.join(WAIT)
        leaked = store._commits
        if leaked is not None:
            leaked.close()
    assert gate_future.result(0) == "gate"
    assert late is None, "a write submitted during close() ran on a new, never-closed writer"


def behind_a_held_batch(store: SqliteOssStore, write: Callable[[], object]) -> object:
    """Run ``write`` in another thread while a gate work holds the writer's batch open; it
    must still be waiting 0.3 s later, and finish once the gate opens."""
    gate = Gate()
    held_batch = store._submit(gate.work)
    assert gate.entered.wait(WAIT)
    done = threading.Event()
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(write())
        except Exception as exc:  # reported below, in the test's thread
            outcome.append(exc)
        done.set()

    threading.Thread(target=run).start()
    assert not done.wait(0.3)  # waits for the held batch (6 busy timeouts long)
    gate.open()
    assert held_batch.result(WAIT) == "gate"
    assert done.wait(WAIT)
    assert not isinstance(outcome[0], Exception), outcome[0]
    return outcome[0]


def test_every_oss_write_queues_behind_a_held_batch_instead_of_polling_the_lock(
    tmp_path: Path,
) -> None:
    """Bucket, ACL, delete and multipart writes go through the same queue as PutObject: while
    the writer holds a batch open they wait their turn. Through a transaction of their own,
    they would poll SQLite's write lock (its busy handler sleeps up to 100 ms a time) and, with
    this tiny busy timeout, fail with "database is locked"."""
    store = open_sqlite_oss_store(tmp_path / "tessera.db", busy_timeout=0.05)
    other = Bucket("other", "1234567890123456", "cn-hangzhou", "2024-01-01T00:00:00Z")
    try:
        store.create_bucket(BUCKET)
        store.put_object(small_object("k", "0" * 32), body=b"hi")
        upload = MultipartUpload("b", "big", "u1", "2024-01-01T00:00:00Z", "1234567890123456")
        dropped = MultipartUpload("b", "gone", "u2", "2024-01-01T00:00:00Z", "1234567890123456")
        part = Part("u1", 1, "1" * 32, 2, "E", 1, "2024-01-01T00:00:00Z")
        writes: list[Callable[[], object]] = [
            lambda: store.create_bucket(other),
            lambda: store.put_bucket_acl("b", "public-read"),
            lambda: store.put_bucket_policy("b", '{"Version":"1","Statement":[]}'),
            lambda: store.delete_bucket_policy("other"),
            lambda: store.put_object_acl("b", "k", "private"),
            lambda: store.create_upload(upload),
            lambda: store.create_upload(dropped),
            lambda: store.put_part("b", "big", part),
            lambda: store.complete_upload("u1", [part], small_object("big", "1" * 32)),
            lambda: store.abort_upload("b", "gone", "u2"),
            lambda: store.delete_objects("b", ["k", "big"]),
            lambda: store.delete_bucket("other"),
        ]
        outcomes = [behind_a_held_batch(store, write) for write in writes]
        # what each write returned: part and completion free nothing, the batch delete frees
        # the completed object's (file) blob; the small object's inline body went with it
        assert outcomes == [*[None] * 8, [], [], ["1" * 32], None]
        assert store.get_bucket("other") is None
        assert store.get_bucket("b") == replace(
            BUCKET, acl="public-read", policy='{"Version":"1","Statement":[]}'
        )
        assert store.read_inline("0" * 32) is None
        assert store.get_upload("b", "gone", "u2") is None
    finally:
        store.close()
