"""What an OSS operation receives and returns: ``OssRequest``, ``OssResponse``, ``OssContext``.

Owns: the per-request record the pipeline (``oss.app``) fills in before an operation runs, the
response record operations hand back (a small body or a blob reader to stream), the services an
operation may use, and the small header helpers they share (RFC 1123 dates, quoted ETags, body
streaming from ASGI ``receive``).
Must not: authenticate, authorize or render errors; that is ``oss.app``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, TypeVar

from tessera.asgi import Receive
from tessera.blobs import BlobReader, BlobStore
from tessera.errors import InvalidArgument, MissingArgument, RequestTooLarge
from tessera.identity.model import Caller
from tessera.store.oss_base import Bucket, ObjectMeta, OssMetadataStore

from .addressing import Address
from .routing import Route
from .xml import Owner

T = TypeVar("T")

__all__ = [
    "MAX_OBJECT_BYTES",
    "SMALL_BODY_BYTES",
    "OssContext",
    "OssRequest",
    "OssResponse",
    "Prefetched",
    "free_when_committed",
    "http_date",
    "quoted",
    "settle",
    "xml_response",
]


#: The largest single PutObject body (spec 7.1: 5 GB).
MAX_OBJECT_BYTES = 5 * 1024**3


def http_date(epoch: float) -> str:
    """RFC 1123 in GMT: ``Wed, 28 Dec 2022 10:27:41 GMT`` (whole seconds, as HTTP has)."""
    return _http_date(int(epoch))


@functools.lru_cache(maxsize=1024)
def _http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


def quoted(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


@dataclass(frozen=True, slots=True)
class OssContext:
    """The services operations use; ``region`` is the server's own (``cn-hangzhou``)."""

    store: OssMetadataStore
    blobs: BlobStore
    region: str


@dataclass(frozen=True, slots=True)
class Prefetched:
    """The addressed object as read together with its bucket (``meta`` None: no such object;
    ``body``: its inline body, when asked for and kept inline)."""

    meta: ObjectMeta | None
    body: bytes | None = None


@dataclass(slots=True)
class OssRequest:
    """One OSS request after addressing, routing, authentication and bucket lookup.

    ``params`` holds the last value of each query parameter; ``endpoint`` is
    ``scheme://host[:port]`` of this server as the client reached it (for ListBuckets)."""

    method: str
    headers: dict[str, str]
    query: tuple[tuple[str, str], ...]
    params: dict[str, str]
    address: Address
    route: Route
    receive: Receive
    now: float
    endpoint: str
    caller: Caller | None = None
    bucket: Bucket | None = None
    #: the query string as sent (``query`` is its decoded form); None when not known
    raw_query: str | None = None
    #: GetObject / HeadObject: the object read in the same statement as the bucket, before
    #: authorization (None for other routes); an operation takes it once (``take_prefetched``)
    prefetched: Prefetched | None = None

    def take_prefetched(self) -> Prefetched | None:
        """The prefetched object, once: a second read (a retry) goes to the store."""
        found, self.prefetched = self.prefetched, None
        return found

    @property
    def bucket_name(self) -> str:
        assert self.address.bucket is not None
        return self.address.bucket

    @property
    def key(self) -> str:
        assert self.address.key is not None
        return self.address.key

    def owner(self) -> Owner:
        account = self.bucket.owner_account_id if self.bucket else ""
        if not account and self.caller is not None:
            account = self.caller.account_id
        return Owner(account, account)

    def declared_length(self) -> int | None:
        text = self.headers.get("content-length", "")
        if text.isdecimal():  # the common form, as sent (ASCII digits: headers are latin-1)
            return int(text)
        text = text.strip()
        return int(text) if text.isdecimal() else None

    def require_length(self) -> None:
        """Object content needs a declared size: ``Content-Length`` or chunked transfer
        encoding; a bare PUT is ``MissingContentLength`` (411), not an empty object."""
        if self.declared_length() is None and "transfer-encoding" not in self.headers:
            raise MissingArgument("Content-Length")

    async def body_chunks(self, limit: int = MAX_OBJECT_BYTES) -> AsyncIterator[bytes]:
        """The request body as it arrives, refusing more than ``limit`` bytes."""
        end = self._body_end(limit)
        if end == 0:
            return
        size = 0
        while True:
            chunk, more, size = _chunk_of(await self.receive(), size, limit)
            if chunk:
                yield chunk
            if not more or size == end:
                return

    async def read_body(self, limit: int) -> bytes:
        """The whole body, refusing more than ``limit`` bytes; ``body_chunks`` without an
        async generator (a small body is one message, read on every small PUT)."""
        end = self._body_end(limit)
        if end == 0:
            return b""
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk, more, size = _chunk_of(await self.receive(), size, limit)
            chunks.append(chunk)
            if not more or size == end:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _body_end(self, limit: int) -> int | None:
        """Where the body ends: 0 for no body, the ``Content-Length`` when it frames the
        body, None for a chunked body (read until the server says it has ended). Once a
        framed body's bytes are all in, the readers stop without asking for the end: granian
        reports it in a message of its own, a round trip through its thread that cost ~20 µs
        of CPU per 4 KiB PUT on a bare granian app. With ``Transfer-Encoding`` the server
        frames the body by its chunks and ``Content-Length`` says nothing."""
        declared = self.declared_length()
        if declared is not None and declared > limit:
            raise RequestTooLarge(limit)
        if declared == 0:
            return 0
        if "transfer-encoding" in self.headers:
            return None
        return declared or 0


