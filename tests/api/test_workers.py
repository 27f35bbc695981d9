"""``tessera serve --workers N``: several processes on one port and one data directory.

Each test starts its own server with two workers. What must hold: both processes serve
(connections are spread by the kernel), they share state (an object written through one is
read through the other; a ``SignatureNonce`` used at one is refused at the other), SIGTERM
stops them all cleanly, and a worker that dies takes the server down with exit code 1
instead of leaving half of it running.
"""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import oss2
import pytest

from tests.api.clients import ROOT, unique
from tests.api.conftest import FreshServer
from tests.api.rawrpc import RawRpc
from tests.api.test_oss_sdk import oss2_bucket
from tests.server import TesseraServer

WORKERS = ["--workers", "2"]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(part) for part in text.split()]


def _workers(server: TesseraServer, count: int = 2, timeout: float = 15.0) -> list[int]:
    """The worker pids (the multiprocessing spawn children; a resource tracker may be there
    too, but it never listens), once ``count`` of them serve."""
    assert server.process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            child
            for child in _children(server.process.pid)
            if b"--multiprocessing-fork" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{count} workers did not start:\n{server.log()}")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_both_workers_serve_and_share_the_data(fresh_server: FreshServer) -> None:
    server = fresh_server(extra_args=WORKERS)
    workers = _workers(server)
    before = {pid: _cpu_ticks(pid) for pid in workers}
    raw = RawRpc(server.endpoint)
    for _ in range(300):  # a new connection each: the kernel spreads them over both workers
        reply, _ = raw.v1(ROOT, "GetCallerIdentity")
        assert reply.status == 200, reply.body
    assert all(_cpu_ticks(pid) > before[pid] for pid in workers), "a worker served nothing"

    name = unique("workers")
    bucket = oss2_bucket(server, ROOT, name, True)
    bucket.create_bucket()
    payloads = {f"k{i}": os.urandom(100 + i) for i in range(20)}
    for key, data in payloads.items():
        bucket.put_object(key, data)
    for key, data in payloads.items():  # fresh clients: other connections, other workers
        assert oss2_bucket(server, ROOT, name, True).get_object(key).read() == data
    listing = oss2_bucket(server, ROOT, name, True).list_objects(max_keys=100)
    assert sorted(entry.key for entry in listing.object_list) == sorted(payloads)


def _anonymous_get(server: TesseraServer, bucket: str, key: str) -> int:
    """The HTTP status of an unsigned GET of ``bucket/key`` on a new connection."""
    connection = http.client.HTTPConnection(server.endpoint, timeout=30)
    try:
        connection.request("GET", f"/{bucket}/{key}")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_every_worker_reads_the_latest_write(fresh_server: FreshServer) -> None:
    """Each worker answers a repeated GetObject from its own read cache; a write through
    either worker must still be seen by the very next read through both."""
    server = fresh_server(extra_args=WORKERS)
    _workers(server)
    name = unique("latest")
    oss2_bucket(server, ROOT, name, True).create_bucket()
    for version in range(6):
        data = os.urandom(300) + bytes([version])
        oss2_bucket(server, ROOT, name, True).put_object("hot", data)
        for _ in range(8):  # new connections: both workers, each reading "hot" repeatedly
            assert oss2_bucket(server, ROOT, name, True).get_object("hot").read() == data
    oss2_bucket(server, ROOT, name, True).put_object_acl("hot", oss2.OBJECT_ACL_PUBLIC_READ)
    assert [_anonymous_get(server, name, "hot") for _ in range(8)] == [200] * 8
    oss2_bucket(server, ROOT, name, True).put_object_acl("hot", oss2.OBJECT_ACL_PRIVATE)
    assert [_anonymous_get(server, name, "hot") for _ in range(8)] == [403] * 8
    # the object inherits the bucket's ACL again: the bucket's changes decide
    oss2_bucket(server, ROOT, name, True).put_object_acl("hot", oss2.OBJECT_ACL_DEFAULT)
    oss2_bucket(server, ROOT, name, True).put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert [_anonymous_get(server, name, "hot") for _ in range(8)] == [200] * 8
    oss2_bucket(server, ROOT, name, True).put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    assert [_anonymous_get(server, name, "hot") for _ in range(8)] == [403] * 8
    oss2_bucket(server, ROOT, name, True).delete_object("hot")
    for _ in range(8):
        with pytest.raises(oss2.exceptions.NoSuchKey):
            oss2_bucket(server, ROOT, name, True).get_object("hot")


def test_a_replayed_nonce_is_refused_by_every_worker(fresh_server: FreshServer) -> None:
    server = fresh_server(extra_args=WORKERS)
    _workers(server)
    raw = RawRpc(server.endpoint)
    nonce = unique("nonce")
    statuses = []
    codes = []
    for _ in range(12):  # each on a new connection, so the replays reach both workers
        reply, _ = raw.v1(ROOT, "GetCallerIdentity", signature_nonce=nonce)
        statuses.append(reply.status)
        codes.append(reply.code)
    assert statuses[0] == 200
    assert statuses[1:] == [400] * 11
    assert codes[1:] == ["SignatureNonceUsed"] * 11


def test_sigterm_stops_every_worker(fresh_server: FreshServer) -> None:
    server = fresh_server(extra_args=WORKERS)
    workers = _workers(server)
    assert server.stop() == 0, server.log()
    assert not any(_alive(pid) for pid in workers)


def test_a_dead_worker_stops_the_whole_server(fresh_server: FreshServer) -> None:
    server = fresh_server(extra_args=WORKERS)
    first, second = _workers(server)
    os.kill(first, signal.SIGKILL)
    assert server.process is not None
    code = server.process.wait(timeout=30)
    assert code == 1, server.log()
    assert "(killed by SIGKILL) exited; stopping the others" in server.log()
    assert not _alive(second)
