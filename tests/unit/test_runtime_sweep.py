"""Only the serving process sweeps orphan blobs: an admin command beside a live server must
not remove the blob of a write that is still in flight."""

from __future__ import annotations

from pathlib import Path

from tessera.config import load_settings
from tessera.runtime import build_runtime


def _orphan(data_dir: Path) -> Path:
    runtime = build_runtime(load_settings(environ={}, overrides={"data_dir": data_dir}))
    try:
        writer = runtime.blobs.open_writer()
        writer.write(b"never referenced by any object")
        ref = writer.commit()
    finally:
        runtime.close()
    found = list((data_dir / "objects").rglob(ref.blob_id))
    assert len(found) == 1
    return found[0]


def test_admin_runtimes_leave_unreferenced_blobs_alone(tmp_path: Path) -> None:
    blob = _orphan(tmp_path)
    build_runtime(load_settings(environ={}, overrides={"data_dir": tmp_path})).close()
    assert blob.exists()


def test_the_serving_runtime_sweeps_them(tmp_path: Path) -> None:
    blob = _orphan(tmp_path)
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    build_runtime(settings, sweep_orphans=True).close()
    assert not blob.exists()


def test_the_database_files_are_private(tmp_path: Path) -> None:
    build_runtime(load_settings(environ={}, overrides={"data_dir": tmp_path})).close()
    files = list(tmp_path.glob("tessera.db*"))
    assert files
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, path
