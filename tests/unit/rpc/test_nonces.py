"""The two ``NonceGuard`` implementations: the in-process cache and the shared SQLite file."""

from __future__ import annotations

import contextlib
import multiprocessing
from pathlib import Path

import pytest

from tessera.errors import NonceReused
from tessera.rpc.nonces import NonceCache, SharedNonceStore

WINDOW = 900.0


def test_cache_refuses_a_pair_seen_within_twice_the_window() -> None:
    cache = NonceCache(WINDOW)
    cache.check_and_remember("AK1", "n", 1000.0)
    with pytest.raises(NonceReused):
        cache.check_and_remember("AK1", "n", 1000.0 + 2 * WINDOW - 1)
    cache.check_and_remember("AK2", "n", 1000.0)  # per AccessKeyId
    cache.check_and_remember("AK1", "n", 1000.0 + 2 * WINDOW + 1)  # forgotten after


def test_shared_store_refuses_a_replay_seen_by_another_instance(tmp_path: Path) -> None:
    path = tmp_path / "nonces.db"
    SharedNonceStore.reset(path)
    first, second = SharedNonceStore(path, WINDOW), SharedNonceStore(path, WINDOW)
    first.check_and_remember("AK1", "n", 1000.0)
    with pytest.raises(NonceReused):
        second.check_and_remember("AK1", "n", 1001.0)
    second.check_and_remember("AK2", "n", 1001.0)
    second.check_and_remember("AK1", "other", 1001.0)
    # after twice the window the pair is usable again, whether or not it was purged yet
    first.check_and_remember("AK1", "n", 1000.0 + 2 * WINDOW + 1)
    with pytest.raises(NonceReused):
        second.check_and_remember("AK1", "n", 1000.0 + 2 * WINDOW + 2)
    first.close()
    second.close()


def test_shared_store_purges_expired_rows(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "nonces.db"
    SharedNonceStore.reset(path)
    store = SharedNonceStore(path, WINDOW, purge_every=10)
    for index in range(9):
        store.check_and_remember("AK", f"old{index}", 0.0)
    store.check_and_remember("AK", "new", 10_000.0)  # the 10th insert purges the expired nine
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM nonces").fetchone()[0] == 1
    store.close()


def test_reset_forgets_everything_and_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "nonces.db"
    SharedNonceStore.reset(path)
    store = SharedNonceStore(path, WINDOW)
    store.check_and_remember("AK", "n", 1000.0)
    store.close()
    SharedNonceStore.reset(path)
    assert path.stat().st_mode & 0o777 == 0o600
    SharedNonceStore(path, WINDOW).check_and_remember("AK", "n", 1000.0)


def _claim(path: str, nonce: str, results: multiprocessing.Queue[bool]) -> None:
    store = SharedNonceStore(path, WINDOW)
    try:
        store.check_and_remember("AK", nonce, 1000.0)
        results.put(True)
    except NonceReused:
        results.put(False)


def test_exactly_one_process_wins_a_nonce(tmp_path: Path) -> None:
    path = tmp_path / "nonces.db"
    SharedNonceStore.reset(path)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[bool] = context.Queue()
    processes = [
        context.Process(target=_claim, args=(str(path), "contested", results)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    outcomes = sorted(results.get(timeout=5) for _ in processes)
    assert outcomes == [False, False, False, True]


def test_reset_prepares_the_file_so_no_worker_switches_its_journal_mode(tmp_path: Path) -> None:
    """Workers opening a new file at the same moment each switched it to WAL, and SQLite
    answers such a switch "database is locked" at once while another runs: a worker died at
    start (seen in CI). ``reset`` now leaves the file in WAL mode with its table."""
    import sqlite3

    path = tmp_path / "nonces.db"
    SharedNonceStore.reset(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM nonces").fetchone()[0] == 0
