"""``settle`` and ``free_when_committed``: a metadata write and the blob deletions it implies
finish together, even when the request that started them is cancelled (a client gone, a
shutdown). No server: the write is a function that waits for the test's signal in a worker
thread, which is exactly where a cancellation finds a real store write."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tessera.blobs import MemoryBlobStore
from tessera.errors import NotFound
from tessera.oss.exchange import free_when_committed, settle

WAIT = 10.0


def stored(blobs: MemoryBlobStore, data: bytes) -> str:
    with blobs.open_writer() as writer:
        writer.write(data)
        return writer.commit().blob_id


class HeldWrite:
    """A store write that starts, then waits for ``release`` before returning or raising."""

    def __init__(self, outcome: str | Exception | None) -> None:
        self.outcome = outcome
        self.started = threading.Event()
        self.released = threading.Event()
        self.finished = threading.Event()

    def __call__(self) -> str | None:
        self.started.set()
        assert self.released.wait(WAIT)
        self.finished.set()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def cancel_while_held(blobs: MemoryBlobStore, write: HeldWrite, adds: str) -> None:
    request = asyncio.ensure_future(settle(blobs, write, lambda old: [old], adds=adds))
    while not write.started.is_set():
        await asyncio.sleep(0.001)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    write.released.set()
    for _ in range(1000):  # the step goes on without its request
        if write.finished.is_set() and not asyncio.all_tasks() - {asyncio.current_task()}:
            break
        await asyncio.sleep(0.005)


def test_a_committed_write_frees_what_it_released_though_its_request_was_cancelled() -> None:
    blobs = MemoryBlobStore()
    old, new = stored(blobs, b"old version"), stored(blobs, b"new version")
    asyncio.run(cancel_while_held(blobs, HeldWrite(old), adds=new))
    assert not blobs.exists(old)  # released by the write: deleted
    assert blobs.exists(new)  # made live by the write: kept


def test_a_failed_write_removes_the_blob_it_would_have_made_live_though_cancelled() -> None:
    blobs = MemoryBlobStore()
    old, new = stored(blobs, b"old version"), stored(blobs, b"new version")
    asyncio.run(cancel_while_held(blobs, HeldWrite(NotFound("Bucket", "b")), adds=new))
    assert blobs.exists(old)
    assert not blobs.exists(new)


def test_settle_reports_the_result_and_the_error_of_its_write() -> None:
    blobs = MemoryBlobStore()
    old, new = stored(blobs, b"old"), stored(blobs, b"new")

    def freed_two() -> list[str | None]:
        return [old, None]

    def refused() -> str | None:
        raise NotFound("Upload", "u1")

    async def run() -> None:
        assert await settle(blobs, freed_two, lambda freed: freed) == [old, None]
        with pytest.raises(NotFound):
            await settle(blobs, refused, lambda released: [released], adds=new)

    asyncio.run(run())
    assert not blobs.exists(old)
    assert not blobs.exists(new)


@pytest.mark.parametrize("outcome", ["released", None, "error", "cancelled"])
def test_free_when_committed_deletes_only_a_released_blob(outcome: str | None) -> None:
    blobs = MemoryBlobStore()
    old = stored(blobs, b"old version")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[str | None] = loop.create_future()
        free_when_committed(blobs, pending)
        if outcome == "cancelled":
            pending.cancel()
        elif outcome == "error":
            pending.set_exception(RuntimeError("the commit failed"))
        else:
            pending.set_result(old if outcome == "released" else outcome)
        for _ in range(200):
            await asyncio.sleep(0.005)
            if not blobs.exists(old):
                break

    asyncio.run(run())
    assert blobs.exists(old) is (outcome != "released")
