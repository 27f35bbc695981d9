"""Guards taken before a server starts listening.

Owns: refusing to start when the address is already served (granian binds with
``SO_REUSEPORT``, so a second server on a busy port would start silently and the kernel would
split the connections between the two) and when another ``tessera serve`` owns the data
directory (its start-up sweep would delete the blobs of the other server's writes in flight).
Must not: bind the real listener; granian does that.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

__all__ = ["AddressInUse", "DataDirInUse", "ensure_port_free", "lock_data_dir"]

LOCK_FILE = "serve.lock"


class AddressInUse(RuntimeError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"{host}:{port} is already in use by another process")


class DataDirInUse(RuntimeError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"another tessera serve is using the data directory {path}")


def ensure_port_free(host: str, port: int) -> None:
    """Raise ``AddressInUse`` if something listens on ``host:port``. The probe binds without
    ``SO_REUSEPORT`` (so any listener conflicts) but with ``SO_REUSEADDR`` (so connections
    in TIME_WAIT from a previous run do not)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(host, port) from None
            raise


def lock_data_dir(path: Path) -> int:
    """Hold an exclusive lock on ``path/serve.lock`` for the life of the process; returns the
    descriptor (closing it releases the lock). Raises ``DataDirInUse`` if it is held."""
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            raise DataDirInUse(path) from None
        raise
    with contextlib.suppress(OSError):
        os.set_inheritable(fd, False)
    return fd
