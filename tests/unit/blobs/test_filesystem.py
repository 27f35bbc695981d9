"""tessera.blobs.filesystem: layout, the durable commit sequence, failures, flat memory."""

from __future__ import annotations

import errno
import gc
import os
import resource
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tessera.blobs import BlobError, BlobRef, FilesystemBlobStore, crc64, crc64_concat

MIB = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FilesystemBlobStore]:
    opened = FilesystemBlobStore(tmp_path / "data")
    try:
        yield opened
    finally:
        opened.close()


def temp_files(store: FilesystemBlobStore) -> list[str]:
    return sorted(os.listdir(store.tmp_dir))


def blob_files(store: FilesystemBlobStore) -> list[Path]:
    return sorted(p for p in store.blobs_dir.rglob("*") if p.is_file())


def test_layout_temp_then_shard(store: FilesystemBlobStore) -> None:
    writer = store.open_writer()
    writer.write(b"body")
    assert temp_files(store) == [f"{writer.blob_id}.tmp"]
    ref = writer.commit()
    assert temp_files(store) == []
    path = store.root / "blobs" / ref.blob_id[:2] / ref.blob_id
    assert blob_files(store) == [path]
    assert path.read_bytes() == b"body"
    assert store.local_path(ref.blob_id) == str(path)
    assert (path.stat().st_mode & 0o777) == 0o600


def test_commit_is_fsync_rename_then_directory_fsync(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        events.append("fsync dir" if os.path.isdir(target) else "fsync file")
        real_fsync(fd)

    def rename(src: Any, dst: Any) -> None:
        events.append("rename")
        real_rename(src, dst)

    writer = store.open_writer()
    writer.write(b"x")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    ref = writer.commit()
    assert events == ["fsync file", "rename", "fsync dir"]
    assert store.exists(ref.blob_id)


@pytest.mark.parametrize("failing", ["fsync", "rename"])
def test_a_failed_commit_leaves_nothing(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    writer = store.open_writer()
    writer.write(b"x")

    def broken(*args: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(BlobError, match="I/O error"):
        writer.commit()
    monkeypatch.undo()
    assert temp_files(store) == []
    assert blob_files(store) == []


def test_a_full_disk_aborts_the_write(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = store.open_writer()

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(BlobError, match="No space"):
        writer.write(b"x")
    monkeypatch.undo()
    assert temp_files(store) == []
    with pytest.raises(BlobError):
        writer.commit()


def test_a_dropped_writer_removes_its_temp_file(store: FilesystemBlobStore) -> None:
    writer = store.open_writer()
    writer.write(b"x")
    del writer
    gc.collect()
    assert temp_files(store) == []


def test_blobs_survive_reopening(store: FilesystemBlobStore) -> None:
    with store.open_writer() as writer:
        writer.write(b"persisted")
        ref = writer.commit()
    again = FilesystemBlobStore(store.root)
    assert b"".join(again.open_range(ref.blob_id)) == b"persisted"
    again.close()


def test_sweep_leaves_files_it_does_not_own(store: FilesystemBlobStore) -> None:
    foreign = store.blobs_dir / "ab" / "README"
    foreign.write_bytes(b"not a blob")
    (store.tmp_dir / "notes.txt").write_bytes(b"not a temp write")
    (store.tmp_dir / f"{'0' * 32}.tmp").write_bytes(b"interrupted")
    assert store.sweep_orphans(lambda blob_id: False) == 1
    assert foreign.exists()
    assert (store.tmp_dir / "notes.txt").exists()


def test_compose_falls_back_when_the_kernel_cannot_copy(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = []
    for piece in (b"a" * 3 * MIB, b"b" * 1000):
        with store.open_writer() as writer:
            writer.write(piece)
            parts.append(writer.commit())

    def no_copy(*args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", no_copy)
    whole = store.compose(parts)
    assert store.size(whole.blob_id) == 3 * MIB + 1000
    assert whole.crc64 == crc64(b"a" * 3 * MIB + b"b" * 1000)
    assert temp_files(store) == []


def _peak_during(action: Callable[[], object]) -> tuple[int, int]:
    """Peak Python allocation (tracemalloc) and growth of the process's peak RSS, in bytes."""
    gc.collect()
    hwm_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    hwm_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak, hwm_after - hwm_before


def test_memory_stays_flat_for_a_large_blob(store: FilesystemBlobStore) -> None:
    size = 256 * MIB
    chunk = os.urandom(MIB)
    refs: list[BlobRef] = []

    def write() -> None:
        with store.open_writer() as writer:
            for _ in range(size // MIB):
                writer.write(chunk)
            refs.append(writer.commit())

    def read() -> None:
        total = sum(len(piece) for piece in store.open_range(refs[0].blob_id))
        assert total == size

    for action in (write, read):
        traced, rss_growth = _peak_during(action)
        assert traced < 4 * MIB, f"{action.__name__}: {traced} bytes allocated at peak"
        assert rss_growth < 32 * MIB, f"{action.__name__}: peak RSS grew by {rss_growth} bytes"
    assert refs[0].size == size
    assert refs[0].crc64 == crc64_concat([(crc64(chunk), MIB)] * (size // MIB))