def _chunk_of(message: Mapping[str, Any], size: int, limit: int) -> tuple[bytes, bool, int]:
    """A body message's bytes, whether more follow, and the body's size so far (more than
    ``limit`` is refused)."""
    if message["type"] == "http.disconnect":  # the client left mid-body: never a complete
        # body (a truncated upload must not be stored as if it were whole)
        raise InvalidArgument(
            "Content-Length", message="The request body ended before Content-Length."
        )
    chunk: bytes = message.get("body", b"")
    size += len(chunk)
    if size > limit:
        raise RequestTooLarge(limit)
    return chunk, message.get("more_body", False), size


@dataclass(slots=True)
class OssResponse:
    """``body`` is sent as is; with ``stream`` the reader's bytes are sent instead and
    ``Content-Length`` is the reader's length. ``length`` overrides Content-Length (HEAD)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: BlobReader | None = None
    length: int | None = None

    @property
    def content_length(self) -> int:
        if self.length is not None:
            return self.length
        return self.stream.length if self.stream is not None else len(self.body)


def xml_response(body: bytes, status: int = 200) -> OssResponse:
    return OssResponse(status, [("Content-Type", "application/xml")], body)


#: Bodies up to this size are read whole and stored inline beside their metadata row (one
#: group-committed transaction, awaited by the loop); reads up to this size are done inline
#: on the event loop.
SMALL_BODY_BYTES = 1 << 16


async def in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking store/blob work in the loop's default thread pool.

    What stays inline instead: point reads of the metadata store (one row by primary key:
    SQLite in WAL mode never makes a reader wait for a writer, and such a read costs ~10 µs
    where a hop costs ~150 µs of CPU and a loop wake-up) and reads of blobs up to
    ``SMALL_BODY_BYTES`` (a page-cache ``pread``, as nginx does on its event loop). Blob-file
    writes (fsync), listings and large blob transfers always hop; a small PutObject awaits
    the store's commit queue instead (``submit_put_object``).

    Plain ``run_in_executor``: anyio's ``to_thread`` (what Starlette's ``run_in_threadpool``
    uses) spent a third of a small GET's CPU on task lookups, capacity limiters and cancel
    scopes (py-spy, bench/oss.py)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))


#: settle steps still running after their request was cancelled (held so none is collected)
_SETTLING: set[asyncio.Future[Any]] = set()


def _keep(step: asyncio.Future[Any]) -> None:
    _SETTLING.add(step)
    step.add_done_callback(_forget)


def _forget(step: asyncio.Future[Any]) -> None:
    _SETTLING.discard(step)
    if not step.cancelled():
        step.exception()  # retrieved: when its request is gone, nobody else will (no warning)


async def settle(
    blobs: BlobStore,
    write: Callable[[], T],
    released: Callable[[T], Iterable[str | None]],
    *,
    adds: str | None = None,
) -> T:
    """Commit the metadata ``write`` (in a worker thread), then delete the blob files it
    ``released``; if the write fails, delete instead the new blob it would have made live
    (``adds``). The step runs to its end even if the request is cancelled meanwhile (a client
    gone, a shutdown): otherwise a row could be left pointing at a blob deleted under it, or a
    released blob left behind until the next start-up sweep."""

    async def step() -> T:
        try:
            result = await in_thread(write)
        except BaseException:
            if adds:
                await in_thread(blobs.delete, adds)
            raise
        for blob_id in released(result):
            if blob_id:
                await in_thread(blobs.delete, blob_id)
        return result

    running = asyncio.ensure_future(step())
    _keep(running)
    return await asyncio.shield(running)


def free_when_committed(blobs: BlobStore, pending: asyncio.Future[str | None]) -> None:
    """For a write whose awaiting request was cancelled: once it is done, delete the blob
    file it released (on the loop's thread pool; if the loop is gone by then, the start-up
    sweep finds the file)."""

    def free(done: asyncio.Future[str | None]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        blob_id = done.result()
        if blob_id:
            _keep(done.get_loop().run_in_executor(None, blobs.delete, blob_id))

    pending.add_done_callback(free)
