"""From an ASGI request body to a committed blob, without blocking the event loop.

Owns: ``write_stream``, the one bridge between async request bodies and the blocking
``BlobWriter``. Chunks are gathered up to ``batch_bytes`` and written in one worker-thread hop,
so the cost of crossing threads stays small and memory stays at about one batch.
Must not: know about HTTP, size limits or Content-MD5 rules; ``check`` carries the caller's.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable

import anyio
import anyio.to_thread

from tessera.blobs.base import BlobRef, BlobStore, BlobWriter
from tessera.blobs.checksums import Digest

__all__ = ["BATCH_BYTES", "write_stream"]

BATCH_BYTES = 1 << 20


def _write_batch(writer: BlobWriter, batch: list[bytes]) -> None:
    """One write per batch: large writes let the writer hash beside the disk write."""
    writer.write(batch[0] if len(batch) == 1 else b"".join(batch))


async def write_stream(
    store: BlobStore,
    body: AsyncIterable[bytes],
    *,
    check: Callable[[Digest], None] | None = None,
    batch_bytes: int = BATCH_BYTES,
) -> BlobRef:
    """Write ``body`` to a new blob and commit it; on any error or cancellation, discard it.

    ``check(digest)`` runs after the last byte and before the commit (a Content-MD5 or
    length check, say); whatever it raises aborts the write and propagates. The commit itself
    is shielded from cancellation, so a returned ref is always durable and never lost.
    """
    writer = await anyio.to_thread.run_sync(store.open_writer)
    try:
        await _pump(writer, body, batch_bytes)
        if check is not None:
            check(writer.digest())
        with anyio.CancelScope(shield=True):
            ref = await anyio.to_thread.run_sync(writer.commit)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.abort)
        raise
    return ref


async def _pump(writer: BlobWriter, body: AsyncIterable[bytes], batch_bytes: int) -> None:
    batch: list[bytes] = []
    pending = 0
    async for chunk in body:
        if not chunk:
            continue
        batch.append(chunk)
        pending += len(chunk)
        if pending >= batch_bytes:
            await anyio.to_thread.run_sync(_write_batch, writer, batch)
            batch, pending = [], 0
    if batch:
        await anyio.to_thread.run_sync(_write_batch, writer, batch)
